"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Every write goes to a temporary file in the target's folder (same file system, so ``os.replace`` is an
atomic rename), is flushed and fsynced, then renamed over the target. The temporary name starts with a dot
and ends in ``.tmp``, so globs such as ``*.parquet`` or ``*.json`` never pick up a partial file, even one
left behind by a killed process.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from graphrag_lite.errors import StorageError

_umask: int | None = None


def _default_mode() -> int:
    """Permissions a plain ``open(path, "w")`` would give (mkstemp's 0600 would surprise users)."""
    global _umask
    if _umask is None:
        _umask = os.umask(0)
        os.umask(_umask)
    return 0o666 & ~_umask


def _fsync_dir(directory: Path) -> None:
    """Persist the rename itself; best effort (not every platform can open a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path | str, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write`` with a binary file object, then atomically replace ``path`` with what it wrote.

    If ``write`` raises, the temporary file is removed, ``path`` is untouched and the error propagates
    (an ``OSError`` becomes a :class:`StorageError` naming the file).
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else _default_mode()
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise StorageError(f"Cannot write {target}: {exc}. Check that the folder is writable.") from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise StorageError(
                f"Cannot write {target}: {exc}. Check free disk space and permissions; the previous "
                "version of the file (if any) is unchanged."
            ) from exc
        raise
    _fsync_dir(target.parent)


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    def write(handle: IO[bytes]) -> None:
        handle.write(data)

    atomic_write(path, write)


def atomic_write_text(path: Path | str, text: str, encoding: str = "utf-8") -> None:
    atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(path: Path | str, obj: Any, *, indent: int | None = 2, sort_keys: bool = False) -> None:
    """Write ``obj`` as UTF-8 JSON (non-ASCII kept). If it cannot be serialised, ``path`` stays as it was."""

    def write(handle: IO[bytes]) -> None:
        # Serialise fully before writing so a TypeError cannot leave even the temp file half-written.
        text = json.dumps(obj, ensure_ascii=False, indent=indent, sort_keys=sort_keys)
        handle.write(text.encode("utf-8"))
        handle.write(b"\n")

    atomic_write(path, write)


def read_json(path: Path | str, default: Any) -> Any:
    """Parsed JSON from ``path``, or ``default`` when the file does not exist.

    A file that exists but is not valid JSON raises :class:`StorageError` rather than silently turning into
    ``default`` (which would, for example, make the workflow runner forget which steps are done).
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        return default
    except (OSError, UnicodeDecodeError) as exc:
        raise StorageError(f"Cannot read {source}: {exc}. Check its permissions or delete it.") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise StorageError(
            f"{source} is not valid JSON ({exc.msg} at line {exc.lineno}). Fix or delete the file; "
            "graphrag-lite writes it again on the next run."
        ) from exc
