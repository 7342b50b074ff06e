"""Hierarchical communities of the entity graph (Leiden, via graspologic-native).

Rules:

- **Every component is clustered**, not only the largest one. Leiden never puts two disconnected nodes in one
  community, so the whole edge list goes into one ``hierarchical_leiden`` call.
- **Entities without relationships** are linked by weak *co-mention* edges to the entities they share a text
  unit with (``communities.attach_isolated``, on by default). A weak leaf edge only decides which community
  the entity joins; it hardly moves the rest of the partition. An entity that shares no text unit with any
  other entity (or every such entity when ``attach_isolated`` is off) becomes its own level-0 community.
  Co-mention edges are not relationships: they never appear in ``Community.relationship_ids``.
- **Levels**: level 0 is the coarsest partition. A community larger than ``communities.max_cluster_size`` is
  split by Leiden into children at the next level; a community that is not split is *not* repeated at deeper
  levels. So every entity has exactly one level-0 community and at most one community per level; its chain
  of communities ends at its deepest (final) one. Leiden cannot split some dense groups (a clique is one
  community at any resolution), so such a community stays larger than the maximum.
- ``communities.use_lcc`` restores the reference behaviour: only the largest connected component of the
  relationship graph is clustered and every other entity has no community.
- Deterministic: nodes and edges are sorted before clustering and the seed is fixed, so the same tables give
  the same communities and ids on every run.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from graphrag_lite.config.settings import Settings
from graphrag_lite.store.ids import community_id, normalize_title
from graphrag_lite.store.records import Community, Entity, Relationship

logger = logging.getLogger(__name__)

CO_MENTION_SHARE = 0.1  # co-mention edge weight per shared text unit, relative to the lightest relationship
_MIN_WEIGHT = 1e-6  # Leiden needs positive weights; zero or negative relationship weights are raised to this

Edge = tuple[str, str, float]


@dataclass(frozen=True)
class _Cluster:
    level: int
    key: int  # graspologic's cluster number (unique across levels); -1 - n for singleton communities
    parent_key: int | None


def _entity_lookup(entities: Sequence[Entity]) -> dict[str, str]:
    """Relationship endpoint (entity title) -> entity id; exact titles first, then normalised titles."""
    lookup: dict[str, str] = {}
    for entity in entities:
        lookup.setdefault(normalize_title(entity.title), entity.id)
    for entity in entities:
        lookup[entity.title] = entity.id
    return lookup


def _endpoints(rel: Relationship, lookup: Mapping[str, str]) -> tuple[str, str] | None:
    source = lookup.get(rel.source) or lookup.get(normalize_title(rel.source))
    target = lookup.get(rel.target) or lookup.get(normalize_title(rel.target))
    if source is None or target is None or source == target:
        return None
    return source, target


def _relationship_edges(
    relationships: Sequence[Relationship], lookup: Mapping[str, str]
) -> dict[tuple[str, str], float]:
    """Undirected (a < b) entity-id pairs, weights summed; unknown endpoints and self-loops skipped."""
    weights: dict[tuple[str, str], float] = defaultdict(float)
    skipped = 0
    for rel in relationships:
        ends = _endpoints(rel, lookup)
        if ends is None:
            skipped += 1
            continue
        a, b = sorted(ends)
        weights[(a, b)] += max(float(rel.weight), _MIN_WEIGHT)
    if skipped:
        logger.info("communities: %d relationships skipped (self-loop or unknown endpoint)", skipped)
    return dict(weights)


def _co_mention_edges(
    entities: Sequence[Entity], connected: set[str], unit_weight: float
) -> dict[tuple[str, str], float]:
    """Weak edges from each entity without relationships to every entity sharing a text unit with it."""
    by_unit: dict[str, list[str]] = defaultdict(list)
    for entity in entities:
        for unit_id in set(entity.text_unit_ids):
            by_unit[unit_id].append(entity.id)
    weights: dict[tuple[str, str], float] = defaultdict(float)
    for unit_id in sorted(by_unit):
        members = sorted(set(by_unit[unit_id]))
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                if a in connected and b in connected:
                    continue
                weights[(a, b)] += unit_weight
    return dict(weights)


def _largest_component(nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> set[str]:
    import networkx as nx

    graph = nx.Graph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from(edges)
    if graph.number_of_nodes() == 0:
        return set()
    components = sorted(nx.connected_components(graph), key=lambda c: (-len(c), min(c)))
    return set(components[0])


def _leiden(edges: list[Edge], max_cluster_size: int, seed: int) -> dict[str, list[_Cluster]]:
    """Entity id -> its chain of clusters from level 0 down to its final cluster."""
    from graspologic_native import hierarchical_leiden

    # graspologic splits clusters whose size is >= its max_cluster_size; ours means "at most this many".
    found = hierarchical_leiden(edges=edges, max_cluster_size=max_cluster_size + 1, seed=seed)
    chains: dict[str, list[_Cluster]] = defaultdict(list)
    for item in found:
        chains[item.node].append(_Cluster(int(item.level), int(item.cluster), item.parent_cluster))
    for chain in chains.values():
        chain.sort(key=lambda c: c.level)
    return chains


def _build_edges(
    entities: Sequence[Entity], relationships: Sequence[Relationship], settings: Settings
) -> list[Edge]:
    lookup = _entity_lookup(entities)
    weights = _relationship_edges(relationships, lookup)
    if settings.communities.use_lcc:
        keep = _largest_component((n for pair in weights for n in pair), weights)
        weights = {pair: w for pair, w in weights.items() if pair[0] in keep}
    elif settings.communities.attach_isolated:
        connected = {n for pair in weights for n in pair}
        unit_weight = CO_MENTION_SHARE * (min(weights.values()) if weights else 1.0)
        for pair, weight in _co_mention_edges(entities, connected, unit_weight).items():
            weights.setdefault(pair, weight)
    return [(a, b, w) for (a, b), w in sorted(weights.items())]


def _drop_unsplit_levels(chains: dict[str, list[_Cluster]]) -> None:
    """Remove a level where a cluster has one child with the same members (a split that split nothing)."""
    members: dict[int, set[str]] = defaultdict(set)  # graspologic's cluster numbers are unique across levels
    for node, chain in chains.items():
        for cluster in chain:
            members[cluster.key].add(node)
    for node, chain in chains.items():
        kept = [chain[0]]
        for cluster in chain[1:]:
            previous = kept[-1]
            if members[cluster.key] == members[previous.key]:
                continue
            kept.append(_Cluster(previous.level + 1, cluster.key, previous.key))
        chains[node] = kept


def hierarchical_communities(
    entities: Sequence[Entity], relationships: Sequence[Relationship], settings: Settings
) -> list[Community]:
    """Leiden communities at every level, sorted by (level, size descending, id). See the module notes."""
    ordered = sorted(entities, key=lambda e: e.id)
    edges = _build_edges(ordered, relationships, settings)
    chains = _leiden(edges, settings.communities.max_cluster_size, settings.communities.seed) if edges else {}
    _drop_unsplit_levels(chains)
    if not settings.communities.use_lcc:
        singles = [e.id for e in ordered if e.id not in chains]
        for n, entity_id in enumerate(singles):
            chains[entity_id] = [_Cluster(0, -1 - n, None)]
    return _assemble(chains, ordered, relationships)


def _assemble(
    chains: Mapping[str, list[_Cluster]], entities: Sequence[Entity], relationships: Sequence[Relationship]
) -> list[Community]:
    """Community records from each entity's chain of clusters."""
    members: dict[tuple[int, int], list[str]] = defaultdict(list)
    parent_of: dict[tuple[int, int], tuple[int, int] | None] = {}
    for entity_id in sorted(chains):
        for cluster in chains[entity_id]:
            key = (cluster.level, cluster.key)
            members[key].append(entity_id)
            parent = None if cluster.parent_key is None else (cluster.level - 1, cluster.parent_key)
            parent_of[key] = parent
    ids = {key: community_id(key[0], ids_) for key, ids_ in members.items()}
    entities_by_id = {e.id: e for e in entities}
    communities = {
        key: Community(
            id=ids[key],
            level=key[0],
            parent=ids[parent] if (parent := parent_of[key]) is not None else None,
            entity_ids=sorted(ids_),
            size=len(ids_),
            text_unit_ids=sorted({u for e in ids_ for u in entities_by_id[e].text_unit_ids}),
        )
        for key, ids_ in members.items()
    }
    for key, parent in parent_of.items():
        if parent is not None:
            communities[parent].children.append(ids[key])
    for community in communities.values():
        community.children.sort()
    _attach_relationships(communities, chains, entities, relationships)
    return sorted(communities.values(), key=lambda c: (c.level, -c.size, c.id))


def _attach_relationships(
    communities: Mapping[tuple[int, int], Community],
    chains: Mapping[str, list[_Cluster]],
    entities: Sequence[Entity],
    relationships: Sequence[Relationship],
) -> None:
    """Each community's relationships: those with both ends among its entities."""
    lookup = _entity_lookup(entities)
    found: dict[tuple[int, int], set[str]] = defaultdict(set)
    for rel in relationships:
        ends = _endpoints(rel, lookup)
        if ends is None or ends[0] not in chains or ends[1] not in chains:
            continue
        for left, right in zip(chains[ends[0]], chains[ends[1]], strict=False):
            if (left.level, left.key) != (right.level, right.key):
                break
            found[(left.level, left.key)].add(rel.id)
    for key, rel_ids in found.items():
        communities[key].relationship_ids = sorted(rel_ids)


def community_levels(communities: Iterable[Community]) -> list[int]:
    """The levels present, shallowest (0) first."""
    return sorted({c.level for c in communities})


def entity_community_map(
    communities: Iterable[Community], level: int, *, inherit: bool = True
) -> dict[str, str]:
    """Entity id -> its community id at ``level``.

    With ``inherit`` (the default), an entity whose hierarchy ends above ``level`` maps to its deepest
    community, so every clustered entity is mapped at every level; without it, only entities with a
    community exactly at ``level`` appear.
    """
    best: dict[str, tuple[int, str]] = {}
    for community in communities:
        if community.level > level or (not inherit and community.level != level):
            continue
        for entity_id in community.entity_ids:
            current = best.get(entity_id)
            if current is None or community.level > current[0]:
                best[entity_id] = (community.level, community.id)
    return {entity_id: cid for entity_id, (_, cid) in sorted(best.items())}
