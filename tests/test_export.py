"""Graph export: GraphML for Gephi and networkx, node-link JSON and CSV, all carrying community attributes.

The index is written by hand with ``write_table`` (see :func:`write_graph_index`, also used by
test_viz.py): 30 entities in 3 level-0 communities, each split into 2 level-1 communities.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import networkx as nx
import pandas as pd
import pytest

from graphrag_lite.api.export import export_graph
from graphrag_lite.errors import IndexNotFoundError, InputError
from graphrag_lite.store import ids
from graphrag_lite.store.graph import compute_degrees
from graphrag_lite.store.records import (
    Community,
    CommunityReport,
    Document,
    Entity,
    Relationship,
    TextUnit,
)
from graphrag_lite.store.tables import write_table

NASTY_TITLE = '</script><script>alert("x")</script> & <!-- Co'
TYPES = ("person", "organization", "geo", "event")


def _title(i: int) -> str:
    return NASTY_TITLE if i == 7 else f"Entity {i:04d}"


def _documents(n_entities: int) -> tuple[list[Document], list[TextUnit]]:
    """Three documents of four text units each; unit c names every 7th entity from c."""
    documents: list[Document] = []
    units: list[TextUnit] = []
    for d in range(3):
        text = f"Document {d} text. " * 20
        sha = ids.content_hash(text)
        doc = Document(ids.document_id(sha), f"Report {d}.txt", f"report_{d}.txt", text, sha)
        for c in range(4):
            chunk = f"Chunk {c} of document {d}: " + " ".join(_title(i) for i in range(c, n_entities, 7))
            units.append(TextUnit(ids.text_unit_id(doc.id, c, chunk), doc.id, c, chunk, 40))
            doc.text_unit_ids.append(units[-1].id)
        documents.append(doc)
    return documents, units


def _pairs(n_entities: int, group_size: int, extra_edges: int, rng: random.Random) -> set[tuple[int, int]]:
    """Rings of half-groups, one edge joining the halves of a group, ``extra_edges`` random pairs."""
    pairs: set[tuple[int, int]] = set()
    halves = [
        list(range(s, min(s + group_size // 2, n_entities))) for s in range(0, n_entities, group_size // 2)
    ]
    for half in halves:
        for k in range(len(half)):
            a, b = half[k], half[(k + 1) % len(half)]
            if a != b:
                pairs.add((min(a, b), max(a, b)))
    for start in range(0, n_entities, group_size):
        if start + group_size // 2 < n_entities:
            pairs.add((start, start + group_size // 2))
    while extra_edges:
        a, b = sorted(rng.sample(range(n_entities), 2))
        if (a, b) not in pairs:
            pairs.add((a, b))
            extra_edges -= 1
    return pairs


def write_graph_index(
    output_dir: Path,
    n_entities: int = 30,
    group_size: int = 10,
    extra_edges: int = 6,
    seed: int = 3,
    with_sources: bool = True,
) -> Path:
    """A consistent hand-made index in ``output_dir``; returns it.

    Entities come in level-0 groups of ``group_size`` (two level-1 halves each); every half is a ring,
    halves of a group are joined by one edge, and ``extra_edges`` random pairs cross the groups. Entity 7
    has a title that would break out of a <script> element if embedded carelessly, and entity 0 has a
    control character XML forbids in its description.
    """
    rng = random.Random(seed)
    output_dir.mkdir(parents=True, exist_ok=True)
    documents, units = _documents(n_entities)

    entities = []
    for i in range(n_entities):
        unit_ids = [u.id for u in units if _title(i) in u.text] or [units[i % len(units)].id]
        description = f"{_title(i)} is entity number {i}." + ("\x0b(bad char)" if i == 0 else "")
        entities.append(
            Entity(
                ids.entity_id(_title(i)),
                _title(i),
                TYPES[i % 4],
                description,
                [f"E{i}"],
                [],
                unit_ids,
                len(unit_ids),
            )
        )

    pairs = _pairs(n_entities, group_size, extra_edges, rng)
    relationships = []
    for a, b in sorted(pairs):
        source, target = sorted((_title(a), _title(b)))
        shared = sorted(set(entities[a].text_unit_ids) & set(entities[b].text_unit_ids))
        relationships.append(
            Relationship(
                ids.relationship_id(source, target),
                source,
                target,
                f"{source} works with {target}.",
                float(1 + (a + b) % 5),
                shared,
            )
        )
    compute_degrees(entities, relationships)

    communities: list[Community] = []
    reports: list[CommunityReport] = []
    for start in range(0, n_entities, group_size):
        members = [e.id for e in entities[start : start + group_size]]
        parent = Community(ids.community_id(0, members), 0, None, [], members, size=len(members))
        communities.append(parent)
        reports.append(
            CommunityReport(ids.report_id(parent.id), parent.id, 0, f"Group {start // group_size}", "s")
        )
        for half_start in (start, start + group_size // 2):
            half = [
                e.id for e in entities[half_start : min(half_start + group_size // 2, start + group_size)]
            ]
            if not half:
                continue
            child = Community(ids.community_id(1, half), 1, parent.id, [], half, size=len(half))
            parent.children.append(child.id)
            communities.append(child)

    if with_sources:
        write_table(output_dir, "documents", documents)
        write_table(output_dir, "text_units", units)
    write_table(output_dir, "entities", entities)
    write_table(output_dir, "relationships", relationships)
    write_table(output_dir, "communities", communities)
    write_table(output_dir, "community_reports", reports)
    return output_dir


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return write_graph_index(tmp_path / "proj" / "output")


def _table_counts(output_dir: Path) -> tuple[int, int]:
    entities = pd.read_parquet(output_dir / "entities.parquet")
    relationships = pd.read_parquet(output_dir / "relationships.parquet")
    return len(entities), len(relationships)


def test_graphml_loads_back_with_same_counts_and_community_attributes(index_dir: Path) -> None:
    [path] = export_graph(index_dir, "graphml", None)
    assert path == index_dir / "graph.graphml"
    graph = nx.read_graphml(path)
    n_entities, n_relationships = _table_counts(index_dir)
    assert (graph.number_of_nodes(), graph.number_of_edges()) == (n_entities, n_relationships) == (30, 39)

    node = graph.nodes["Entity 0012"]
    entities = pd.read_parquet(index_dir / "entities.parquet").set_index("title")
    communities = pd.read_parquet(index_dir / "communities.parquet")
    eid = entities.loc["Entity 0012", "id"]
    expected = {
        level: next(
            row.id for row in communities.itertuples() if row.level == level and eid in row.entity_ids
        )
        for level in (0, 1)
    }
    assert node["community_level_0"] == expected[0] and node["community_level_0"].startswith("c0-")
    assert node["community_level_1"] == expected[1] and node["community_level_1"].startswith("c1-")
    assert node["entity_id"] == eid
    assert node["label"] == "Entity 0012"
    assert node["type"] == "person"
    assert node["degree"] == int(entities.loc["Entity 0012", "degree"]) == graph.degree("Entity 0012")
    assert node["aliases"] == "E12"
    assert node["text_unit_ids"] == ";".join(entities.loc["Entity 0012", "text_unit_ids"])
    # Entities of one level-1 community share its level-0 community too.
    same = [n for n, a in graph.nodes(data=True) if a["community_level_1"] == node["community_level_1"]]
    assert len(same) == 5
    assert {graph.nodes[n]["community_level_0"] for n in same} == {node["community_level_0"]}

    edge = graph.edges["Entity 0000", "Entity 0001"]
    assert edge["weight"] == 2.0
    assert edge["description"] == "Entity 0000 works with Entity 0001."
    assert edge["relationship_id"] == ids.relationship_id("Entity 0000", "Entity 0001")
    # The forbidden control character is dropped, the rest of the description kept; markup survives as text.
    assert graph.nodes["Entity 0000"]["description"] == "Entity 0000 is entity number 0.(bad char)"
    assert NASTY_TITLE in graph.nodes


def test_graphml_has_only_plain_attribute_types(index_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "elsewhere" / "g.graphml"
    assert export_graph(index_dir, "graphml", out) == [out]
    text = out.read_text(encoding="utf-8")
    types = {part.split('"')[0] for part in text.split('attr.type="')[1:]}
    assert types <= {"string", "int", "long", "double", "float", "boolean"}
    assert 'attr.name="community_level_1"' in text and 'attr.name="weight"' in text


def test_json_is_node_link_format_and_round_trips(index_dir: Path) -> None:
    [path] = export_graph(index_dir, "json", None)
    assert path == index_dir / "graph.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert set(data) >= {"nodes", "links"}
    graph = nx.node_link_graph(data, edges="links")
    assert (graph.number_of_nodes(), graph.number_of_edges()) == _table_counts(index_dir)
    node = graph.nodes["Entity 0003"]
    assert node["aliases"] == ["E3"] and isinstance(node["text_unit_ids"], list)
    assert node["community_level_0"].startswith("c0-") and node["community_level_1"].startswith("c1-")
    assert graph.edges["Entity 0003", "Entity 0004"]["weight"] == 3.0


def test_csv_writes_nodes_and_edges_that_read_back(index_dir: Path) -> None:
    paths = export_graph(index_dir, "csv", None)
    folder = index_dir / "graph_csv"
    assert paths == [folder / "nodes.csv", folder / "edges.csv"]
    nodes = pd.read_csv(paths[0], keep_default_na=False)
    edges = pd.read_csv(paths[1], keep_default_na=False)
    assert (len(nodes), len(edges)) == _table_counts(index_dir)
    assert list(nodes.columns[:3]) == ["id", "label", "entity_id"]
    assert {"community_level_0", "community_level_1"} <= set(nodes.columns)
    assert set(nodes["id"]) >= {"Entity 0000", NASTY_TITLE}
    assert nodes["community_level_0"].nunique() == 3 and nodes["community_level_1"].nunique() == 6
    graph = nx.from_pandas_edgelist(edges, "source", "target", edge_attr=["weight"])
    assert graph.number_of_edges() == len(edges)
    assert set(graph.nodes) <= set(nodes["id"])


def test_missing_index_says_what_to_run(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text("{}\n", encoding="utf-8")
    with pytest.raises(IndexNotFoundError, match=r"graphrag-lite index --root .*"):
        export_graph(tmp_path / "output", "graphml", None)
    assert not (tmp_path / "output" / "graph.graphml").exists()


def test_unknown_format_is_rejected(index_dir: Path) -> None:
    with pytest.raises(InputError, match="graphml, json, csv"):
        export_graph(index_dir, "gexf", None)  # type: ignore[arg-type]


def test_index_without_communities_exports_without_community_attributes(index_dir: Path) -> None:
    (index_dir / "communities.parquet").unlink()
    [path] = export_graph(index_dir, "graphml", None)
    graph = nx.read_graphml(path)
    assert graph.number_of_nodes() == 30
    assert not any(key.startswith("community_level") for _, a in graph.nodes(data=True) for key in a)


def test_export_and_viz_refuse_to_overwrite_a_named_file_without_force(
    index_dir: Path, tmp_path: Path
) -> None:
    from graphrag_lite.api.viz import write_viz
    from graphrag_lite.errors import InputError

    mine = tmp_path / "notes.graphml"
    mine.write_text("my own file", encoding="utf-8")
    with pytest.raises(InputError, match="--force"):
        export_graph(index_dir, "graphml", mine)
    assert mine.read_text(encoding="utf-8") == "my own file"
    assert export_graph(index_dir, "graphml", mine, force=True) == [mine]
    page = tmp_path / "page.html"
    page.write_text("keep me", encoding="utf-8")
    with pytest.raises(InputError, match="already exists"):
        write_viz(index_dir, out=page)
    assert page.read_text(encoding="utf-8") == "keep me"
    export_graph(index_dir, "json")  # the default path inside output/ is ours: rewritten freely
    export_graph(index_dir, "json")
