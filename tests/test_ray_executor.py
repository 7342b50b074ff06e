"""The Ray executor (issue 22): an offline index built with ``executor.kind: ray`` equals the local one,
and a Ray worker killed mid-run only costs its own batch. Ray is started by the test on this machine with
2 CPUs; nothing leaves 127.0.0.1."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from conftest import TEST_API_KEY
from query_fixtures import offline_settings
from support.projects import write_project
from support.server import TestLLMServer

from graphrag_lite.api.facade import GraphRAG
from graphrag_lite.config import load_settings
from graphrag_lite.index.executor import LocalExecutor, RateLimiter, RayExecutor
from graphrag_lite.store.tables import read_records
from graphrag_lite.store.vectors import VectorStore

ray = pytest.importorskip("ray", reason="the ray extra is not installed")

EXCERPT = Path(__file__).parent / "data" / "carol_excerpt.txt"
LIVENESS_S = 120.0


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    try:
        yield
    finally:
        ray.shutdown()


def _tables(output: Path) -> dict[str, list[dict[str, object]]]:
    names = ("entities", "relationships", "communities", "community_reports", "text_units")
    return {name: [asdict(r) for r in read_records(output, name)] for name in names}


def _vectors(output: Path) -> dict[str, tuple[list[str], np.ndarray]]:
    store = VectorStore(output / "lancedb")
    found = {}
    for table in ("text_units", "entities", "community_reports"):
        rows = store.columns(table, ["id", "vector"]).sort_by("id")
        found[table] = (rows["id"].to_pylist(), np.array(rows["vector"].to_pylist(), dtype=np.float32))
    return found


def test_a_ray_index_equals_the_local_one(local_ray: None, tmp_path: Path) -> None:
    text = EXCERPT.read_text(encoding="utf-8")
    built, vectors = {}, {}
    for kind in ("local", "ray"):
        root = write_project(
            tmp_path / kind, {"carol.txt": text}, f"executor:\n  kind: {kind}\n  batch_size: 8\n"
        )
        settings = offline_settings(root)
        with GraphRAG(root, settings=settings) as rag:
            report = rag.index(method="fast")
        for name in ("extract_graph_nlp", "embed"):
            assert next(s for s in report.steps if s.name == name).stats["executor"] == kind
        built[kind] = _tables(settings.output_path)
        vectors[kind] = _vectors(settings.output_path)
    assert built["ray"] == built["local"]
    assert len(built["ray"]["entities"]) > 20
    # The embed step ran on Ray workers too: the same rows, and the same vectors up to float rounding.
    for table, (ids, matrix) in vectors["local"].items():
        ray_ids, ray_matrix = vectors["ray"][table]
        assert ray_ids == ids and len(ids) > 0
        assert np.allclose(ray_matrix, matrix, atol=1e-5)


def test_a_killed_worker_costs_only_its_own_batch(local_ray: None, tmp_path: Path) -> None:
    marks = tmp_path / "attempts"
    marks.mkdir()
    victim = 2

    def work(batch: list[int]) -> list[int]:  # defined here so Ray ships it by value to its workers
        index = batch[0] // 10
        attempt = len(list(marks.glob(f"{index}-*"))) + 1
        (marks / f"{index}-{attempt}-{os.getpid()}").touch()
        if index == victim and attempt == 1:
            time.sleep(LIVENESS_S)  # killed long before this ends
        return [n * 2 for n in batch]

    def kill_the_victim() -> None:
        deadline = time.monotonic() + LIVENESS_S
        while time.monotonic() < deadline:
            started = list(marks.glob(f"{victim}-1-*"))
            if started:
                os.kill(int(started[0].name.split("-")[2]), signal.SIGKILL)
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=kill_the_victim, daemon=True)
    watcher.start()
    batches = [[10 * b + i for i in range(3)] for b in range(6)]
    results = dict(RayExecutor(max_in_flight=2).map(work, batches))
    watcher.join(timeout=LIVENESS_S)
    assert results == {b: [2 * n for n in batch] for b, batch in enumerate(batches)}
    attempts = {b: len(list(marks.glob(f"{b}-*"))) for b in range(len(batches))}
    assert attempts[victim] == 2  # the killed batch ran again on a new worker...
    assert all(attempts[b] == 1 for b in attempts if b != victim)  # ...and no finished batch did


def test_local_executor_and_settings() -> None:
    assert list(LocalExecutor().map(lambda b: [x + 1 for x in b], [[1], [2, 3]])) == [(0, [2]), (1, [3, 4])]
    settings = load_settings(Path(__file__).parent, {"executor.kind": "ray", "executor.ray_address": "auto"})
    assert settings.executor.kind == "ray" and settings.executor.ray_address == "auto"


def test_the_rate_limiter_spaces_requests_for_every_worker() -> None:
    now = [100.0]
    limiter = RateLimiter(requests_per_minute=60, tokens_per_minute=600, clock=lambda: now[0])
    assert limiter.reserve(5) == 0.0  # the first request goes at once
    assert limiter.reserve(5) == pytest.approx(1.0)  # 60 per minute: one a second
    assert limiter.reserve(300) == pytest.approx(2.0)
    assert limiter.reserve(5) == pytest.approx(32.0)  # 300 tokens used half a minute of 600 per minute
    now[0] += 100.0
    assert limiter.reserve(5) == 0.0  # an idle limiter does not save up a burst
    assert limiter.count() == 5


def _standard_project(root: Path, server: TestLLMServer, executor: str) -> Path:
    text = EXCERPT.read_text(encoding="utf-8")[:20_000]
    return write_project(
        root,
        {"carol.txt": text},
        f"llm:\n  api_base: {server.base_url}\n  model: test-model\n  request_timeout: 10\n"
        f"  requests_per_minute: {RPM}\nexecutor:\n  kind: {executor}\n  batch_size: 4\n",
    )


RPM = 400  # 0.15 s between requests: slow enough to see, fast enough for the suite


def test_llm_steps_on_ray_equal_local_and_keep_the_rate_limit(
    local_ray: None, llm_server: TestLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRAPHRAG_API_KEY", TEST_API_KEY)
    built = {}
    for kind in ("local", "ray"):
        root = _standard_project(tmp_path / kind, llm_server, kind)
        started = time.time()
        with GraphRAG(root) as rag:
            report = rag.index(method="standard")
        for name in ("extract_graph", "summarize_descriptions", "community_reports"):
            step = next(s for s in report.steps if s.name == name)
            assert not step.failures, name
        assert next(s for s in report.steps if s.name == "extract_graph").stats["executor"] == kind
        calls = [e for e in llm_server.log if e.timestamp >= started and e.path.endswith("/chat/completions")]
        assert len(calls) >= 10
        if kind == "ray":
            # Extraction, summaries and reports all ran on Ray workers behind the shared limiter: the last
            # request cannot have come before (n - 1) slots passed (a lower bound: load only makes it
            # later). The local limiter (aiolimiter) allows a burst up to the per-minute rate instead.
            assert max(e.timestamp for e in calls) - started >= (len(calls) - 1) * 60 / RPM - 0.05
        built[kind] = _tables(root / "output")
    assert built["ray"] == built["local"]
