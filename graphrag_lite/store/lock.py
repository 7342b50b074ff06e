"""One index or update at a time per project: a file lock in the output folder (the ``filelock`` library).

A second ``index`` / ``update`` on the same project stops at once with a clear error naming the run that
holds the lock, or, with ``--wait``, waits for it. Queries take no lock: they read the last complete index
(tables are replaced atomically, vectors are committed last). The lock is the operating system's, so it is
released when the holding process ends, even when it is killed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from graphrag_lite.errors import WorkflowError

log = logging.getLogger(__name__)
LOCK_NAME = ".index.lock"
HOLDER_NAME = ".index.lock.json"  # who holds it: pid, command, since


class IndexBusyError(WorkflowError):
    """Another index or update holds the project's lock."""


def _holder(output_dir: Path) -> str:
    try:
        info = json.loads((output_dir / HOLDER_NAME).read_text(encoding="utf-8"))
        since = time.strftime("%H:%M:%S", time.localtime(info["since"]))
        return f"process {info['pid']} ({info['command']}), since {since}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


@contextlib.contextmanager
def project_lock(output_dir: Path, *, wait: bool = False) -> Iterator[None]:
    """Hold the project's index lock; while another run has it, raise IndexBusyError (or, with ``wait``,
    wait for it)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(output_dir / LOCK_NAME))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        holder = _holder(output_dir)
        if not wait:
            raise IndexBusyError(
                f"Another index or update is running on {output_dir.parent}: {holder}. Wait for it to end, "
                "or run again with --wait to start when it does. Queries keep reading the last complete "
                "index."
            ) from None
        log.warning("waiting for the index lock of %s, held by %s", output_dir.parent, holder)
        lock.acquire()
    try:
        info = {"pid": os.getpid(), "command": " ".join(sys.argv[:3]) or "python", "since": time.time()}
        (output_dir / HOLDER_NAME).write_text(json.dumps(info), encoding="utf-8")
        yield
    finally:
        with contextlib.suppress(OSError):
            (output_dir / HOLDER_NAME).unlink()
        lock.release()
