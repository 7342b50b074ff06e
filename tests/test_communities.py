"""Hierarchical Leiden communities: coverage, hierarchy, size bound, isolated entities, determinism."""

from __future__ import annotations

import itertools
import random
import time
from collections import Counter, defaultdict

import pytest

from graphrag_lite.config.settings import Settings
from graphrag_lite.index.graph.communities import (
    _Cluster,
    _drop_unsplit_levels,
    community_levels,
    entity_community_map,
    hierarchical_communities,
)
from graphrag_lite.store.ids import community_id, entity_id, relationship_id
from graphrag_lite.store.records import Community, Entity, Relationship


def entity(title: str, units: list[str]) -> Entity:
    return Entity(
        id=entity_id(title),
        title=title,
        type="person",
        description=f"{title} is a test entity.",
        text_unit_ids=units,
    )


def rel(a: str, b: str, weight: float = 1.0) -> Relationship:
    source, target = sorted((a, b))
    return Relationship(
        id=relationship_id(a, b), source=source, target=target, description=f"{a} knows {b}", weight=weight
    )


def sample_graph() -> tuple[list[Entity], list[Relationship]]:
    """Three dense clusters of 15 joined by single bridges, a chain component of 6, and 5 isolated entities:
    ISO-A and ISO-B share a text unit with cluster A, ISO-PAIR-1/2 only with each other, ISO-LONE with no one.
    """
    rng = random.Random(7)
    entities: list[Entity] = []
    rels: list[Relationship] = []
    for cluster in "ABC":
        names = [f"{cluster}{i:02d}" for i in range(15)]
        entities += [entity(n, [f"t-{cluster}{i % 5}"]) for i, n in enumerate(names)]
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                if rng.random() < 0.45:
                    rels.append(rel(a, b, 1.0 + rng.random()))
    rels += [rel("A00", "B00"), rel("B01", "C01")]
    chain = [f"CHAIN{i}" for i in range(6)]
    entities += [entity(n, [f"t-chain{i}"]) for i, n in enumerate(chain)]
    rels += [rel(a, b) for a, b in itertools.pairwise(chain)]
    entities += [
        entity("ISO-A", ["t-A0"]),
        entity("ISO-B", ["t-A0", "t-iso"]),
        entity("ISO-PAIR-1", ["t-pair"]),
        entity("ISO-PAIR-2", ["t-pair"]),
        entity("ISO-LONE", ["t-lone"]),
    ]
    return entities, rels


@pytest.fixture(scope="module")
def graph() -> tuple[list[Entity], list[Relationship]]:
    return sample_graph()


@pytest.fixture(scope="module")
def communities(graph: tuple[list[Entity], list[Relationship]]) -> list[Community]:
    return hierarchical_communities(*graph, Settings())


def by_title(entities: list[Entity]) -> dict[str, str]:
    return {e.title: e.id for e in entities}


def test_every_entity_has_exactly_one_community_at_level_zero_and_at_most_one_per_level(
    graph: tuple[list[Entity], list[Relationship]], communities: list[Community]
) -> None:
    entities, _ = graph
    assert len(entities) == 56
    per_level: dict[int, Counter[str]] = defaultdict(Counter)
    for community in communities:
        per_level[community.level].update(community.entity_ids)
    assert set(per_level[0]) == {e.id for e in entities}
    for counts in per_level.values():
        assert max(counts.values()) == 1


def test_hierarchy_has_levels_and_consistent_parents_and_children(communities: list[Community]) -> None:
    levels = community_levels(communities)
    assert levels[0] == 0 and len(levels) >= 2
    assert levels == list(range(len(levels)))
    by_id = {c.id: c for c in communities}
    for community in communities:
        if community.level == 0:
            assert community.parent is None
        else:
            parent = by_id[community.parent or ""]
            assert parent.level == community.level - 1 and community.id in parent.children
        if community.children:
            kids = [by_id[k] for k in community.children]
            members = [e for k in kids for e in k.entity_ids]
            assert sorted(members) == community.entity_ids  # children partition their parent
            assert all(k.parent == community.id for k in kids) and community.children == sorted(
                community.children
            )


def test_community_fields(
    graph: tuple[list[Entity], list[Relationship]], communities: list[Community]
) -> None:
    entities, rels = graph
    ids = by_title(entities)
    units = {e.id: set(e.text_unit_ids) for e in entities}
    for community in communities:
        members = set(community.entity_ids)
        assert community.id == community_id(community.level, community.entity_ids)
        assert community.entity_ids == sorted(members) and community.size == len(members)
        inside = sorted(r.id for r in rels if ids[r.source] in members and ids[r.target] in members)
        assert community.relationship_ids == inside
        assert community.text_unit_ids == sorted(set().union(*(units[e] for e in members)))


def test_leaves_respect_the_maximum_size(communities: list[Community]) -> None:
    leaves = [c for c in communities if not c.children]
    assert max(c.size for c in leaves) <= Settings().communities.max_cluster_size
    assert any(c.children for c in communities if c.level == 0)  # the 15-node clusters were split


def test_components_and_isolated_entities(
    graph: tuple[list[Entity], list[Relationship]], communities: list[Community]
) -> None:
    ids = by_title(graph[0])
    level0 = entity_community_map(communities, 0)
    chain = {level0[ids[f"CHAIN{i}"]] for i in range(6)}
    cluster_a = {level0[ids[f"A{i:02d}"]] for i in range(15)}
    assert len(chain) == 1 and chain.isdisjoint(cluster_a)  # the second component is clustered on its own
    # isolated entities join the community of the entities they share a text unit with
    assert level0[ids["ISO-A"]] in cluster_a and level0[ids["ISO-B"]] in cluster_a
    assert level0[ids["ISO-PAIR-1"]] == level0[ids["ISO-PAIR-2"]]
    by_id = {c.id: c for c in communities}
    assert by_id[level0[ids["ISO-PAIR-1"]]].relationship_ids == []  # co-mention edges are not relationships
    lone = by_id[level0[ids["ISO-LONE"]]]
    assert lone.entity_ids == [ids["ISO-LONE"]] and lone.children == []


def test_isolated_entities_stand_alone_when_not_attached(
    graph: tuple[list[Entity], list[Relationship]],
) -> None:
    settings = Settings.model_validate({"communities": {"attach_isolated": False}})
    found = hierarchical_communities(*graph, settings)
    ids = by_title(graph[0])
    level0 = {c.id: c for c in found if c.level == 0}
    mapping = entity_community_map(found, 0)
    for title in ("ISO-A", "ISO-B", "ISO-PAIR-1", "ISO-LONE"):
        assert level0[mapping[ids[title]]].entity_ids == [ids[title]]


def test_use_lcc_is_the_reference_behaviour(graph: tuple[list[Entity], list[Relationship]]) -> None:
    settings = Settings.model_validate({"communities": {"use_lcc": True}})
    mapping = entity_community_map(hierarchical_communities(*graph, settings), 0)
    ids = by_title(graph[0])
    assert ids["A00"] in mapping and ids["C14"] in mapping
    assert ids["CHAIN0"] not in mapping and ids["ISO-LONE"] not in mapping


def test_deterministic_across_runs_and_input_order(graph: tuple[list[Entity], list[Relationship]]) -> None:
    entities, rels = graph
    first = hierarchical_communities(entities, rels, Settings())
    shuffled_entities, shuffled_rels = list(entities), list(rels)
    random.Random(3).shuffle(shuffled_entities)
    random.Random(4).shuffle(shuffled_rels)
    second = hierarchical_communities(shuffled_entities, shuffled_rels, Settings())
    assert first == second


def test_entity_community_map_inherits_shallower_communities(communities: list[Community]) -> None:
    deepest = max(community_levels(communities))
    exact = entity_community_map(communities, deepest, inherit=False)
    inherited = entity_community_map(communities, deepest)
    level0 = entity_community_map(communities, 0)
    assert set(inherited) == set(level0) and len(exact) < len(inherited)
    by_id = {c.id: c for c in communities}
    for entity_id_, cid in inherited.items():
        assert entity_id_ in by_id[cid].entity_ids and not (entity_id_ in exact and exact[entity_id_] != cid)


def test_a_clique_cannot_be_split_and_stays_one_community() -> None:
    names = [f"K{i}" for i in range(12)]
    entities = [entity(n, ["t-k"]) for n in names]
    rels = [rel(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    found = hierarchical_communities(entities, rels, Settings())
    assert [(c.level, c.size, c.children) for c in found] == [(0, 12, [])]


def test_a_split_that_splits_nothing_is_not_a_level() -> None:
    # clusters 2 and 3 hold the same members as cluster 1: levels 1 and 2 are dropped, cluster 5 moves up
    chains = {
        node: [_Cluster(0, 1, None), _Cluster(1, 2, 1), _Cluster(2, 3, 2), _Cluster(3, leaf, 3)]
        for node, leaf in (("a", 5), ("b", 6))
    }
    _drop_unsplit_levels(chains)
    assert chains["a"] == [_Cluster(0, 1, None), _Cluster(1, 5, 1)]
    assert chains["b"] == [_Cluster(0, 1, None), _Cluster(1, 6, 1)]


def test_relationships_to_unknown_entities_and_empty_input() -> None:
    entities = [entity("X", ["t1"]), entity("Y", ["t1"])]
    rels = [rel("X", "Y"), rel("X", "NOBODY")]
    found = hierarchical_communities(entities, rels, Settings())
    assert len(found) == 1 and found[0].size == 2 and found[0].relationship_ids == [relationship_id("X", "Y")]
    assert hierarchical_communities([], [], Settings()) == []


def test_speed_on_a_20k_node_60k_edge_graph() -> None:
    rng = random.Random(0)
    n = 20_000
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < 60_000:
        a, b = rng.randrange(n), rng.randrange(n)
        if a != b:
            pairs.add((min(a, b), max(a, b)))
    entities = [entity(f"N{i}", [f"t{i % 5000}"]) for i in range(n)]
    rels = [rel(f"N{a}", f"N{b}") for a, b in sorted(pairs)]
    started = time.perf_counter()
    found = hierarchical_communities(entities, rels, Settings())
    elapsed = time.perf_counter() - started
    assert len(entity_community_map(found, 0)) == n
    assert max(c.size for c in found if not c.children) <= 10
    assert elapsed < 20, f"clustering took {elapsed:.1f} s"
