"""Pruning the co-occurrence graph of the fast method: fewer, stronger nodes and edges for clustering.

Four passes, each reported in ``stats``:

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
3. **Edges per entity** - an edge survives only if it is among the ``nlp.max_edges_per_entity`` (default
   20) strongest edges of one of its ends (by weight, then table order). In prose this drops almost nothing
   (measured on the dev corpora: 0.0% of A Christmas Carol's edges, 0.2-1.8% of the multi-hop corpora's):
   an entity's weak edge to a hub stays because it is among the entity's own best. In run-on text, where
   every window relates dozens of entities, it is the bound on the graph: it took a third of the edges of
   a 5 MB line of random words.
4. **Degree** - nodes with fewer than ``nlp.min_degree`` remaining neighbours are dropped, repeatedly until
   none is left below the bar (a k-core, so every kept node really has that many neighbours). Exception: a
   person named in two or more text units is never dropped for lack of edges; a recurring character is
   something users ask about even when each mention stands alone in its sentence.

Edges whose endpoint is gone are dropped with it. ``text_unit_ids`` of the kept records are unchanged and
so stay valid; pass ``text_units`` to re-point the units at the kept records. Degrees are recomputed.
Records are copied, never modified in place. The passes decide on numbers only (node numbers and weights);
:func:`prune_table` applies them to an Arrow table without making a record per edge, which matters with the
million edges of run-on input.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

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


def _is_protected(entity: Entity) -> bool:
    return entity.type == "person" and entity.frequency >= PROTECTED_PERSON_FREQUENCY


def edge_weight_threshold(weights: np.ndarray, percentile: float) -> float:
    """The weight at ``percentile`` (0-100) of ``weights``; 0 when there are none."""
    if not len(weights):
        return 0.0
    return float(np.percentile(np.asarray(weights, dtype=np.float64), percentile))


@dataclass
class _Edges:
    """Edges as numbers: node numbers of both ends (by normalised title) and weights, in table order."""

    source: np.ndarray
    target: np.ndarray
    weight: np.ndarray

    def take(self, mask: np.ndarray) -> _Edges:
        return _Edges(self.source[mask], self.target[mask], self.weight[mask])


def _strongest(edges: _Edges, nodes: int) -> np.ndarray:
    """Per node, the weight of its strongest edge (-inf without edges)."""
    best = np.full(nodes, -np.inf)
    np.maximum.at(best, edges.source, edges.weight)
    np.maximum.at(best, edges.target, edges.weight)
    return best


def _among_strongest(edges: _Edges, nodes: int, per_node: int) -> np.ndarray:
    """Mask of the edges that are among the ``per_node`` strongest of either end (ties by table order)."""
    count = len(edges.weight)
    ends = np.concatenate([edges.source, edges.target])
    index = np.concatenate([np.arange(count), np.arange(count)])
    weight = np.concatenate([edges.weight, edges.weight])
    order = np.lexsort((index, -weight, ends))  # per node: strongest first, then table order
    ends, index = ends[order], index[order]
    starts = np.searchsorted(ends, np.arange(nodes))
    position = np.arange(len(ends)) - starts[ends]  # rank of the edge among its node's edges
    keep = np.zeros(count, dtype=bool)
    keep[index[position < per_node]] = True
    return keep


def _degree_core(neighbours: list[set[int]], protected: set[int], min_degree: int) -> set[int]:
    """Nodes left after repeatedly removing nodes under ``min_degree`` (bar protected persons)."""
    alive = set(range(len(neighbours)))
    queue = [k for k in alive if len(neighbours[k]) < min_degree and k not in protected]
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


def _passes_frequency(entity: Entity, min_frequency: int) -> bool:
    return entity.type != CONCEPT or entity.frequency >= min_frequency


@dataclass
class _Decision:
    survivors: list[Entity]  # entities kept, in input order (not copied)
    edges: np.ndarray  # mask over the input edges
    degree: dict[str, int]  # normalised title of a survivor -> distinct neighbours left
    stats: dict[str, Any]


@dataclass
class _Ends:
    """Both ends of every edge as codes into ``titles`` (each distinct endpoint title once)."""

    titles: list[str]
    source: np.ndarray
    target: np.ndarray

    @classmethod
    def of_records(cls, relationships: list[Relationship]) -> _Ends:
        code: dict[str, int] = {}
        source = [code.setdefault(r.source, len(code)) for r in relationships]
        target = [code.setdefault(r.target, len(code)) for r in relationships]
        return cls(list(code), np.array(source, dtype=np.int64), np.array(target, dtype=np.int64))

    @classmethod
    def of_table(cls, table: pa.Table) -> _Ends:
        """Dictionary-encoded in Arrow: a million edges name only thousands of entities."""
        titles = (
            pa.chunked_array(
                [table.column("source").combine_chunks(), table.column("target").combine_chunks()]
            )
            .combine_chunks()
            .dictionary_encode()
        )
        codes = titles.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        rows = table.num_rows
        return cls(titles.dictionary.to_pylist(), codes[:rows], codes[rows:])


def _decide(entities: list[Entity], ends: _Ends, weights: np.ndarray, settings: Settings) -> _Decision:
    """The passes of the module notes on edges given as end titles and weights, in table order."""
    options = settings.nlp
    number: dict[str, int] = {}
    for entity in entities:
        number.setdefault(normalize_title(entity.title), len(number))
    # an endpoint without an entity is a node that is never kept
    node_of = np.array(
        [number.setdefault(normalize_title(t), len(number)) for t in ends.titles], dtype=np.int64
    )
    nodes = len(number)
    edges = _Edges(node_of[ends.source], node_of[ends.target], np.asarray(weights, dtype=np.float64))
    index = np.arange(len(edges.weight))
    stats: dict[str, Any] = {"entities_in": len(entities), "relationships_in": len(index)}

    kept = [e for e in entities if _passes_frequency(e, options.min_frequency)]
    stats["dropped_concepts_low_frequency"] = len(entities) - len(kept)
    is_kept = np.zeros(nodes, dtype=bool)
    is_kept[[number[normalize_title(e.title)] for e in kept]] = True
    both_kept = is_kept[edges.source] & is_kept[edges.target]
    stats["dropped_edges_with_dropped_nodes"] = int(len(both_kept) - both_kept.sum())
    edges, index = edges.take(both_kept), index[both_kept]

    threshold = edge_weight_threshold(edges.weight, options.edge_percentile)
    best = _strongest(edges, nodes)
    strong = (
        (edges.weight >= threshold)
        | (edges.weight >= best[edges.source])
        | (edges.weight >= best[edges.target])
    )
    stats["edge_weight_threshold"] = threshold
    stats["dropped_edges_low_weight"] = int(len(strong) - strong.sum())
    stats["kept_edges_below_threshold_strongest_of_a_node"] = int((strong & (edges.weight < threshold)).sum())
    edges, index = edges.take(strong), index[strong]

    if options.max_edges_per_entity:
        capped = _among_strongest(edges, nodes, options.max_edges_per_entity)
        stats["dropped_edges_over_max_per_entity"] = int(len(capped) - capped.sum())
        edges, index = edges.take(capped), index[capped]

    neighbours: list[set[int]] = [set() for _ in range(nodes)]
    for a, b in zip(edges.source.tolist(), edges.target.tolist(), strict=True):
        neighbours[a].add(b)
        neighbours[b].add(a)
    protected = {number[normalize_title(e.title)] for e in kept if _is_protected(e)}
    alive = _degree_core(neighbours, protected, options.min_degree) & set(np.flatnonzero(is_kept).tolist())
    survivors = [e for e in kept if number[normalize_title(e.title)] in alive]
    stats["dropped_nodes_low_degree"] = len(kept) - len(survivors)
    is_alive = np.zeros(nodes, dtype=bool)
    is_alive[list(alive)] = True
    final = is_alive[edges.source] & is_alive[edges.target]
    stats["dropped_edges_with_low_degree_nodes"] = int(len(final) - final.sum())
    edges, index = edges.take(final), index[final]

    degree = {key: len(neighbours[i]) for key, i in number.items() if i in alive}
    stats["kept_persons_without_enough_edges"] = sum(
        1 for e in survivors if _is_protected(e) and degree[normalize_title(e.title)] < options.min_degree
    )
    stats["entities_out"] = len(survivors)
    stats["relationships_out"] = len(index)
    surviving = np.zeros(len(weights), dtype=bool)
    surviving[index] = True
    return _Decision(survivors, surviving, degree, stats)


def prune_graph(
    entities: list[Entity],
    relationships: list[Relationship],
    settings: Settings,
    text_units: list[TextUnit] | None = None,
) -> PruneResult:
    """The pruned graph (see the module notes); with ``text_units``, their entity/relationship ids are set."""
    weights = np.array([r.weight for r in relationships], dtype=np.float64)
    decision = _decide(entities, _Ends.of_records(relationships), weights, settings)
    survivors = [dataclasses.replace(e) for e in decision.survivors]
    kept = [dataclasses.replace(r) for r, keep in zip(relationships, decision.edges, strict=True) if keep]
    compute_degrees(survivors, kept)
    if text_units is not None:
        link_text_units(text_units, survivors, kept)
    return PruneResult(survivors, kept, decision.stats)


@dataclass
class PrunedTable:
    entities: list[Entity]
    relationships: pa.Table
    stats: dict[str, Any]


def prune_table(entities: list[Entity], relationships: pa.Table, settings: Settings) -> PrunedTable:
    """:func:`prune_graph` on a relationships table, with degrees set; no record is made per edge."""
    ends = _Ends.of_table(relationships)
    decision = _decide(entities, ends, relationships.column("weight").to_numpy(), settings)
    survivors = [
        dataclasses.replace(e, degree=decision.degree[normalize_title(e.title)]) for e in decision.survivors
    ]
    kept = relationships.filter(pa.array(decision.edges))
    degree = np.array([decision.degree.get(normalize_title(t), 0) for t in ends.titles], dtype=np.int64)
    combined = degree[ends.source[decision.edges]] + degree[ends.target[decision.edges]]
    field = kept.schema.field("combined_degree")
    kept = kept.set_column(
        kept.schema.get_field_index(field.name), field, pa.array(combined, type=field.type)
    )
    return PrunedTable(survivors, kept, decision.stats)
