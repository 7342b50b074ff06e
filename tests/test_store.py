"""The storage layer: Parquet tables, atomic writes, LanceDB vectors and the graph, all on real files."""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields
from pathlib import Path
from typing import IO, Any

import networkx as nx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from graphrag_lite.errors import IndexNotFoundError, StorageError
from graphrag_lite.store.atomic import atomic_write, atomic_write_json, atomic_write_text, read_json
from graphrag_lite.store.graph import build_graph, compute_degrees, export_graphml
from graphrag_lite.store.layout import ALL_TABLES
from graphrag_lite.store.records import (
    Community,
    CommunityReport,
    Document,
    Entity,
    Finding,
    Relationship,
    TextUnit,
    UnitContext,
)
from graphrag_lite.store.tables import (
    RECORD_TYPES,
    REQUIRED_COLUMNS,
    SCHEMAS,
    read_records,
    read_table,
    records_to_table,
    table_exists,
    table_path,
    write_table,
)
from graphrag_lite.store.vectors import VectorStore


def _sample() -> dict[str, list[Any]]:
    """Two rows per table: one full (unicode, lists, structs), one with every default / empty value."""
    return {
        "documents": [
            Document(
                "d-1",
                "A Christmas Carol",
                "carol.txt",
                "Marley was dead: to begin with. ☃ café",
                "h1",
                {"author": "Dickens", "year": "1843", "ünï": "ç"},
                ["t-1", "t-2"],
            ),
            Document("d-2", "", "rows.csv:3", "", "h2"),
        ],
        "unit_contexts": [
            UnitContext("t-1", "The opening of A Christmas Carol, where Marley's death is stated — café ☃."),
            UnitContext("t-2", ""),
        ],
        "text_units": [
            TextUnit("t-1", "d-1", 0, "Scrooge and Marley", 4, ["e-1", "e-2"], ["r-1"]),
            TextUnit("t-2", "d-1", 1, "Bob Cratchit — clerk", 5),
        ],
        "entities": [
            Entity(
                "e-1",
                "EBENEZER SCROOGE",
                "person",
                "A miser of London.",
                ["Scrooge", "Mr. Scrooge"],
                ["organization"],
                ["t-1"],
                3,
                2,
            ),
            Entity("e-2", "MARLEY", "person", ""),
        ],
        "relationships": [
            Relationship("r-1", "EBENEZER SCROOGE", "MARLEY", "Former partners.", 2.5, ["t-1"], 3),
            Relationship("r-2", "A", "B", "", 1.0),
        ],
        "communities": [
            Community("c0-1", 0, None, ["c1-1"], ["e-1", "e-2"], ["r-1"], ["t-1"], 2),
            Community("c1-1", 1, "c0-1"),
        ],
        "community_reports": [
            CommunityReport(
                "cr-c0-1",
                "c0-1",
                0,
                "Scrooge & Marley",
                "The firm.",
                [
                    Finding("Partners", "They ran the firm together."),
                    Finding("Ghost — “Marley”", "Returns on Christmas Eve."),
                ],
                7.5,
                "Central to the story.",
                "# Scrooge & Marley\n...",
                "llm",
                "ok",
                "entities",
            ),
            CommunityReport(
                "cr-c1-1",
                "c1-1",
                1,
                "Empty",
                "",
                method="extractive",
                status="failed",
                context_source="sub_reports",
            ),
        ],
    }


# -- tables ------------------------------------------------------------------------------------------


def test_every_schema_matches_its_dataclass_field_for_field() -> None:
    assert set(ALL_TABLES) == set(SCHEMAS) == set(RECORD_TYPES)
    for name in ALL_TABLES:
        assert SCHEMAS[name].names == [f.name for f in fields(RECORD_TYPES[name])], name
        assert "id" in REQUIRED_COLUMNS[name]
    assert "parent" not in REQUIRED_COLUMNS["communities"]
    assert SCHEMAS["community_reports"].field("findings").type == pa.list_(
        pa.struct(
            [
                pa.field("summary", pa.string(), nullable=False),
                pa.field("explanation", pa.string(), nullable=False),
            ]
        )
    )


@pytest.mark.parametrize("name", ALL_TABLES)
def test_round_trip_is_exact(tmp_path: Path, name: str) -> None:
    records = _sample()[name]
    out = tmp_path / "output"
    assert not table_exists(out, name)
    path = write_table(out, name, records)
    assert path == table_path(out, name) == out / f"{name}.parquet"
    assert table_exists(out, name)
    back = read_records(out, name)
    assert back == records
    for record in back:  # lists come back as python lists, not numpy arrays
        for f in fields(record):
            value = getattr(record, f.name)
            assert not isinstance(value, np.ndarray)
    assert pq.read_schema(path).remove_metadata().equals(SCHEMAS[name].remove_metadata())


def test_round_trip_of_specific_values(tmp_path: Path) -> None:
    sample = _sample()
    for name, records in sample.items():
        write_table(tmp_path, name, records)
    doc = read_records(tmp_path, "documents")[0]
    assert doc.metadata == {"author": "Dickens", "year": "1843", "ünï": "ç"}
    assert doc.text.endswith("☃ café")
    community = read_records(tmp_path, "communities")
    assert community[0].parent is None and community[1].parent == "c0-1"
    report = read_records(tmp_path, "community_reports")[0]
    assert report.findings[1] == Finding("Ghost — “Marley”", "Returns on Christmas Eve.")
    assert isinstance(report.findings[0], Finding)


def test_empty_tables_round_trip_with_schema(tmp_path: Path) -> None:
    for name in ALL_TABLES:
        write_table(tmp_path, name, [])
        assert read_records(tmp_path, name) == []
        frame = read_table(tmp_path, name)
        assert list(frame.columns) == SCHEMAS[name].names and len(frame) == 0


def test_read_table_gives_a_dataframe_users_can_query(tmp_path: Path) -> None:
    write_table(tmp_path, "entities", _sample()["entities"])
    frame = read_table(tmp_path, "entities")
    assert frame.loc[frame["title"] == "EBENEZER SCROOGE", "degree"].item() == 2
    assert list(frame.iloc[0]["aliases"]) == ["Scrooge", "Mr. Scrooge"]


def test_writes_are_byte_identical_for_the_same_records(tmp_path: Path) -> None:
    sample = _sample()
    digests = []
    for folder in ("a", "b"):
        for name, records in sample.items():
            write_table(tmp_path / folder, name, records)
        digests.append(
            {n: hashlib.sha256(table_path(tmp_path / folder, n).read_bytes()).hexdigest() for n in ALL_TABLES}
        )
    assert digests[0] == digests[1]


def test_metadata_key_order_does_not_change_the_file(tmp_path: Path) -> None:
    one = Document("d", "t", "s", "x", "h", {"a": "1", "b": "2"})
    two = Document("d", "t", "s", "x", "h", {"b": "2", "a": "1"})
    write_table(tmp_path / "1", "documents", [one])
    write_table(tmp_path / "2", "documents", [two])
    first, second = (table_path(tmp_path / d, "documents").read_bytes() for d in ("1", "2"))
    assert first == second


def test_write_accepts_an_arrow_table_and_conforms_it(tmp_path: Path) -> None:
    table = pa.table(
        {
            "extra": [1],
            "id": ["c0-x"],
            "level": [0],
            "parent": pa.array([None], pa.string()),
            "children": [["c1-y"]],
            "entity_ids": [["e-1"]],
            "relationship_ids": [[]],
            "text_unit_ids": [[]],
            "size": [1],
        }
    )
    write_table(tmp_path, "communities", table)
    assert pq.read_schema(table_path(tmp_path, "communities")).names == SCHEMAS["communities"].names
    assert read_records(tmp_path, "communities") == [Community("c0-x", 0, None, ["c1-y"], ["e-1"], [], [], 1)]


def test_null_in_a_required_column_is_refused_with_the_row(tmp_path: Path) -> None:
    bad = Entity("e-9", None, "person", "no title")  # type: ignore[arg-type]
    with pytest.raises(StorageError, match=r"'title' is null in row 0 \(id 'e-9'\)"):
        write_table(tmp_path, "entities", [bad])
    assert not table_exists(tmp_path, "entities")


def test_wrong_record_type_and_unknown_table_are_refused(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="holds Entity records, but row 0 is Document"):
        records_to_table("entities", _sample()["documents"])
    with pytest.raises(StorageError, match="Unknown table 'nodes'"):
        write_table(tmp_path, "nodes", [])


def test_failed_write_keeps_the_previous_table(tmp_path: Path) -> None:
    write_table(tmp_path, "entities", _sample()["entities"])
    before = table_path(tmp_path, "entities").read_bytes()
    bad = Entity("e-3", "X", "person", "d", frequency="many")  # type: ignore[arg-type]
    with pytest.raises(StorageError, match="column 'frequency' of table 'entities'"):
        write_table(tmp_path, "entities", [*_sample()["entities"], bad])
    assert table_path(tmp_path, "entities").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entities.parquet"]


def test_missing_table_says_which_command_to_run(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text("{}")
    out = tmp_path / "output"
    with pytest.raises(IndexNotFoundError) as info:
        read_records(out, "entities")
    message = str(info.value)
    assert f"{out / 'entities.parquet'} not found" in message
    assert f"graphrag-lite index --root {tmp_path}" in message
    # work/ tables under output/work find the same project root
    with pytest.raises(IndexNotFoundError, match=f"--root {tmp_path}`"):
        read_table(out / "work", "text_units")


def test_corrupt_table_names_the_file_and_says_to_reindex(tmp_path: Path) -> None:
    write_table(tmp_path, "entities", _sample()["entities"])
    path = table_path(tmp_path, "entities")
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(StorageError, match=r"entities\.parquet is not a readable Parquet file.*--force"):
        read_records(tmp_path, "entities")


def test_table_with_missing_columns_is_explained(tmp_path: Path) -> None:
    pq.write_table(pa.table({"id": ["e-1"], "title": ["X"]}), table_path(tmp_path, "entities"))
    with pytest.raises(StorageError, match=r"lacks column\(s\) type, description.*index --root"):
        read_records(tmp_path, "entities")


# -- atomic writes -----------------------------------------------------------------------------------


def test_atomic_json_round_trip_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "stats.json"
    atomic_write_json(target, {"name": "Scrooge ☃", "steps": [1, 2]})
    atomic_write_json(target, {"name": "Marley", "steps": []})
    assert read_json(target, None) == {"name": "Marley", "steps": []}
    assert "Marley" in target.read_text(encoding="utf-8")
    assert [p.name for p in target.parent.iterdir()] == ["stats.json"]
    atomic_write_text(tmp_path / "note.txt", "café")
    assert (tmp_path / "note.txt").read_text(encoding="utf-8") == "café"


def test_unserialisable_json_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "stats.json"
    atomic_write_json(target, {"ok": True})
    with pytest.raises(TypeError):
        atomic_write_json(target, {"ok": False, "bad": object()})
    assert read_json(target, None) == {"ok": True}
    assert [p.name for p in tmp_path.iterdir()] == ["stats.json"]


def test_failure_mid_write_never_exposes_a_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "table.parquet"
    target.write_bytes(b"old complete content")
    seen_during_write: list[list[str]] = []

    def half_then_fail(handle: IO[bytes]) -> None:
        handle.write(b"new partial")
        handle.flush()
        seen_during_write.append(sorted(p.name for p in tmp_path.iterdir()))
        raise RuntimeError("disk full halfway")

    with pytest.raises(RuntimeError, match="halfway"):
        atomic_write(target, half_then_fail)
    assert target.read_bytes() == b"old complete content"
    assert [p.name for p in tmp_path.iterdir()] == ["table.parquet"]
    # while writing, the partial data lived in a hidden temp file no *.parquet / *.json glob can match
    (temp,) = [name for name in seen_during_write[0] if name != "table.parquet"]
    assert temp.startswith(".table.parquet.") and temp.endswith(".tmp")


def test_read_json_default_and_corrupt_file(tmp_path: Path) -> None:
    assert read_json(tmp_path / "missing.json", {"fresh": 1}) == {"fresh": 1}
    (tmp_path / "bad.json").write_text('{"steps": ')
    with pytest.raises(StorageError, match=r"bad\.json is not valid JSON.*delete"):
        read_json(tmp_path / "bad.json", {})


def test_write_error_becomes_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="Cannot write"):
        atomic_write_json(blocker / "inside.json", {})  # parent is a file


# -- vectors -----------------------------------------------------------------------------------------


def _unit(*values: float) -> np.ndarray:
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture
def people(tmp_path: Path) -> VectorStore:
    store = VectorStore(tmp_path / "lancedb")
    vectors = np.stack(
        [
            _unit(1, 0, 0, 0),  # e-scrooge
            _unit(0.9, 0.1, 0, 0),  # e-marley
            _unit(0, 1, 0, 0),  # e-london
            _unit(0.9, 0.1, 0, 0),  # e-jacob: identical to e-marley (tie)
            _unit(0, 0, 1, 0),  # e-tim
        ]
    )
    store.create(
        "entities",
        ["e-scrooge", "e-marley", "e-london", "e-jacob", "e-tim"],
        [
            "Scrooge: a covetous old miser",
            "Marley: the ghost of a dead partner",
            "London: a foggy city",
            "Jacob Marley: a ghost in chains",
            "Tiny Tim: a crippled boy",
        ],
        vectors,
        extra={"type": ["person", "person", "geo", "person", "person"], "level": [0, 1, 2, 3, 4]},
    )
    return store


def test_vector_search_ranks_by_cosine_with_extra_fields(people: VectorStore) -> None:
    hits = people.search("entities", _unit(1, 0, 0, 0), k=3)
    assert [h.id for h in hits] == ["e-scrooge", "e-jacob", "e-marley"]  # equal scores -> by id
    assert hits[0].score == pytest.approx(1.0, abs=1e-6)
    assert hits[1].score == hits[2].score == pytest.approx(0.9 / np.hypot(0.9, 0.1), abs=1e-6)
    assert hits[0].text.startswith("Scrooge") and hits[0].extra == {"type": "person", "level": 0}
    assert people.search("entities", np.array([0, 1, 0, 0], dtype=np.float32), k=1)[0].id == "e-london"


def test_vector_search_filter_on_an_extra_column(people: VectorStore) -> None:
    hits = people.search("entities", _unit(0, 1, 0, 0), k=10, where="type = 'person'")
    assert "e-london" not in {h.id for h in hits} and len(hits) == 4
    assert [h.id for h in people.search("entities", _unit(1, 0, 0, 0), k=2, where="level >= 3")] == [
        "e-jacob",
        "e-tim",
    ]
    with pytest.raises(StorageError, match="where='colour = 1'"):
        people.search("entities", _unit(1, 0, 0, 0), where="colour = 1")


def test_vector_table_bookkeeping(people: VectorStore, tmp_path: Path) -> None:
    assert people.has_table("entities") and not people.has_table("text_units")
    assert people.tables() == ["entities"]
    assert people.count("entities") == 5 and people.dim("entities") == 4
    assert people.ids("entities") == {"e-scrooge", "e-marley", "e-london", "e-jacob", "e-tim"}
    # a second store on the same folder sees the same data (as the query side does)
    assert VectorStore(tmp_path / "lancedb").count("entities") == 5
    with pytest.raises(StorageError, match="Vector table 'text_units' not found"):
        people.search("text_units", _unit(1, 0, 0, 0))
    with pytest.raises(StorageError, match="has 3 dimensions but table 'entities' has 4"):
        people.search("entities", np.ones(3, dtype=np.float32))
    people.drop("entities")
    assert not people.has_table("entities")


def test_upsert_replaces_and_inserts_then_delete(people: VectorStore) -> None:
    people.upsert(
        "entities",
        ["e-tim", "e-fezziwig"],
        ["Tiny Tim: recovers", "Fezziwig: a jovial employer"],
        np.stack([_unit(1, 0, 0, 0), _unit(0, 0, 0, 1)]),
        extra={"type": ["person", "person"], "level": [9, 9]},
    )
    assert people.count("entities") == 6
    tim = next(h for h in people.search("entities", _unit(1, 0, 0, 0), k=6) if h.id == "e-tim")
    assert tim.text == "Tiny Tim: recovers" and tim.score == pytest.approx(1.0, abs=1e-6)
    assert tim.extra["level"] == 9
    people.delete("entities", ["e-marley", "e-jacob", "not-there", "it's"])
    assert people.ids("entities") == {"e-scrooge", "e-london", "e-tim", "e-fezziwig"}
    assert [h.id for h in people.full_text_search("entities", "ghost", k=5)] == []


def test_full_text_search_uses_bm25_and_follows_writes(people: VectorStore) -> None:
    hits = people.full_text_search("entities", "ghost", k=5)
    assert {h.id for h in hits} == {"e-marley", "e-jacob"} and hits[0].score > 0
    assert hits[0].extra["type"] == "person"
    assert people.full_text_search("entities", "What is Scrooge's (old) nature?", k=1)[0].id == "e-scrooge"
    assert [h.id for h in people.full_text_search("entities", "ghost", k=5, where="level = 3")] == ["e-jacob"]
    assert people.full_text_search("entities", "   ") == []
    people.upsert(
        "entities",
        ["e-london"],
        ["London: haunted by a ghost"],
        _unit(0, 1, 0, 0)[None, :],
        extra={"type": ["geo"], "level": [2]},
    )
    assert "e-london" in {h.id for h in people.full_text_search("entities", "haunted", k=5)}


def test_create_validates_rows(tmp_path: Path) -> None:
    store = VectorStore(tmp_path / "db")
    two = np.eye(2, dtype=np.float32)
    with pytest.raises(StorageError, match="Duplicate ids"):
        store.create("t", ["a", "a"], ["x", "y"], two)
    with pytest.raises(StorageError, match="disagree in length"):
        store.create("t", ["a"], ["x", "y"], two)
    with pytest.raises(StorageError, match="NaN"):
        store.create("t", ["a", "b"], ["x", "y"], np.array([[np.nan, 0], [1, 0]], dtype=np.float32))
    with pytest.raises(StorageError, match="reserved"):
        store.create("t", ["a", "b"], ["x", "y"], two, extra={"vector": [1, 2]})
    store.create("t", ["a", "b"], ["x", "y"], two)
    with pytest.raises(StorageError, match="already exists"):
        store.create("t", ["c"], ["z"], two[:1], overwrite=False)
    with pytest.raises(StorageError, match="3 dimensions but the table has 2"):
        store.upsert("t", ["c"], ["z"], np.ones((1, 3), dtype=np.float32))


def test_empty_table_then_upsert(tmp_path: Path) -> None:
    store = VectorStore(tmp_path / "db")
    store.create(
        "community_reports",
        [],
        [],
        np.zeros((0, 3), dtype=np.float32),
        extra={"community_id": [], "level": []},
    )
    assert store.count("community_reports") == 0
    assert store.search("community_reports", np.ones(3, dtype=np.float32)) == []
    assert store.full_text_search("community_reports", "anything") == []
    store.upsert(
        "community_reports",
        ["cr-1"],
        ["Report about ghosts"],
        np.ones((1, 3), dtype=np.float32),
        extra={"community_id": ["c0-1"], "level": ["0"]},
    )
    hit = store.full_text_search("community_reports", "ghosts")[0]
    assert (hit.id, hit.extra) == ("cr-1", {"community_id": "c0-1", "level": "0"})


def test_many_equal_scores_still_break_ties_by_id(tmp_path: Path) -> None:
    store = VectorStore(tmp_path / "db")
    ids = [f"id-{i:03d}" for i in range(60)]
    rng = np.random.default_rng(7)
    rng.shuffle(ids)
    store.create("text_units", ids, ["ghost story"] * 60, np.ones((60, 4), dtype=np.float32))
    assert [h.id for h in store.search("text_units", np.ones(4, dtype=np.float32), k=5)] == sorted(ids)[:5]
    assert [h.id for h in store.full_text_search("text_units", "ghost", k=3)] == sorted(ids)[:3]


# -- graph -------------------------------------------------------------------------------------------


def _graph_records() -> tuple[list[Entity], list[Relationship]]:
    entities = [
        Entity("e-1", "SCROOGE", "person", "A miser.", aliases=["Ebenezer", "Mr. Scrooge"], frequency=5),
        Entity("e-2", "MARLEY", "person", "His late partner.", frequency=2),
        Entity("e-3", "LONDON", "geo", "A city.", frequency=1),
        Entity("e-4", "FEZZIWIG", "person", "An old employer; isolated.", frequency=1),
    ]
    relationships = [
        Relationship("r-1", "MARLEY", "SCROOGE", "Partners.", 3.0),
        Relationship("r-2", "LONDON", "scrooge", "Lives in.", 1.0),  # endpoint matched by normalised title
        Relationship("r-3", "BOB CRATCHIT", "SCROOGE", "Clerk of.", 2.0),  # BOB CRATCHIT is no entity
    ]
    return entities, relationships


def test_build_graph_nodes_edges_and_attributes() -> None:
    entities, relationships = _graph_records()
    graph = build_graph(entities, relationships)
    assert list(graph.nodes) == ["SCROOGE", "MARLEY", "LONDON", "FEZZIWIG", "BOB CRATCHIT"]
    assert graph.number_of_edges() == 3
    assert graph.nodes["SCROOGE"]["id"] == "e-1" and graph.nodes["SCROOGE"]["type"] == "person"
    assert graph.nodes["BOB CRATCHIT"]["type"] == "" and graph.nodes["BOB CRATCHIT"]["id"].startswith("e-")
    assert graph.has_edge("LONDON", "SCROOGE") and not graph.has_node("scrooge")
    assert graph.edges["MARLEY", "SCROOGE"] == {"id": "r-1", "weight": 3.0, "description": "Partners."}
    assert graph.degree("FEZZIWIG") == 0


def test_compute_degrees_in_place() -> None:
    entities, relationships = _graph_records()
    compute_degrees(entities, relationships)
    assert {e.title: e.degree for e in entities} == {"SCROOGE": 3, "MARLEY": 1, "LONDON": 1, "FEZZIWIG": 0}
    assert [r.combined_degree for r in relationships] == [4, 4, 4]


def test_graphml_export_round_trip(tmp_path: Path) -> None:
    entities, relationships = _graph_records()
    graph = compute_degrees(entities, relationships)
    graph.nodes["MARLEY"]["note"] = None
    path = export_graphml(graph, tmp_path / "out" / "graph.graphml")
    loaded = nx.read_graphml(path)
    assert loaded.number_of_nodes() == graph.number_of_nodes() == 5
    assert loaded.number_of_edges() == graph.number_of_edges() == 3
    assert loaded.nodes["SCROOGE"]["aliases"] == "Ebenezer;Mr. Scrooge"
    assert loaded.nodes["SCROOGE"]["degree"] == 3 and loaded.nodes["MARLEY"]["note"] == ""
    assert loaded.edges["MARLEY", "SCROOGE"]["weight"] == 3.0
    assert [p.name for p in path.parent.iterdir()] == ["graph.graphml"]


def test_graphml_widens_mixed_attribute_types(tmp_path: Path) -> None:
    graph = nx.Graph()
    graph.add_node("a", score=1, tag="x", meta={"k": "v"})
    graph.add_node("b", score=2.5, tag=3, meta=np.int64(4))
    graph.add_edge("a", "b", weight=np.float32(0.5))
    loaded = nx.read_graphml(export_graphml(graph, tmp_path / "g.graphml"))
    assert loaded.nodes["a"]["score"] == 1.0 and loaded.nodes["b"]["score"] == 2.5
    assert loaded.nodes["b"]["tag"] == "3" and json.loads(loaded.nodes["a"]["meta"]) == {"k": "v"}
    assert loaded.edges["a", "b"]["weight"] == 0.5
