"""Opening a Microsoft GraphRAG index as it is (issue 25), on a real GraphRAG 3.3.0 project: tests/data/
msgraphrag_carol, a copy of the team's fixture (scripted text, real format; see its README). No test
installs Microsoft GraphRAG."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from support.server import TestLLMServer

from graphrag_lite.api.facade import GraphRAG
from graphrag_lite.errors import ConfigError, GraphRAGError, InputError
from graphrag_lite.store.tables import read_records
from graphrag_lite.workflows.import_index import read_graphrag_ids

FIXTURE = Path(__file__).parent / "data" / "msgraphrag_carol"
THEIR_ROWS = {
    "documents": 1,
    "text_units": 28,
    "entities": 102,
    "relationships": 125,
    "communities": 13,
    "community_reports": 13,
}
METHODS = ("local", "global", "drift", "basic", "graph")


@pytest.fixture(scope="module")
def offline_import(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("imported") / "carol"
    report = GraphRAG.import_index(FIXTURE, root, offline=True)
    assert report.read["covariates"] == 57 and "57 claims (covariates)" in report.dropped
    assert report.vectors.startswith("embedded 143 texts with all-MiniLM-L6-v2")
    return root


def _cited(result: object) -> set[str]:
    """Every id an answer's citations point to: text units, and the reports and entities they came from."""
    found: set[str] = set()
    for citation in result.citations:  # type: ignore[attr-defined]
        found.add(citation.text_unit_id)
        found.update(i for i in (citation.report_id, citation.entity_id) if i)
    return found


def _their(table: str) -> list[dict[str, object]]:
    return pq.read_table(FIXTURE / "output" / f"{table}.parquet").to_pylist()


def test_every_table_keeps_its_rows_and_graphrag_ids(offline_import: Path) -> None:
    output = offline_import / "output"
    for table, count in THEIR_ROWS.items():
        assert len(read_records(output, table)) == count, table
    kept = read_graphrag_ids(output)
    for table in ("entities", "relationships", "community_reports"):
        ours = {r.id for r in read_records(output, table)}
        their_ids = {str(row["id"]) for row in _their(table)}
        mapped = {gid for our_id, (gid, _) in kept.items() if our_id in ours}
        assert mapped == their_ids, table
    # human_readable_id travels too: GraphRAG's "Entities (5)" can be looked up here.
    scrooge = next(e for e in read_records(output, "entities") if e.title == "SCROOGE")
    their_scrooge = next(row for row in _their("entities") if row["title"] == "SCROOGE")
    assert kept[scrooge.id] == (their_scrooge["id"], their_scrooge["human_readable_id"])


def test_the_hierarchy_and_reports_are_theirs(offline_import: Path) -> None:
    output = offline_import / "output"
    communities = {c.id: c for c in read_records(output, "communities")}
    assert {c.level for c in communities.values()} == {0, 1}
    for community in communities.values():
        for child in community.children:
            assert (
                communities[child].parent == community.id and communities[child].level == community.level + 1
            )
    kept = read_graphrag_ids(output)
    reports = {kept[r.id][0]: r for r in read_records(output, "community_reports")}
    for row in _their("community_reports"):
        ours = reports[str(row["id"])]
        assert ours.full_content == row["full_content"] and ours.summary == row["summary"]
        assert ours.rating == row["rank"] and len(ours.findings) == len(row["findings"])  # type: ignore[arg-type]


@pytest.mark.parametrize("method", METHODS)
def test_offline_answers_cite_what_exists(offline_import: Path, method: str) -> None:
    output = offline_import / "output"
    known = {
        r.id for name in ("text_units", "entities", "community_reports") for r in read_records(output, name)
    }
    with GraphRAG(offline_import) as rag:
        result = rag.query("What does Scrooge learn from the spirits?", method)
    assert result.llm_calls == 0 and result.answer
    cited = _cited(result)
    assert cited and cited <= known, cited - known


@pytest.fixture(scope="module")
def served() -> Iterator[TestLLMServer]:
    with TestLLMServer(dim=1536) as server:
        yield server


def test_their_vectors_are_reused_and_answers_come_over_http(
    served: TestLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "carol"
    report = GraphRAG.import_index(FIXTURE, root)
    assert report.vectors.startswith("reused GraphRAG's vectors (text-embedding-3-small, 1536 dimensions)")
    assert not served.log, "the import made no request at all"
    settings = yaml.safe_load((root / "settings.yaml").read_text(encoding="utf-8"))
    assert settings["llm"]["api_key"] == "${GRAPHRAG_API_KEY}"  # a reference, never a key
    assert settings["embeddings"]["model"] == "text-embedding-3-small"
    settings["llm"]["api_base"] = settings["embeddings"]["api_base"] = served.base_url
    (root / "settings.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    monkeypatch.setenv("GRAPHRAG_API_KEY", "sk-test")
    output = root / "output"
    known = {
        r.id for name in ("text_units", "entities", "community_reports") for r in read_records(output, name)
    }
    with GraphRAG(root) as rag:
        for method in METHODS:
            result = rag.query("Who is Marley?", method)
            cited = _cited(result)
            assert result.llm_calls > 0 and cited and cited <= known, (method, cited - known)
    assert (root / "prompts" / "graphrag" / "extract_graph.txt").is_file()  # kept for reference


def test_index_refuses_to_rebuild_an_import_without_force(offline_import: Path) -> None:
    with GraphRAG(offline_import) as rag, pytest.raises(ConfigError, match="pass --force to rebuild"):
        rag.index()


# -- bad input: a clear error naming the problem, and the target untouched ----------------------------------


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "theirs"
    shutil.copytree(FIXTURE, copy)
    for path in copy.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return copy


def _rewrite(path: Path, change: object) -> None:
    table = pq.read_table(path)
    pq.write_table(change(table), path)  # type: ignore[operator]


def _broken_sources(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (source, what the error must say)."""
    cases: dict[str, tuple[Path, str]] = {}
    plain = tmp_path / "plain"
    (plain / "output").mkdir(parents=True)
    (plain / "output" / "notes.txt").write_text("not an index", encoding="utf-8")
    cases["not an output"] = (plain, "is not a GraphRAG output folder")
    missing = _copy(tmp_path / "missing")
    (missing / "output" / "community_reports.parquet").unlink()
    cases["missing table"] = (missing, "missing its community_reports table")
    column = _copy(tmp_path / "column")
    _rewrite(column / "output" / "entities.parquet", lambda t: t.drop_columns(["description"]))
    cases["missing column"] = (column, "has no column 'description'")
    half = _copy(tmp_path / "half")
    data = (half / "output" / "relationships.parquet").read_bytes()
    (half / "output" / "relationships.parquet").write_bytes(data[: len(data) // 2])
    cases["half-written"] = (half, "is not a readable Parquet file")
    join = _copy(tmp_path / "join")

    def orphan(table: object) -> object:
        import pyarrow as pa

        ids = table.column("document_id").to_pylist()  # type: ignore[attr-defined]
        ids[0] = "no-such-document"
        return table.set_column(table.schema.get_field_index("document_id"), "document_id", pa.array(ids))  # type: ignore[attr-defined]

    _rewrite(join / "output" / "text_units.parquet", orphan)
    cases["ids that do not join"] = (join, "do not exist (for example no-such-document)")
    return cases


def test_each_bad_source_names_the_problem_and_leaves_the_target_as_it_was(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    (target / "notes.md").write_text("mine", encoding="utf-8")
    before = sorted(str(p.relative_to(target)) for p in target.rglob("*"))
    for name, (source, message) in _broken_sources(tmp_path).items():
        with pytest.raises(InputError) as failure:
            GraphRAG.import_index(source, target, offline=True)
        assert message in str(failure.value), (name, str(failure.value))
        assert sorted(str(p.relative_to(target)) for p in target.rglob("*")) == before, name
        assert not list(tmp_path.glob(".target.import-*")), "no staging folder is left behind"


def test_an_existing_index_is_not_replaced_without_force(offline_import: Path) -> None:
    with pytest.raises(GraphRAGError, match="already holds an index"):
        GraphRAG.import_index(FIXTURE, offline_import, offline=True)


NEW_FILE = (
    "Captain Nemo steered the Nautilus under the polar ice. Professor Aronnax kept a journal of the voyage, "
    "and Ned Land planned an escape with Conseil. Captain Nemo showed Professor Aronnax the ruins of "
    "Atlantis, and Ned Land and Conseil watched from the Nautilus.\n"
) * 3


def test_update_adds_a_file_and_keeps_every_report_it_does_not_touch(tmp_path: Path) -> None:
    root = tmp_path / "carol"
    GraphRAG.import_index(FIXTURE, root, offline=True)
    output = root / "output"
    before = {r.id: r for r in read_records(output, "community_reports")}
    (root / "input" / "nemo.txt").write_text(NEW_FILE, encoding="utf-8")
    with GraphRAG(root) as rag:
        report = rag.update()
    assert report.documents == {"added": ["nemo.txt"], "changed": [], "deleted": []}
    titles = {e.title.casefold() for e in read_records(output, "entities")}
    assert {"nemo", "ned land", "nautilus"} <= titles, "the new file's entities are in the graph"
    after = {r.id: r for r in read_records(output, "community_reports")}
    kept = [rid for rid, r in before.items() if after.get(rid) == r]
    assert len(kept) == report.reuse["community_reports"]["reused"] == len(before)  # no old report touched
    assert len(after) > len(before), "the new file's entities got a community and a report of their own"
    with GraphRAG(root) as rag:
        answer = rag.query("Who is Captain Nemo?", "local")
    assert any("Nemo" in c.quote for c in answer.citations)


def test_an_update_rewrites_only_the_reports_of_communities_it_touches(tmp_path: Path) -> None:
    root = tmp_path / "carol"
    GraphRAG.import_index(FIXTURE, root, offline=True)
    output = root / "output"
    before = {r.id: r for r in read_records(output, "community_reports")}
    scrooge = next(e.id for e in read_records(output, "entities") if e.title == "SCROOGE")
    (root / "input" / "visit.txt").write_text(
        "Scrooge met Captain Nemo aboard the Nautilus. Scrooge and Nemo spoke of Marley.\n" * 3,
        encoding="utf-8",
    )
    with GraphRAG(root) as rag:
        report = rag.update()
    after = {r.id: r for r in read_records(output, "community_reports")}
    communities = {c.id: c for c in read_records(output, "communities")}
    touched = {rid for rid, r in before.items() if after[rid] != r}
    holding_scrooge = {rid for rid in before if scrooge in communities[after[rid].community_id].entity_ids}
    assert touched and touched <= holding_scrooge, "only communities the new file reaches are rewritten"
    untouched = set(before) - touched
    assert untouched and all(after[rid] == before[rid] for rid in untouched)
    assert report.reuse["community_reports"]["reused"] >= len(untouched)
