"""The analyst walkthrough (examples/christmas_carol/walkthrough.py), step by step, on the opening of the
test excerpt (character list and the start of STAVE ONE): offline index, the four search methods, the
pandas recipes and the GraphML round trip."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
EXCERPT = Path(__file__).parent / "data" / "carol_excerpt.txt"
OPENING_CHARS = 12_000  # about 12 text units: enough for communities at several levels, quick to embed
QUESTIONS = {
    "global": "What are the main themes of the story?",
    "local": "Who is Tiny Tim's father?",
    "drift": "How is Scrooge connected to Marley?",
    "basic": "Who signed the register of Marley's burial?",
}


def _load_walkthrough() -> ModuleType:
    path = REPO / "examples" / "christmas_carol" / "walkthrough.py"
    spec = importlib.util.spec_from_file_location("carol_walkthrough", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


walkthrough = _load_walkthrough()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("walkthrough") / "carol"
    (root / "input").mkdir(parents=True)
    text = EXCERPT.read_text(encoding="utf-8")
    cut = text.rfind("\n\n", 0, OPENING_CHARS)
    (root / "input" / "carol_opening.txt").write_text(text[:cut], encoding="utf-8")
    with walkthrough.open_project(root) as rag:
        report = walkthrough.build_index(rag)
        results = walkthrough.ask_each_way(rag, QUESTIONS)
    return {"root": root, "report": report, "results": results, "tables": walkthrough.load_tables(root)}


def test_offline_switch_ignores_a_configured_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project_root = walkthrough.copy_example(tmp_path / "copy")
    assert (project_root / "input" / "a_christmas_carol.txt").is_file()
    assert not (project_root / "output").exists()
    monkeypatch.setenv("GRAPHRAG_API_KEY", "sk-would-cost-money")
    assert walkthrough.open_project(project_root, offline=False).settings.llm.configured
    assert not walkthrough.open_project(project_root).settings.llm.configured


def test_each_method_answers_from_the_text(project: dict[str, Any]) -> None:
    assert project["report"].workflow == "fast"
    results = project["results"]
    assert list(results) == list(QUESTIONS)
    for method, result in results.items():
        assert result.method == method
        assert result.extractive and result.llm_calls == 0
        assert result.answer.startswith("Extractive answer")
        assert result.document_titles == ["carol_opening"], method
    assert "Bob Cratchit" in results["local"].answer
    assert "The register of his burial was signed" in results["basic"].answer
    tree = results["drift"].extra["tree"]
    assert tree["question"] == QUESTIONS["drift"] and tree["children"]
    assert results["drift"].extra["follow_ups_answered"] >= 1


def test_pandas_recipes(project: dict[str, Any]) -> None:
    tables = project["tables"]
    entities = tables["entities"]
    top = walkthrough.top_entities(tables, 5)
    assert top["title"][0] == "Ebenezer Scrooge"
    assert list(top["degree"]) == sorted(entities["degree"], reverse=True)[:5]

    sizes = walkthrough.community_sizes(tables)
    communities = tables["communities"]
    assert list(sizes.index) == sorted(communities["level"].unique())
    assert sizes["communities"].sum() == len(communities)
    level0 = communities[communities["level"] == 0]
    assert level0["size"].sum() == len(entities), "level 0 partitions every entity"

    reports = walkthrough.level_reports(tables, level=0, n=3)
    assert list(reports["size"]) == sorted(level0["size"], reverse=True)[:3]
    assert reports["title"].str.len().gt(0).all()
    assert "Scrooge" in " ".join(reports["title"])


def test_units_mentioning_scrooge_and_marley(project: dict[str, Any]) -> None:
    tables = project["tables"]
    assert "Jacob Marley" in set(walkthrough.entities_named(tables, "marley")["title"])
    together = walkthrough.units_mentioning_both(tables, "Scrooge", "Marley")
    units = tables["text_units"].set_index("id")
    assert 0 < len(together) < len(units)
    assert list(together["chunk_index"]) == sorted(together["chunk_index"])
    # The character list names "the firm of Scrooge and Marley"; a unit about neither is never listed.
    assert 0 in set(together["chunk_index"])
    for unit_id in together["id"]:
        text = units.loc[unit_id, "text"].lower()
        assert ("scrooge" in text or "ebenezer" in text) and ("marley" in text or "jacob" in text)


def test_graphml_has_the_tables_nodes_and_edges(project: dict[str, Any]) -> None:
    tables = project["tables"]
    path, graph = walkthrough.export_and_load_graphml(project["root"])
    assert path == project["root"] / "output" / "graph.graphml"
    entities, relationships = tables["entities"], tables["relationships"]
    assert graph.number_of_nodes() == len(entities)
    assert graph.number_of_edges() == len(relationships)
    assert set(graph.nodes) == set(entities["title"])
    degree = dict(zip(entities["title"], entities["degree"], strict=True))
    scrooge = graph.nodes["Ebenezer Scrooge"]
    assert scrooge["degree"] == degree["Ebenezer Scrooge"] == graph.degree["Ebenezer Scrooge"]
    scrooge_id = scrooge["entity_id"]
    level0 = tables["communities"].query("level == 0")
    home = level0[level0["entity_ids"].map(lambda ids: scrooge_id in set(ids))]
    assert scrooge["community_level_0"] == home["id"].item()
