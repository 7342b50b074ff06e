"""The entity graph: a networkx view of the entities and relationships tables, and its GraphML export.

Nodes are keyed by entity title (relationships refer to entities by title). A relationship endpoint is
matched to an entity by normalised title, so "scrooge" finds the entity "SCROOGE"; an endpoint with no
entity at all still becomes a node (with empty type and description) instead of being dropped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

import networkx as nx

from graphrag_lite.store.atomic import atomic_write
from graphrag_lite.store.ids import entity_id, normalize_title
from graphrag_lite.store.records import Entity, Relationship


def build_graph(entities: list[Entity], relationships: list[Relationship]) -> nx.Graph:
    """Undirected graph with node attrs id/type/description/degree/frequency/aliases and edge attrs
    id/weight/description. Nodes and edges are added in input order, so the same records give the same
    graph (iteration order matters to community detection). A repeated pair adds its weight to the edge.
    """
    graph = nx.Graph()
    by_key: dict[str, str] = {}
    for entity in entities:
        by_key.setdefault(normalize_title(entity.title), entity.title)
        graph.add_node(
            entity.title,
            id=entity.id,
            type=entity.type,
            description=entity.description,
            degree=entity.degree,
            frequency=entity.frequency,
            aliases=list(entity.aliases),
        )

    def node_for(title: str) -> str:
        known = by_key.get(normalize_title(title))
        if known is not None:
            return known
        by_key[normalize_title(title)] = title
        graph.add_node(title, id=entity_id(title), type="", description="", degree=0, frequency=0, aliases=[])
        return title

    for rel in relationships:
        source, target = node_for(rel.source), node_for(rel.target)
        if graph.has_edge(source, target):
            graph.edges[source, target]["weight"] += float(rel.weight)
            continue
        graph.add_edge(source, target, id=rel.id, weight=float(rel.weight), description=rel.description)
    return graph


def compute_degrees(entities: list[Entity], relationships: list[Relationship]) -> nx.Graph:
    """Set ``Entity.degree`` and ``Relationship.combined_degree`` in place; returns the graph used.

    Degree is the number of distinct neighbours (networkx's degree; parallel relationships count once).
    """
    graph = build_graph(entities, relationships)
    by_key = {normalize_title(title): title for title in graph.nodes}
    for entity in entities:
        entity.degree = int(graph.degree(entity.title))
        graph.nodes[entity.title]["degree"] = entity.degree
    for rel in relationships:
        source = by_key[normalize_title(rel.source)]
        target = by_key[normalize_title(rel.target)]
        rel.combined_degree = int(graph.degree(source)) + int(graph.degree(target))
    return graph


def _graphml_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return ";".join(str(v) for v in items)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if hasattr(value, "item"):  # numpy scalars
        return _graphml_value(value.item())
    return str(value)


def _unify(records: list[dict[str, Any]]) -> None:
    """GraphML declares one type per attribute: widen mixed int/float to float, anything else mixed to str."""
    kinds: dict[str, set[type]] = {}
    for attrs in records:
        for key, value in attrs.items():
            kinds.setdefault(key, set()).add(type(value))
    for key, seen in kinds.items():
        if len(seen) < 2:
            continue
        convert: type = float if seen <= {int, float} else str
        for attrs in records:
            if key in attrs:
                attrs[key] = convert(attrs[key])


def graphml_ready(graph: nx.Graph) -> nx.Graph:
    """A copy whose attributes GraphML can hold: lists become ';'-joined strings, None becomes ''."""
    ready = nx.Graph() if not graph.is_directed() else nx.DiGraph()
    ready.graph.update({str(k): _graphml_value(v) for k, v in graph.graph.items()})
    nodes = [{str(k): _graphml_value(v) for k, v in attrs.items()} for _, attrs in graph.nodes(data=True)]
    edges = [{str(k): _graphml_value(v) for k, v in attrs.items()} for _, _, attrs in graph.edges(data=True)]
    _unify(nodes)
    _unify(edges)
    ready.add_nodes_from((str(n), attrs) for n, attrs in zip(graph.nodes, nodes, strict=True))
    ready.add_edges_from((str(u), str(v), attrs) for (u, v), attrs in zip(graph.edges, edges, strict=True))
    return ready


def export_graphml(graph: nx.Graph, path: Path | str) -> Path:
    """Write ``graph`` as GraphML (atomically) for Gephi, yEd or Cytoscape; returns the path."""
    ready = graphml_ready(graph)
    target = Path(path)

    def write(handle: IO[bytes]) -> None:
        nx.write_graphml(ready, handle, encoding="utf-8")

    atomic_write(target, write)
    return target
