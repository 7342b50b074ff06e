"""The offline (fast) pipeline end to end: spaCy, Leiden, extractive reports, MiniLM, LanceDB, Parquet."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from graphrag_lite.api.facade import GraphRAG
from graphrag_lite.store.atomic import read_json
from graphrag_lite.store.tables import REQUIRED_COLUMNS, read_table
from graphrag_lite.store.vectors import VectorStore

EXCERPT = Path(__file__).parent / "data" / "carol_excerpt.txt"
TABLES = ("documents", "text_units", "entities", "relationships", "communities", "community_reports")


def _project(root: Path) -> Path:
    (root / "input").mkdir(parents=True)
    shutil.copyfile(EXCERPT, root / "input" / "carol.txt")
    return root


@pytest.fixture(scope="module")
def fast_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = _project(tmp_path_factory.mktemp("fast") / "carol")
    with GraphRAG(root) as rag:
        report = rag.index(method="fast")
    assert [s.name for s in report.steps][-1] == "embed"
    return root


def test_tables_complete_without_nulls(fast_index: Path) -> None:
    output = fast_index / "output"
    for name in TABLES:
        frame = read_table(output, name)
        assert len(frame) > 0, name
        for column in REQUIRED_COLUMNS[name]:
            assert frame[column].notna().all(), f"{name}.{column} has nulls"
    store = VectorStore(output / "lancedb")
    for name in ("text_units", "entities", "community_reports"):
        assert store.count(name) == len(read_table(output, name))


def test_characters_and_relationships(fast_index: Path) -> None:
    output = fast_index / "output"
    entities = read_table(output, "entities")
    names = {t.lower() for t in entities["title"]} | {a.lower() for al in entities["aliases"] for a in al}
    for expected in ("scrooge", "marley", "bob cratchit", "tiny tim"):
        assert any(expected in n for n in names), expected
    title_of = dict(zip(entities["id"], entities["title"], strict=True))
    relationships = read_table(output, "relationships")
    pairs = {
        frozenset((s.lower(), t.lower()))
        for s, t in zip(relationships["source"], relationships["target"], strict=True)
    }
    scrooge = next(t for t in title_of.values() if "scrooge" in t.lower()).lower()
    assert any(scrooge in p and any("marley" in x for x in p) for p in pairs)


def test_communities_have_levels_and_reports_name_characters(fast_index: Path) -> None:
    output = fast_index / "output"
    communities = read_table(output, "communities")
    assert communities["level"].nunique() >= 2
    entities = read_table(output, "entities")
    level0 = communities[communities["level"] == 0]
    covered = {e for ids in level0["entity_ids"] for e in ids}
    assert covered == set(entities["id"]), "every entity has a level-0 community"
    reports = read_table(output, "community_reports")
    assert set(reports["method"]) == {"extractive"}
    titles = " ".join(reports["title"]).lower()
    assert "scrooge" in titles


def test_stats_record_steps(fast_index: Path) -> None:
    stats = read_json(fast_index / "output" / "stats.json", {})
    assert stats["workflow"] == "fast"
    for step in (
        "load_documents",
        "extract_graph_nlp",
        "prune_graph",
        "create_communities",
        "community_reports",
        "embed",
    ):
        entry = stats["steps"][step]
        assert entry["llm_calls"] == 0
        assert "duration_s" in entry and "rows" in entry
        if sys.platform.startswith("linux"):  # each step's own peak resident set (models/memory.py)
            assert entry["stats"]["peak_rss_mb"] > 0


def test_second_run_skips_and_fresh_run_is_identical(fast_index: Path, tmp_path: Path) -> None:
    with GraphRAG(fast_index) as rag:
        report = rag.index(method="fast")
    assert all(step.skipped for step in report.steps)
    other = _project(tmp_path / "again")
    with GraphRAG(other) as rag:
        rag.index(method="fast")
    for name in TABLES:
        a = read_table(fast_index / "output", name)
        b = read_table(other / "output", name)
        pd.testing.assert_frame_equal(a, b, check_like=False, obj=name)
