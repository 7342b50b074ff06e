"""Indexes in object storage (issue 22): index to ``s3://``, query from another machine's project, update,
and a reader during an update sees the old complete index. Against a real S3-compatible server (moto's,
started by the test on 127.0.0.1); file:// covers the store logic without a server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from query_fixtures import offline_settings
from support.projects import write_project

from graphrag_lite.api.facade import GraphRAG
from graphrag_lite.api.stats import index_summary
from graphrag_lite.errors import ConfigError, IndexNotFoundError, StorageError
from graphrag_lite.store.objectstore import MANIFEST, ObjectStoreIndex
from graphrag_lite.store.reader import IndexReader
from graphrag_lite.workflows.progress import LoggingProgress

pytest.importorskip("s3fs", reason="the s3 extra is not installed")
pytest.importorskip("moto", reason="moto (dev dependency) is not installed")

from support.s3 import S3Server, moto_server

EXCERPT = (Path(__file__).parent / "data" / "carol_excerpt.txt").read_text(encoding="utf-8")
PARTS = [EXCERPT[i : i + 12_000] for i in range(0, 36_000, 12_000)]
BUCKET = "graphrag-test"


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with moto_server() as server:
        yield server


@pytest.fixture
def s3_env(s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    for key, value in s3.env.items():
        monkeypatch.setenv(key, value)
    import fsspec

    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    if not fs.exists(BUCKET):
        fs.mkdir(BUCKET)
    return s3


def _project(root: Path, uri: str, documents: dict[str, str]) -> Path:
    return write_project(root, documents, f"storage:\n  base_dir: {uri}\n")


class _ReadDuringRun(LoggingProgress):
    """When the update reaches its second step, open the published index as a reader would."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.seen: list[int] = []

    def step_started(self, name: str, index: int, count: int) -> None:
        super().step_started(name, index, count)
        if index == 2:
            self.seen.append(len(IndexReader(self.uri).records("documents")))


def test_index_query_and_update_through_s3(s3_env: S3Server, tmp_path: Path) -> None:
    uri = f"s3://{BUCKET}/carol"
    writer = _project(tmp_path / "writer", uri, {"a.txt": PARTS[0], "b.txt": PARTS[1]})
    with GraphRAG(writer, settings=offline_settings(writer)) as rag:
        rag.index(method="fast")
        published = rag.published
    store = ObjectStoreIndex(uri)
    first = store.require()
    assert published == first
    assert "entities.parquet" in first.files and "lancedb/.complete" in first.files

    # Another machine: same settings, no local index at all; it reads tables and vectors from S3.
    reader_root = _project(tmp_path / "reader", uri, {})
    with GraphRAG(reader_root, settings=offline_settings(reader_root)) as rag:
        result = rag.query("Who is Marley?", method="basic")
        assert result.citations and not (reader_root / "output").exists()
    assert index_summary(offline_settings(reader_root))["tables"]["documents"] == 2

    old_reader = IndexReader(uri)  # opened before the update: must stay readable after it
    _project(writer, uri, {"a.txt": PARTS[0], "b.txt": PARTS[1], "c.txt": PARTS[2]})
    watcher = _ReadDuringRun(uri)
    with GraphRAG(writer, settings=offline_settings(writer)) as rag:
        report = rag.update(progress=watcher)
    assert [Path(p).name for p in report.documents["added"]] == ["c.txt"]
    assert watcher.seen == [2], "a reader during the update sees the last complete index"
    second = store.require()
    assert second.version != first.version and second.history[0] == first.version
    assert len(IndexReader(uri).records("documents")) == 3
    assert len(old_reader.records("documents")) == 2
    assert index_summary(offline_settings(reader_root))["tables"]["documents"] == 3


def _file_uri(path: Path) -> str:
    return f"file://{path}"


def test_a_fresh_working_copy_pulls_the_published_version(tmp_path: Path) -> None:
    uri = _file_uri(tmp_path / "store")
    first = _project(tmp_path / "first", uri, {"a.txt": PARTS[0]})
    with GraphRAG(first, settings=offline_settings(first)) as rag:
        rag.index(method="fast")
    # A second machine updates from scratch: it downloads the published index, then indexes only b.txt.
    second = _project(tmp_path / "second", uri, {"a.txt": PARTS[0], "b.txt": PARTS[1]})
    with GraphRAG(second, settings=offline_settings(second)) as rag:
        report = rag.update()
    assert len(report.documents["added"]) == 1 and not report.documents["changed"]
    assert len(IndexReader(uri).records("documents")) == 2
    # The first machine's copy is now behind: its next run pulls before working, so nothing is lost.
    with GraphRAG(first, settings=offline_settings(first)) as rag:
        rag.update()
    assert len(IndexReader(uri).records("documents")) == 1  # its input has only a.txt: b.txt is deleted


def test_publishing_over_a_newer_version_is_refused(tmp_path: Path) -> None:
    uri = _file_uri(tmp_path / "store")
    root = _project(tmp_path / "p", uri, {"a.txt": PARTS[0]})
    with GraphRAG(root, settings=offline_settings(root)) as rag:
        rag.index(method="fast")
    output = offline_settings(root).output_path
    store = ObjectStoreIndex(uri)
    # Someone else published in between (simulated: the manifest names a version this copy never had).
    manifest = json.loads((tmp_path / "store" / MANIFEST).read_text())
    manifest["version"] = "0123456789abcdef"
    (tmp_path / "store" / MANIFEST).write_text(json.dumps(manifest))
    (output / "extra.json").write_text("{}")
    with pytest.raises(StorageError, match="published by another run"):
        store.publish(output)
    assert json.loads((tmp_path / "store" / MANIFEST).read_text())["version"] == "0123456789abcdef"


def test_old_versions_are_pruned_to_keep_versions(tmp_path: Path) -> None:
    uri = _file_uri(tmp_path / "store")
    root = _project(tmp_path / "p", uri, {"a.txt": PARTS[0]})
    output = offline_settings(root).output_path
    output.mkdir(parents=True)
    store = ObjectStoreIndex(uri)
    versions = []
    for n in range(4):
        (output / "stats.json").write_text(json.dumps({"n": n}))
        versions.append(store.publish(output, keep=2).version)
    kept = sorted(p.name for p in (tmp_path / "store" / "versions").iterdir())
    assert kept == sorted(versions[-2:])
    # Unchanged files are copied inside the store, and the same content publishes as the same version.
    assert store.publish(output, keep=2).version == versions[-1]


def test_bad_storage_settings_say_what_to_do(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", {"a.txt": "x"}, "storage:\n  base_dir: my-bucket/prefix\n")
    with pytest.raises(ConfigError, match="not a URI"):
        offline_settings(root)
    nothing = _file_uri(tmp_path / "empty")
    with pytest.raises(IndexNotFoundError, match="No index is published"):
        IndexReader(nothing)
