"""Pruning the co-occurrence graph of the fast method: fewer, stronger nodes and edges for clustering.

Three passes, each reported in ``stats``:

1. **Frequency** - concept (noun-phrase) nodes seen in fewer than ``nlp.min_frequency`` text units are
   dropped (default 2: a phrase used once is rarely a topic). Named entities are kept at any frequency: in
   a corpus of short documents (one passage per fact) the entity that answers a question is often named
   in a single text unit, and NER already vouches for it being a name.
2. **Edge weight** - edges whose weight is below the ``nlp.edge_percentile`` percentile (default 40, linear
   interpolation) of the remaining weights are dropped, except a node's strongest edge (every edge of top
   weight at either end is kept): the cut thins out a hub's chance co-occurrences but never isolates a node
   that had edges, so which nodes go stays the frequency and degree passes' decision. Ties at the threshold
   are kept, so with ``nlp.edge_weighting: count``, where most edges co-occur once (weight 1), the threshold
   is 1 and nothing is lost to an arbitrary cut among equals. The default NPMI-scaled weights are
   continuous, so the cut removes about that share of the edges. On A Christmas Carol the 40th percentile
   falls among the pairs seen together once and drops those with the weakest association, mostly the hero's
   one-off neighbours: measured with the book's licence frame still indexed, the largest level-0 community
   shrank from 238 of 1,001 entities (counts) to 141; 20 and 30 gave about the same largest one but fewer,
   larger others; 50 and 60 a larger largest one. (Without the frame it is 122 of 878.)
3. **Degree** - nodes with fewer than ``nlp.min_degree`` remaining neighbours are dropped, repeatedly until
   none is left below the bar (a k-core, so every kept node really has that many neighbours). Exception: a
   person named in two or more text units is never dropped for lack of edges; a recurring character is
   something users ask about even when each mention stands alone in its sentence.

Edges whose endpoint is gone are dropped with it. ``text_unit_ids`` of the kept records are unchanged and
so stay valid; pass ``text_units`` to re-point the units at the kept records. Degrees are recomputed.
Records are copied, never modified in place.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graphrag_lite.config.settings import Settings
from graphrag_lite.index.extract.nlp import CONCEPT
from graphrag_lite.index.graph.linking import link_text_units
from graphrag_lite.store.graph import compute_degrees
from graphrag_lite.store.ids import normalize_title
from graphrag_lite.store.records import Entity, Relationship, TextUnit

PROTECTED_PERSON_FREQUENCY = 2


@dataclass
class PruneResult:
    entities: list[Entity]
    relationships: list[Relationship]
    stats: dict[str, Any] = field(default_factory=dict)


def _endpoints_kept(relationships: list[Relationship], kept: set[str]) -> list[Relationship]:
    return [
        r for r in relationships if normalize_title(r.source) in kept and normalize_title(r.target) in kept
    ]


def _is_protected(entity: Entity) -> bool:
    return entity.type == "person" and entity.frequency >= PROTECTED_PERSON_FREQUENCY


def edge_weight_threshold(relationships: list[Relationship], percentile: float) -> float:
    """The weight at ``percentile`` (0-100) of the relationships' weights; 0 when there are none."""
    if not relationships:
        return 0.0
    return float(np.percentile(np.array([r.weight for r in relationships], dtype=np.float64), percentile))


def _strongest_edge_weights(relationships: list[Relationship]) -> dict[str, float]:
    """Normalised title -> the weight of its strongest edge."""
    best: dict[str, float] = {}
    for rel in relationships:
        for key in (normalize_title(rel.source), normalize_title(rel.target)):
            best[key] = max(best.get(key, rel.weight), rel.weight)
    return best


def _degree_core(entities: list[Entity], relationships: list[Relationship], min_degree: int) -> set[str]:
    """Normalised titles left after repeatedly removing nodes under ``min_degree`` (bar protected persons)."""
    neighbours: dict[str, set[str]] = {normalize_title(e.title): set() for e in entities}
    for rel in relationships:
        a, b = normalize_title(rel.source), normalize_title(rel.target)
        neighbours[a].add(b)
        neighbours[b].add(a)
    protected = {normalize_title(e.title) for e in entities if _is_protected(e)}
    alive = set(neighbours)
    queue = [k for k in neighbours if len(neighbours[k]) < min_degree and k not in protected]
    while queue:
        key = queue.pop()
        if key not in alive:
            continue
        alive.discard(key)
        for other in neighbours[key]:
            neighbours[other].discard(key)
            if other in alive and other not in protected and len(neighbours[other]) < min_degree:
                queue.append(other)
    return alive


def prune_graph(
    entities: list[Entity],
    relationships: list[Relationship],
    settings: Settings,
    text_units: list[TextUnit] | None = None,
) -> PruneResult:
    """The pruned graph (see the module notes); with ``text_units``, their entity/relationship ids are set."""
    options = settings.nlp
    entities = [dataclasses.replace(e) for e in entities]
    relationships = [dataclasses.replace(r) for r in relationships]
    stats: dict[str, Any] = {"entities_in": len(entities), "relationships_in": len(relationships)}

    kept = [e for e in entities if e.type != CONCEPT or e.frequency >= options.min_frequency]
    stats["dropped_concepts_low_frequency"] = len(entities) - len(kept)
    before = len(relationships)
    relationships = _endpoints_kept(relationships, {normalize_title(e.title) for e in kept})
    stats["dropped_edges_with_dropped_nodes"] = before - len(relationships)

    threshold = edge_weight_threshold(relationships, options.edge_percentile)
    best = _strongest_edge_weights(relationships)
    strong = [
        r
        for r in relationships
        if r.weight >= threshold
        or r.weight >= best[normalize_title(r.source)]
        or r.weight >= best[normalize_title(r.target)]
    ]
    stats["edge_weight_threshold"] = threshold
    stats["dropped_edges_low_weight"] = len(relationships) - len(strong)
    stats["kept_edges_below_threshold_strongest_of_a_node"] = sum(1 for r in strong if r.weight < threshold)

    alive = _degree_core(kept, strong, options.min_degree)
    survivors = [e for e in kept if normalize_title(e.title) in alive]
    stats["dropped_nodes_low_degree"] = len(kept) - len(survivors)
    final_relationships = _endpoints_kept(strong, alive)
    stats["dropped_edges_with_low_degree_nodes"] = len(strong) - len(final_relationships)

    compute_degrees(survivors, final_relationships)
    stats["kept_persons_without_enough_edges"] = sum(
        1 for e in survivors if _is_protected(e) and e.degree < options.min_degree
    )
    stats["entities_out"] = len(survivors)
    stats["relationships_out"] = len(final_relationships)
    if text_units is not None:
        link_text_units(text_units, survivors, final_relationships)
    return PruneResult(survivors, final_relationships, stats)
