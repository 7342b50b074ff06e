"""Pruning the fast method's graph: each threshold, the protected persons, and consistent records."""

from __future__ import annotations

import dataclasses

from graphrag_lite.config.settings import Settings
from graphrag_lite.index.graph.prune import edge_weight_threshold, prune_graph, prune_table
from graphrag_lite.store.ids import entity_id, relationship_id
from graphrag_lite.store.records import Entity, Relationship, TextUnit
from graphrag_lite.store.tables import arrow_to_records, records_to_table


def entity(title: str, type_: str, frequency: int) -> Entity:
    units = [f"t{n}" for n in range(frequency)]
    return Entity(
        id=entity_id(title),
        title=title,
        type=type_,
        description=title,
        text_unit_ids=units,
        frequency=frequency,
    )


def edge(a: str, b: str, weight: float) -> Relationship:
    source, target = sorted((a, b))
    return Relationship(
        id=relationship_id(a, b),
        source=source,
        target=target,
        description=f"{a}-{b}",
        weight=weight,
        text_unit_ids=["t0"],
    )


def settings(min_frequency: int = 2, edge_percentile: float = 0.0, min_degree: int = 0) -> Settings:
    s = Settings()
    s.nlp.min_frequency = min_frequency
    s.nlp.edge_percentile = edge_percentile
    s.nlp.min_degree = min_degree
    return s


def titles(entities: list[Entity]) -> set[str]:
    return {e.title for e in entities}


def test_rare_concepts_go_but_rare_names_stay() -> None:
    entities = [
        entity("Scrooge", "person", 5),
        entity("Belle", "person", 1),
        entity("London", "geo", 1),
        entity("door-nail", "concept", 1),
        entity("counting-house", "concept", 2),
    ]
    relationships = [
        edge("Scrooge", "door-nail", 1),
        edge("Scrooge", "counting-house", 2),
        edge("Scrooge", "Belle", 1),
    ]
    result = prune_graph(entities, relationships, settings(min_frequency=2))
    assert titles(result.entities) == {"Scrooge", "Belle", "London", "counting-house"}
    assert {(r.source, r.target) for r in result.relationships} == {
        ("Belle", "Scrooge"),
        ("Scrooge", "counting-house"),
    }
    assert result.stats["dropped_concepts_low_frequency"] == 1
    assert result.stats["dropped_edges_with_dropped_nodes"] == 1
    strict = prune_graph(entities, relationships, settings(min_frequency=3))
    assert "counting-house" not in titles(strict.entities)


def test_edges_below_the_weight_percentile_are_dropped_ties_kept() -> None:
    names = ["A", "B", "C", "D", "E", "F"]
    entities = [entity(n, "organization", 3) for n in names]
    # three strong pairs linked by two weaker edges, neither of them the strongest edge of its ends
    pairs = [("A", "B", 5), ("C", "D", 4), ("E", "F", 3), ("A", "C", 2), ("D", "E", 1)]
    relationships = [edge(a, b, w) for a, b, w in pairs]
    assert edge_weight_threshold([r.weight for r in relationships], 40) == 2.6  # linear interpolation
    result = prune_graph(entities, relationships, settings(edge_percentile=40))
    assert sorted(r.weight for r in result.relationships) == [3, 4, 5]
    assert result.stats["dropped_edges_low_weight"] == 2 and result.stats["edge_weight_threshold"] == 2.6
    assert prune_graph(entities, relationships, settings(edge_percentile=100)).relationships[0].weight == 5
    # four weight-1 edges between nodes that all have a weight-3 edge: the 40th and 60th percentiles
    # are 1, and ties at the threshold are kept; at the 70th (2.0) they go
    ties = [edge(a, b, w) for a, b, w in [("A", "B", 3), ("C", "D", 3)]]
    ties += [edge(a, b, 1) for a, b in [("A", "C"), ("A", "D"), ("B", "C"), ("B", "D")]]
    assert len(prune_graph(entities, ties, settings(edge_percentile=40)).relationships) == 6
    assert len(prune_graph(entities, ties, settings(edge_percentile=60)).relationships) == 6
    assert len(prune_graph(entities, ties, settings(edge_percentile=70)).relationships) == 2


def test_weight_cut_keeps_each_nodes_strongest_edge() -> None:
    """A rare name seen only beside the hero keeps that one weak edge; a weak edge nobody needs goes."""
    names = ["Scrooge", "Ghost", "Marley", "Belle", "Topper"]
    entities = [entity(n, "person", 1) for n in names]
    pairs = [
        ("Scrooge", "Ghost", 5.0),
        ("Ghost", "Marley", 4.0),
        ("Scrooge", "Marley", 3.0),
        ("Scrooge", "Belle", 0.5),  # Belle's only edge
        ("Scrooge", "Topper", 0.6),  # Topper's strongest edge
        ("Belle", "Topper", 0.2),  # below the threshold and neither end's strongest
    ]
    result = prune_graph(entities, [edge(a, b, w) for a, b, w in pairs], settings(edge_percentile=40))
    assert result.stats["edge_weight_threshold"] == 0.6
    kept = {(r.source, r.target): r.weight for r in result.relationships}
    assert ("Belle", "Scrooge") in kept and ("Belle", "Topper") not in kept and len(kept) == 5
    assert result.stats["dropped_edges_low_weight"] == 1
    assert result.stats["kept_edges_below_threshold_strongest_of_a_node"] == 1
    assert titles(result.entities) == set(names)


def test_min_degree_is_a_core_and_recurring_persons_are_protected() -> None:
    entities = [entity(n, "organization", 3) for n in ("A", "B", "C", "D")]
    entities += [entity("Fred", "person", 4), entity("Belle", "person", 1), entity("tail", "concept", 3)]
    # triangle A-B-C, D hangs on A, tail hangs on D: with min_degree 2 D and tail go (D loses tail first)
    relationships = [
        edge("A", "B", 2),
        edge("B", "C", 2),
        edge("A", "C", 2),
        edge("A", "D", 2),
        edge("D", "tail", 2),
    ]
    result = prune_graph(entities, relationships, settings(min_degree=2))
    assert titles(result.entities) == {"A", "B", "C", "Fred"}  # Fred: a person in 4 units, no edges needed
    assert result.stats["dropped_nodes_low_degree"] == 3
    assert result.stats["kept_persons_without_enough_edges"] == 1
    degrees = {e.title: e.degree for e in result.entities}
    assert degrees == {"A": 2, "B": 2, "C": 2, "Fred": 0}
    assert all(r.combined_degree == 4 for r in result.relationships)
    isolated = prune_graph(entities, relationships, settings(min_degree=1))
    assert "Belle" not in titles(isolated.entities) and "Fred" in titles(isolated.entities)
    assert "Belle" in titles(prune_graph(entities, relationships, settings(min_degree=0)).entities)


def test_records_are_copied_and_text_units_relinked() -> None:
    entities = [entity("Scrooge", "person", 2), entity("Marley", "person", 2), entity("fog", "concept", 1)]
    relationships = [edge("Scrooge", "Marley", 3), edge("Scrooge", "fog", 1), edge("Ghost", "Scrooge", 1)]
    before = [dataclasses.replace(e) for e in entities]
    units = [
        TextUnit(id=f"t{n}", document_id="d", chunk_index=n, text="x", n_tokens=1, entity_ids=["stale"])
        for n in range(3)
    ]
    result = prune_graph(entities, relationships, Settings(), text_units=units)
    assert entities == before  # inputs untouched (degree is set on the copies)
    assert titles(result.entities) == {"Scrooge", "Marley"}
    assert [r.id for r in result.relationships] == [relationship_id("Scrooge", "Marley")]  # "Ghost" unknown
    assert units[0].entity_ids == [entity_id("Scrooge"), entity_id("Marley")]
    assert units[0].relationship_ids == [relationship_id("Scrooge", "Marley")]
    assert units[2].entity_ids == [] and units[2].relationship_ids == []
    kept_units = {u for e in result.entities for u in e.text_unit_ids}
    assert kept_units <= {u.id for u in units}
    assert result.stats["entities_in"] == 3 and result.stats["entities_out"] == 2


def test_defaults_are_documented_values() -> None:
    nlp = Settings().nlp
    assert (nlp.min_frequency, nlp.edge_percentile, nlp.min_degree) == (2, 40.0, 1)
    assert nlp.edge_weighting == "npmi"
    empty = prune_graph([], [], Settings())
    assert empty.entities == [] and empty.relationships == [] and empty.stats["edge_weight_threshold"] == 0.0


def test_an_edge_must_be_among_the_strongest_of_one_of_its_ends() -> None:
    # A and B each have two stronger edges, so with at most 2 per entity the weak A-B edge is the third of
    # both ends and goes; every leaf's single edge is its own strongest and stays.
    entities = [entity(name, "person", 2) for name in "ABCDEF"]
    pairs = [("A", "C", 5), ("A", "D", 4), ("B", "E", 5), ("B", "F", 4), ("A", "B", 1)]
    relationships = [edge(a, b, w) for a, b, w in pairs]
    capped = settings()
    capped.nlp.max_edges_per_entity = 2
    result = prune_graph(entities, relationships, capped)
    assert {(r.source, r.target) for r in result.relationships} == {
        ("A", "C"),
        ("A", "D"),
        ("B", "E"),
        ("B", "F"),
    }
    assert result.stats["dropped_edges_over_max_per_entity"] == 1
    capped.nlp.max_edges_per_entity = 0  # no cap
    assert len(prune_graph(entities, relationships, capped).relationships) == 5


def test_the_table_path_prunes_like_the_records() -> None:
    entities = [entity("Scrooge", "person", 5), entity("Belle", "person", 1), entity("gloom", "concept", 1)]
    entities += [entity(f"N{i}", "geo", 2) for i in range(6)]
    pairs = [("Scrooge", f"N{i}", 1 + i) for i in range(6)]
    pairs += [("Scrooge", "Belle", 3), ("Scrooge", "gloom", 9), ("N1", "N2", 2), ("N3", "N4", 0.5)]
    relationships = [edge(a, b, w) for a, b, w in pairs]
    chosen = settings(edge_percentile=20, min_degree=1)
    chosen.nlp.max_edges_per_entity = 4
    records = prune_graph(entities, relationships, chosen)
    table = prune_table(entities, records_to_table("relationships", relationships), chosen)
    assert table.entities == records.entities
    assert arrow_to_records("relationships", table.relationships) == records.relationships
    assert table.stats == records.stats
    assert records.stats["dropped_concepts_low_frequency"] == 1 and records.relationships
