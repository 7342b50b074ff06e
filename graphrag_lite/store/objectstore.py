"""An index in object storage (s3://, gs://, az://, file://): immutable versions named by one manifest.

Indexing still happens in the local working copy (``output/``); a finished run is then *published*:
every file goes under ``<base>/versions/<version>/`` (files unchanged since the last version are copied
inside the store, not uploaded again) and only then ``<base>/CURRENT.json`` is replaced to name the new
version. That last write is a single PUT, which every object store applies atomically, so a reader sees
the previous complete index or the new one, never a mix: readers read the manifest once and afterwards only
files of its version, which never change. The last ``storage.keep_versions`` versions are kept, so a reader
that opened the previous one can finish.

Before an index or update, the working copy is brought to the published version (*pulled*) unless it
already is that version, in which case unpublished work of a killed run there is resumed. If another
machine published in between, publishing refuses rather than overwrite its version.

Filesystems come from fsspec (``s3fs`` for s3://: ``pip install graphrag-lite[s3]``); credentials and
endpoints come from the environment only (``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``, ...), never from a
settings file. LanceDB opens the vectors of a version with its own object-store support.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphrag_lite.errors import ConfigError, IndexNotFoundError, StorageError
from graphrag_lite.store.atomic import atomic_write_json, read_json

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

log = logging.getLogger(__name__)

MANIFEST = "CURRENT.json"
VERSIONS = "versions"
LOCAL_MARK = ".published.json"  # in the working copy: the version it holds (pulled or published)
# Never published: the run lock, the working copy's own mark, and temporary files of atomic writes.
_LOCAL_ONLY = {".index.lock", ".index.lock.json", LOCAL_MARK}
_EXTRAS = {
    "s3": "s3",
    "s3a": "s3",
    "gs": "gcs",
    "gcs": "gcs",
    "az": "azure",
    "abfs": "azure",
    "abfss": "azure",
}


def is_remote(location: Path | str) -> bool:
    """Whether ``location`` is an object-store URI rather than a local path."""
    return isinstance(location, str) and "://" in location


@dataclass(frozen=True)
class Manifest:
    """What ``CURRENT.json`` says: the version readers should open and the files it holds."""

    version: str
    files: dict[str, str]  # relative path -> sha256 of its content
    published: float
    history: list[str] = field(default_factory=list)  # earlier versions, newest first

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "files": self.files,
            "published": self.published,
            "history": self.history,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str) -> Manifest:
        try:
            return cls(
                str(data["version"]), dict(data["files"]), float(data["published"]), list(data["history"])
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StorageError(
                f"{source} is not a graphrag-lite manifest ({exc!r}). Was the prefix used by something else?"
            ) from exc


def _filesystem(uri: str) -> tuple[AbstractFileSystem, str]:
    scheme = uri.split("://", 1)[0].lower()
    try:
        from fsspec.core import url_to_fs

        # Object stores have no folders; a local file:// store needs them made on write.
        fs, path = url_to_fs(uri, **({"auto_mkdir": True} if scheme in ("file", "local") else {}))
    except ImportError as exc:
        extra = _EXTRAS.get(scheme, "s3")
        raise ConfigError(
            f"storage.base_dir is {uri}, but the {scheme}:// filesystem is not installed ({exc}). Install "
            f"it: pip install 'graphrag-lite[{extra}]'."
        ) from exc
    except ValueError as exc:
        raise ConfigError(f"storage.base_dir {uri}: {exc}. Use s3://, gs://, az:// or file://.") from exc
    return fs, str(path).rstrip("/")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def local_files(output: Path) -> dict[str, str]:
    """The working copy's files to publish (relative path -> sha256), sorted."""
    files: dict[str, str] = {}
    for path in sorted(output.rglob("*")):
        if not path.is_file() or path.name in _LOCAL_ONLY or path.name.endswith(".tmp"):
            continue
        files[path.relative_to(output).as_posix()] = _sha256(path)
    return files


def version_of(files: dict[str, str]) -> str:
    """A version id from the content: the same files give the same id."""
    digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode("utf-8"))
    return digest.hexdigest()[:16]


class ObjectStoreIndex:
    """The published versions of one index under ``uri``."""

    def __init__(self, uri: str) -> None:
        self.uri = uri.rstrip("/")
        self.fs, self.base = _filesystem(self.uri)

    # -- reading ----------------------------------------------------------------------------------------
    def _manifest_path(self) -> str:
        return f"{self.base}/{MANIFEST}"

    def current(self) -> Manifest | None:
        """The published manifest, or None when nothing was published under this URI yet."""
        path = self._manifest_path()
        try:
            raw = self.fs.cat_file(path)
        except FileNotFoundError:
            return None
        except Exception as exc:  # network, auth, missing bucket: the filesystem's own error types
            raise StorageError(
                f"Cannot read {self.uri}/{MANIFEST}: {exc}. Check the URI and credentials."
            ) from exc
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise StorageError(f"{self.uri}/{MANIFEST} is not valid JSON: {exc}.") from exc
        return Manifest.from_json(data, f"{self.uri}/{MANIFEST}")

    def require(self) -> Manifest:
        manifest = self.current()
        if manifest is None:
            raise IndexNotFoundError(
                f"No index is published at {self.uri} ({MANIFEST} is missing). Build it first: "
                "`graphrag-lite index --root <project>` with storage.base_dir set to that URI."
            )
        return manifest

    def version_path(self, version: str) -> str:
        """The store path (no scheme) of a version's folder."""
        return f"{self.base}/{VERSIONS}/{version}"

    def version_uri(self, version: str) -> str:
        return f"{self.uri}/{VERSIONS}/{version}"

    # -- working copy -----------------------------------------------------------------------------------
    def pull(self, output: Path) -> Manifest | None:
        """Make ``output`` the published version (download it), unless it already is that version."""
        manifest = self.current()
        if manifest is None:
            return None
        mark = read_json(output / LOCAL_MARK, {})
        if mark.get("version") == manifest.version:
            return manifest  # already that version, perhaps with a killed run's work to resume
        staging = output.parent / f".{output.name}.pull"
        shutil.rmtree(staging, ignore_errors=True)
        log.info("downloading index version %s from %s", manifest.version, self.uri)
        source = self.version_path(manifest.version)
        try:
            for rel in manifest.files:
                target = staging / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                self.fs.get_file(f"{source}/{rel}", str(target))
        except Exception as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise StorageError(f"Cannot download {self.version_uri(manifest.version)}: {exc}.") from exc
        output.mkdir(parents=True, exist_ok=True)
        for child in output.iterdir():  # keep the run lock held by this process
            if child.name in _LOCAL_ONLY:
                continue
            shutil.rmtree(child) if child.is_dir() else child.unlink()
        for child in staging.iterdir():
            child.rename(output / child.name)
        staging.rmdir()
        atomic_write_json(output / LOCAL_MARK, {"version": manifest.version, "uri": self.uri})
        return manifest

    def publish(self, output: Path, keep: int = 3) -> Manifest:
        """Upload the working copy as a new version, then point the manifest at it."""
        files = local_files(output)
        version = version_of(files)
        current = self.current()
        if current is not None and current.version == version:
            atomic_write_json(output / LOCAL_MARK, {"version": version, "uri": self.uri})
            return current
        mark = read_json(output / LOCAL_MARK, {})
        if current is not None and mark.get("version") != current.version:
            raise StorageError(
                f"{self.uri} was published by another run (version {current.version}) since this working "
                f"copy ({output}) was pulled. Nothing was overwritten: run the command again to update on "
                "top of it."
            )
        target = self.version_path(version)
        old = current.files if current else {}
        old_root = self.version_path(current.version) if current else ""
        log.info("publishing index version %s to %s (%d files)", version, self.uri, len(files))
        try:
            for rel, digest in files.items():
                if old.get(rel) == digest:
                    self.fs.copy(f"{old_root}/{rel}", f"{target}/{rel}")
                else:
                    self.fs.put_file(str(output / rel), f"{target}/{rel}")
            history = ([current.version, *current.history] if current else [])[: max(keep - 1, 1)]
            manifest = Manifest(version, files, time.time(), history)
            self.fs.pipe_file(self._manifest_path(), json.dumps(manifest.as_json(), indent=1).encode("utf-8"))
        except StorageError:
            raise
        except Exception as exc:
            raise StorageError(
                f"Cannot publish to {self.uri}: {exc}. The previous version is still the current one; the "
                f"working copy in {output} is kept, so running the command again publishes it."
            ) from exc
        atomic_write_json(output / LOCAL_MARK, {"version": version, "uri": self.uri})
        self.prune(manifest, keep)
        return manifest

    def prune(self, manifest: Manifest, keep: int) -> list[str]:
        """Delete versions older than the last ``keep`` (best effort; returns what was deleted)."""
        wanted = {manifest.version, *manifest.history[: keep - 1]}
        root = f"{self.base}/{VERSIONS}"
        try:
            present = [p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(root, detail=False)]
        except FileNotFoundError:
            return []
        gone = sorted(v for v in present if v not in wanted)
        for version in gone:
            try:
                self.fs.rm(self.version_path(version), recursive=True)
            except Exception as exc:  # a later publish prunes it again
                log.warning("could not delete old version %s: %s", self.version_uri(version), exc)
        return gone
