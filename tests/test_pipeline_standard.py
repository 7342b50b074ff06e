"""The standard (LLM) pipeline end to end over HTTP to the test server (kill and resume: test_kill_resume)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import TEST_API_KEY
from support.server import TestLLMServer

from graphrag_lite.api.facade import GraphRAG
from graphrag_lite.store.tables import REQUIRED_COLUMNS, read_table

EXCERPT = Path(__file__).parent / "data" / "carol_excerpt.txt"
TABLES = ("documents", "text_units", "entities", "relationships", "communities", "community_reports")


def _project(root: Path, server: TestLLMServer, extra: str = "") -> Path:
    (root / "input").mkdir(parents=True)
    shutil.copyfile(EXCERPT, root / "input" / "carol.txt")
    (root / "settings.yaml").write_text(
        f"llm:\n  api_base: {server.base_url}\n  model: test-model\n  request_timeout: 5\n  max_retries: 3\n"
        + extra
    )
    return root


def _index(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPHRAG_API_KEY", TEST_API_KEY)
    with GraphRAG(root) as rag:
        report = rag.index(method="standard")
    assert not [f for s in report.steps for f in s.failures]


@pytest.mark.slow
def test_standard_index_over_http_is_complete_and_deterministic(
    llm_server: TestLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _project(tmp_path / "a", llm_server)
    _index(first, monkeypatch)
    assert llm_server.requests("extraction"), "extraction went over HTTP"
    assert llm_server.requests("reports"), "reports went over HTTP"
    output = first / "output"
    for name in TABLES:
        frame = read_table(output, name)
        assert len(frame) > 0, name
        for column in REQUIRED_COLUMNS[name]:
            assert frame[column].notna().all(), f"{name}.{column}"
    assert read_table(output, "communities")["level"].nunique() >= 2
    titles = {t.lower() for t in read_table(output, "entities")["title"]}
    assert any("scrooge" in t for t in titles) and any("marley" in t for t in titles)
    # Communities of fewer than reports.min_community_size (4) entities get the extractive report.
    communities = read_table(output, "communities")
    sizes = dict(zip(communities["id"], communities["size"], strict=True))
    reports = read_table(output, "community_reports")
    methods = dict(zip(reports["community_id"], reports["method"], strict=True))
    assert {m for c, m in methods.items() if sizes[c] >= 4} == {"llm"}
    assert {m for c, m in methods.items() if sizes[c] < 4} <= {"extractive"}
    # The API key is in no file the engine wrote.
    for path in first.rglob("*"):
        if path.is_file():
            assert TEST_API_KEY.encode() not in path.read_bytes(), path
    # A second project (own cache) gives identical tables.
    second = _project(tmp_path / "b", llm_server)
    _index(second, monkeypatch)
    for name in TABLES:
        pd.testing.assert_frame_equal(read_table(output, name), read_table(second / "output", name), obj=name)
