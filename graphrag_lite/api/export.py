"""Export the entity graph for Gephi, networkx or a spreadsheet: GraphML, node-link JSON or two CSV files.

Every format carries the same attributes. Nodes are keyed by entity title (relationships refer to entities
by title) and hold ``label`` (the title, which Gephi shows), ``entity_id``, ``type``, ``description``,
``aliases``, ``other_types``, ``frequency``, ``degree``, ``text_unit_ids`` and one ``community_level_<k>``
per community level (the id of the entity's community at that level; empty when it has none). Edges hold
``relationship_id``, ``weight``, ``description``, ``text_unit_ids`` and ``combined_degree``.

GraphML and CSV hold only strings and numbers (lists are joined with ";"), so Gephi and
``networkx.read_graphml`` load them; JSON keeps lists as lists and a missing community as null.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import networkx as nx

from graphrag_lite.errors import InputError
from graphrag_lite.store.atomic import atomic_write, atomic_write_text
from graphrag_lite.store.graph import build_graph, export_graphml
from graphrag_lite.store.ids import normalize_title
from graphrag_lite.store.reader import IndexReader
from graphrag_lite.store.records import Community, Entity, Relationship

log = logging.getLogger(__name__)

ExportFormat = Literal["graphml", "json", "csv"]
FORMATS: tuple[str, ...] = ("graphml", "json", "csv")
DEFAULT_NAMES: dict[str, str] = {"graphml": "graph.graphml", "json": "graph.json", "csv": "graph_csv"}
LIST_SEPARATOR = ";"

NODE_COLUMNS: tuple[str, ...] = (
    "label",
    "entity_id",
    "type",
    "description",
    "aliases",
    "other_types",
    "frequency",
    "degree",
    "text_unit_ids",
)
EDGE_COLUMNS: tuple[str, ...] = (
    "relationship_id",
    "weight",
    "description",
    "text_unit_ids",
    "combined_degree",
)

# Characters XML 1.0 forbids (control characters from PDFs or OCR); one would make the GraphML unreadable.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class UnknownFormatError(InputError):
    """The export format is not one of graphml, json, csv."""


@dataclass
class GraphTables:
    """The tables a graph view needs. ``communities`` is empty for an index built without them."""

    entities: list[Entity]
    relationships: list[Relationship]
    communities: list[Community]

    @property
    def levels(self) -> list[int]:
        return sorted({c.level for c in self.communities})


def load_graph_tables(reader: IndexReader) -> GraphTables:
    """Entities, relationships and (when present) communities of the index."""
    reader.require(("entities", "relationships"), what="graph")
    if not reader.has("communities"):
        log.warning("No communities table in %s: the export carries no community attributes.", reader.output)
    return GraphTables(
        entities=reader.records("entities"),
        relationships=reader.records("relationships"),
        communities=reader.records_if_exists("communities"),
    )


def community_of(communities: list[Community]) -> dict[str, dict[int, str]]:
    """entity id -> {level: community id}. An entity belongs to at most one community per level."""
    membership: dict[str, dict[int, str]] = {}
    for community in communities:
        for eid in community.entity_ids:
            membership.setdefault(eid, {}).setdefault(int(community.level), community.id)
    return membership


def export_graph_object(tables: GraphTables) -> nx.Graph:
    """The graph with every export attribute (lists still lists, a missing community None)."""
    graph = build_graph(tables.entities, tables.relationships)
    levels = tables.levels
    membership = community_of(tables.communities)
    by_title = {e.title: e for e in tables.entities}
    for title, attrs in graph.nodes(data=True):
        entity = by_title.get(title)
        attrs["entity_id"] = attrs.pop("id")
        attrs["label"] = title
        attrs["other_types"] = list(entity.other_types) if entity else []
        attrs["text_unit_ids"] = list(entity.text_unit_ids) if entity else []
        groups = membership.get(attrs["entity_id"], {})
        for level in levels:
            attrs[f"community_level_{level}"] = groups.get(level)
    node_of = {normalize_title(title): title for title in graph.nodes}
    for _, _, attrs in graph.edges(data=True):
        attrs["relationship_id"] = attrs.pop("id")
    for rel in tables.relationships:
        attrs = graph.edges[node_of[normalize_title(rel.source)], node_of[normalize_title(rel.target)]]
        if attrs["relationship_id"] == rel.id:  # the first relationship of a repeated pair names the edge
            attrs["text_unit_ids"] = list(rel.text_unit_ids)
            attrs["combined_degree"] = int(rel.combined_degree)
    for _, _, attrs in graph.edges(data=True):
        attrs.setdefault("text_unit_ids", [])
        attrs.setdefault("combined_degree", 0)
    return graph


def _flat(value: Any) -> str | int | float | bool:
    """A value GraphML and CSV can hold: lists joined, None empty, invalid XML characters dropped."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        value = LIST_SEPARATOR.join(str(v) for v in value)
    if isinstance(value, str):
        return _XML_INVALID.sub("", value)
    if isinstance(value, bool | int | float):
        return value
    return _XML_INVALID.sub("", str(value))


def flat_graph(graph: nx.Graph) -> nx.Graph:
    """A copy whose attributes are all str/int/float/bool (what GraphML and CSV can hold)."""
    flat = nx.Graph()
    flat.add_nodes_from(
        (_XML_INVALID.sub("", str(n)), {k: _flat(v) for k, v in attrs.items()})
        for n, attrs in graph.nodes(data=True)
    )
    flat.add_edges_from(
        (_XML_INVALID.sub("", str(u)), _XML_INVALID.sub("", str(v)), {k: _flat(x) for k, x in attrs.items()})
        for u, v, attrs in graph.edges(data=True)
    )
    return flat


def _write_json(graph: nx.Graph, path: Path) -> None:
    data = nx.node_link_data(graph, edges="links")

    def write(handle: IO[bytes]) -> None:
        handle.write(json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"))
        handle.write(b"\n")

    atomic_write(path, write)


def _write_csv(graph: nx.Graph, folder: Path, levels: list[int]) -> list[Path]:
    import pandas as pd

    flat = flat_graph(graph)
    node_columns = ["id", *NODE_COLUMNS, *(f"community_level_{level}" for level in levels)]
    nodes = pd.DataFrame([{"id": n, **attrs} for n, attrs in flat.nodes(data=True)], columns=node_columns)
    edges = pd.DataFrame(
        [{"source": u, "target": v, **attrs} for u, v, attrs in flat.edges(data=True)],
        columns=["source", "target", *EDGE_COLUMNS],
    )
    paths = [folder / "nodes.csv", folder / "edges.csv"]
    for frame, path in zip((nodes, edges), paths, strict=True):
        atomic_write_text(path, frame.to_csv(index=False))
    return paths


def default_export_path(output_dir: Path, fmt: ExportFormat) -> Path:
    """output/graph.graphml, output/graph.json or the folder output/graph_csv/."""
    return Path(output_dir) / DEFAULT_NAMES[fmt]


def refuse_overwrite(paths: list[Path], force: bool) -> None:
    """A file the user named (not our default inside output/) is overwritten only with ``force``."""
    existing = [p for p in paths if p.exists()]
    if existing and not force:
        raise InputError(
            f"{existing[0]} already exists and was not written by this command here: pass --force "
            "(force=True) to overwrite it, or choose another --out."
        )


def export_graph(
    output_dir: Path, fmt: ExportFormat, out: Path | None = None, *, force: bool = False
) -> list[Path]:
    """Write the graph of the index in ``output_dir`` as ``fmt``; returns the files written.

    ``out`` is a file for graphml/json and a folder for csv (nodes.csv + edges.csv); by default they go
    into ``output_dir``. An existing ``out`` is overwritten only with ``force``. A missing index raises
    IndexNotFoundError naming the command to run.
    """
    if fmt not in FORMATS:
        raise UnknownFormatError(f"Unknown export format '{fmt}': use one of {', '.join(FORMATS)}.")
    output_dir = Path(output_dir)
    tables = load_graph_tables(IndexReader(output_dir))
    graph = export_graph_object(tables)
    target = Path(out) if out is not None else default_export_path(output_dir, fmt)
    if out is not None:
        refuse_overwrite([target / "nodes.csv", target / "edges.csv"] if fmt == "csv" else [target], force)
    if fmt == "graphml":
        paths = [export_graphml(flat_graph(graph), target)]
    elif fmt == "json":
        _write_json(graph, target)
        paths = [target]
    else:
        paths = _write_csv(graph, target, tables.levels)
    log.info(
        "Exported %d nodes and %d edges as %s to %s",
        graph.number_of_nodes(),
        graph.number_of_edges(),
        fmt,
        ", ".join(map(str, paths)),
    )
    return paths
