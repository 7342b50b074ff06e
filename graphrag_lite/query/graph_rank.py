"""Personalized PageRank from the matched entities: which other entities (and so which text units) sit
close to the question in the graph. Helps multi-hop questions whose bridge entity is not named."""

from __future__ import annotations

from graphrag_lite.query.index_data import IndexData


def personalized_pagerank(
    data: IndexData, seeds: dict[str, float], *, alpha: float = 0.5, max_iter: int = 50
) -> dict[str, float]:
    """PageRank scores by entity id, restarting at ``seeds`` (entity id -> weight). Only the seeds'
    connected components are ranked; a low ``alpha`` (frequent restarts) keeps the walk near the seeds."""
    import networkx as nx

    graph = data.graph  # nodes are entity titles, with the entity id as node attribute "id"
    personalization: dict[str, float] = {}
    for entity_id, weight in seeds.items():
        entity = data.entity_by_id.get(entity_id)
        if entity is not None and entity.title in graph and weight > 0:
            personalization[entity.title] = personalization.get(entity.title, 0.0) + weight
    if not personalization:
        return {}
    nodes: set[str] = set()
    for node in personalization:
        if node not in nodes:
            nodes.update(nx.node_connected_component(graph, node))
    sub = graph.subgraph(nodes)
    try:
        scores = nx.pagerank(
            sub, alpha=alpha, personalization=personalization, weight="weight", max_iter=max_iter, tol=1e-6
        )
    except nx.PowerIterationFailedConvergence:
        scores = personalization
    return {str(graph.nodes[title]["id"]): float(score) for title, score in scores.items()}
