"""The neighbourhood of some entities as a small graph with positions, for the web page's graph view.

Positions come from the same seeded force layout as ``graphrag-lite viz`` (:func:`~graphrag_lite.api.viz.
force_layout`), so the browser only draws them and the same question always gives the same picture.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from graphrag_lite.api.viz import SCALE, force_layout
from graphrag_lite.query.index_data import IndexData


def neighbourhood(data: IndexData, seeds: Iterable[str], hops: int, limit: int) -> dict[str, Any]:
    """``seeds`` (entity ids) and the entities within ``hops`` relationships, at most ``limit`` of them
    (nearer first, then higher degree), with the relationships among them."""
    seed_ids = [s for s in dict.fromkeys(seeds) if s in data.entity_by_id][:limit]
    chosen, frontier = list(seed_ids), list(seed_ids)
    for _ in range(hops):
        found: list[str] = []
        for entity_id in frontier:
            for rel in data.relationships_by_entity.get(entity_id, []):
                for end in data.relationship_ends(rel):
                    if end is not None and end not in chosen and end not in found:
                        found.append(end)
        found.sort(key=lambda e: (-data.entity_by_id[e].degree, data.entity_by_id[e].title))
        room = limit - len(chosen)
        chosen += found[: max(0, room)]
        frontier = found[: max(0, room)]
    index = {entity_id: i for i, entity_id in enumerate(chosen)}
    edges: list[dict[str, Any]] = []
    seen: set[str] = set()
    for rel in (r for entity_id in chosen for r in data.relationships_by_entity.get(entity_id, [])):
        a, b = data.relationship_ends(rel)
        if a in index and b in index and rel.id not in seen:
            seen.add(rel.id)
            edges.append(
                {"id": rel.id, "source": a, "target": b, "description": rel.description, "weight": rel.weight}
            )
    pairs = np.array([[index[e["source"]], index[e["target"]]] for e in edges], dtype=int).reshape(-1, 2)
    weights = np.array([max(0.1, float(e["weight"])) for e in edges], dtype=float)
    positions = force_layout(len(chosen), pairs, weights, np.zeros(len(chosen), dtype=int)) * SCALE
    seed_set = set(seed_ids)
    nodes = [
        {
            "id": entity_id,
            "title": data.entity_by_id[entity_id].title,
            "type": data.entity_by_id[entity_id].type,
            "degree": data.entity_by_id[entity_id].degree,
            "seed": entity_id in seed_set,
            "x": round(float(positions[i][0]), 1),
            "y": round(float(positions[i][1]), 1),
        }
        for i, entity_id in enumerate(chosen)
    ]
    return {"nodes": nodes, "edges": edges}
