"""Incremental update: add, edit and delete documents, then compare with a fresh index of the final set.

Both methods: the standard one over HTTP to the test server (calls counted from the server log) and the
offline fast one. The update must give the same documents, text units, entities and relationships as a
fresh index, regenerate fewer reports than exist, spend far fewer LLM calls than the fresh index, keep
community ids where membership is unchanged, and leave no dangling id in any table or in LanceDB.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from conftest import TEST_API_KEY
from support.projects import write_project
from support.server import TestLLMServer

from graphrag_lite.api.facade import GraphRAG
from graphrag_lite.store.integrity import dangling_references
from graphrag_lite.store.tables import read_table
from graphrag_lite.workflows.update import UpdateReport

EXCERPT = Path(__file__).parent / "data" / "carol_excerpt.txt"
COMPARED = ("documents", "text_units", "entities", "relationships")

NEW_DOCUMENT = """Mr. Fezziwig kept a warehouse in London, where young Ebenezer Scrooge and Dick Wilkins were
apprentices. Every Christmas Eve Mr. Fezziwig and Mrs. Fezziwig gave a ball for their apprentices and
neighbours. The fiddler played, and Mr. Fezziwig danced with Mrs. Fezziwig until the clock struck eleven.

Belle, a young girl in a mourning-dress, later released Scrooge from his promise to her, for she saw that
Gain had displaced her in his heart. Belle married another man and had many children.
"""

EDIT = """

Fred, the nephew of Scrooge, invited his uncle to Christmas dinner again, and Fred's wife laughed at
Topper, who played blind man's buff with Fred's sister-in-law.
"""


def _parts() -> list[str]:
    """The excerpt cut at paragraph boundaries into a large document and two small ones (85/10/5 %):
    the common case of a corpus where a few documents change."""
    paragraphs = EXCERPT.read_text(encoding="utf-8").split("\n\n")
    cuts = [0, len(paragraphs) * 85 // 100, len(paragraphs) * 95 // 100, len(paragraphs)]
    return ["\n\n".join(paragraphs[start:end]) for start, end in itertools.pairwise(cuts)]


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("id").reset_index(drop=True)


def _assert_same_tables(updated: Path, fresh: Path) -> None:
    for name in COMPARED:
        pd.testing.assert_frame_equal(
            _sorted(read_table(updated / "output", name)),
            _sorted(read_table(fresh / "output", name)),
            obj=name,
        )


@dataclass
class Scenario:
    report: UpdateReport
    root: Path  # indexed with a.txt b.txt c.txt, then updated to a.txt b.txt(edited) d.txt
    fresh: Path  # indexed once with the final documents
    kept_ids: list[str]  # community ids present before and after the update
    requests: dict[str, int]  # server requests per phase: index, update, fresh


def _run_scenario(
    tmp_path: Path, settings: str, method: str, server: TestLLMServer | None = None
) -> Scenario:
    a, b, c = _parts()
    root, fresh = tmp_path / "updated", tmp_path / "fresh"
    requests: dict[str, int] = {}
    seen = 0

    def count(phase: str) -> None:
        nonlocal seen
        total = len(server.log) if server is not None else 0
        requests[phase], seen = total - seen, total

    write_project(root, {"a.txt": a, "b.txt": b, "c.txt": c}, settings)
    with GraphRAG(root) as rag:
        rag.index(method=method)
    count("index")
    old_communities = set(read_table(root / "output", "communities")["id"])
    final = {"a.txt": a, "b.txt": b + EDIT, "d.txt": NEW_DOCUMENT}
    write_project(root, final, settings)
    with GraphRAG(root) as rag:
        report = rag.update()
    count("update")
    write_project(fresh, final, settings)  # its own cache/: every request goes to the server
    with GraphRAG(fresh) as rag:
        rag.index(method=method)
    count("fresh")
    kept = sorted(old_communities & set(read_table(root / "output", "communities")["id"]))
    return Scenario(report, root, fresh, kept, requests)


def _check_common(scenario: Scenario) -> None:
    report, root, fresh = scenario.report, scenario.root, scenario.fresh
    assert report.documents == {"added": ["d.txt"], "changed": ["b.txt"], "deleted": ["c.txt"]}
    _assert_same_tables(root, fresh)
    assert dangling_references(root / "output") == []
    reports = len(read_table(root / "output", "community_reports"))
    regenerated = report.reuse["community_reports"]["computed"]
    assert 0 < regenerated < reports, (regenerated, reports)
    assert scenario.kept_ids, "no community kept its id across the update"
    assert report.community_ids["unchanged"] + report.community_ids["matched"] > 0
    vectors = report.vectors["text_units"]
    assert 0 < vectors["embedded"] < vectors["rows"] and vectors["deleted"] > 0


def test_update_standard_matches_a_fresh_index_and_costs_far_fewer_calls(
    llm_server: TestLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRAPHRAG_API_KEY", TEST_API_KEY)
    settings = f"llm:\n  api_base: {llm_server.base_url}\n  model: test-model\n  request_timeout: 5\n"
    scenario = _run_scenario(tmp_path, settings, "standard", llm_server)
    report, requests = scenario.report, scenario.requests
    assert requests["update"] == report.llm_calls
    assert requests["update"] * 2 < requests["fresh"], requests
    assert report.full_index_llm_requests >= requests["fresh"] * 0.8, (
        report.full_index_llm_requests,
        requests,
    )
    _check_common(scenario)
    assert report.reuse["extract_graph"]["reused"] > 0
    # Nothing changed since: a second update sends nothing and rewrites nothing.
    with GraphRAG(scenario.root) as rag:
        again = rag.update()
    assert len(llm_server.log) == sum(requests.values())
    assert all(step.skipped for step in again.run.steps)


def test_update_fast_matches_a_fresh_index(tmp_path: Path) -> None:
    scenario = _run_scenario(tmp_path, "", "fast")
    _check_common(scenario)
    assert scenario.report.reuse["extract_graph_nlp"]["reused"] > 0
    assert scenario.report.llm_calls == 0
