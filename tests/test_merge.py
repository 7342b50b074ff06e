"""Merging raw records into the graph: types, aliases, relationships, determinism."""

from __future__ import annotations

import copy

from graphrag_lite.index.extract.names import name_shape
from graphrag_lite.index.extract.records import RawEntity, RawRelationship
from graphrag_lite.index.graph.merge import (
    MergeResult,
    join_descriptions,
    merge_graph,
    split_descriptions,
)
from graphrag_lite.store.ids import entity_id, relationship_id
from graphrag_lite.store.records import Entity, TextUnit


def units(n: int) -> list[TextUnit]:
    return [
        TextUnit(id=f"t-{i}", document_id="d-1", chunk_index=i, text=f"unit {i}", n_tokens=2)
        for i in range(n)
    ]


def ent(title: str, type_: str, description: str, unit: int) -> RawEntity:
    return RawEntity(title=title, type=type_, description=description, text_unit_id=f"t-{unit}")


def rel(source: str, target: str, description: str, weight: float, unit: int) -> RawRelationship:
    return RawRelationship(source, target, description, weight, f"t-{unit}")


def by_title(result: MergeResult) -> dict[str, Entity]:
    return {e.title: e for e in result.entities}


def test_majority_type_other_types_and_frequency() -> None:
    raw = [
        ent("London", "geo", "The city.", 0),
        ent("LONDON", "geo", "The city.", 1),
        ent("london", "organization", "The corporation.", 1),
        ent("London", "event", "A fair.", 2),
        ent("Fezziwig", "person", "A merchant.", 0),
        ent("Fezziwig", "organization", "A warehouse.", 1),
    ]
    result = merge_graph(raw, [], units(3))
    london = by_title(result)["London"]
    assert london.type == "geo"
    assert london.other_types == ["event", "organization"]
    assert london.frequency == 3
    assert london.text_unit_ids == ["t-0", "t-1", "t-2"]
    assert london.description == "The city.\nThe corporation.\nA fair."  # de-duplicated, first-seen order
    fezziwig = by_title(result)["Fezziwig"]  # a tie is broken alphabetically
    assert (fezziwig.type, fezziwig.other_types) == ("organization", ["person"])
    assert london.id == entity_id("London")


def test_display_title_prefers_mixed_case() -> None:
    raw = [
        ent("EBENEZER SCROOGE", "person", "a", 0),
        ent("EBENEZER SCROOGE", "person", "b", 0),
        ent("Ebenezer Scrooge", "person", "c", 1),
    ]
    result = merge_graph(raw, [], units(2))
    assert [e.title for e in result.entities] == ["Ebenezer Scrooge"]


def test_scrooge_aliases_merge_when_they_share_text_units() -> None:
    raw = [
        ent("Ebenezer Scrooge", "person", "A covetous old sinner.", 0),
        ent("Scrooge", "person", "Marley's sole executor.", 0),
        ent("Scrooge", "person", "Refuses his nephew's invitation.", 1),
        ent("Mr. Scrooge", "person", "Addressed by two portly gentlemen.", 1),
        ent("Bob Cratchit", "person", "Scrooge's clerk.", 1),
    ]
    rels = [
        rel("Mr. Scrooge", "Bob Cratchit", "Bob works for Mr. Scrooge.", 5, 1),
        rel("Scrooge", "Bob Cratchit", "Scrooge employs Bob.", 3, 1),
        rel("Scrooge", "Mr. Scrooge", "Same man.", 2, 1),
    ]
    result = merge_graph(raw, rels, units(2))
    entities = by_title(result)
    assert set(entities) == {"Ebenezer Scrooge", "Bob Cratchit"}
    scrooge = entities["Ebenezer Scrooge"]
    assert scrooge.aliases == ["Mr. Scrooge", "Scrooge"]
    assert split_descriptions(scrooge.description) == [
        "A covetous old sinner.",
        "Marley's sole executor.",
        "Refuses his nephew's invitation.",
        "Addressed by two portly gentlemen.",
    ]
    assert scrooge.text_unit_ids == ["t-0", "t-1"]
    # endpoints remapped through the aliases: one edge, weights summed; the self-loop is gone
    assert [(r.source, r.target, r.weight) for r in result.relationships] == [
        ("Bob Cratchit", "Ebenezer Scrooge", 8.0)
    ]
    merged = {d.alias: d for d in result.alias_decisions if d.merged}
    assert set(merged) == {"Scrooge", "Mr. Scrooge"}
    assert merged["Scrooge"].canonical == "Ebenezer Scrooge"
    assert "last name of 'Ebenezer Scrooge'" in merged["Scrooge"].reason
    assert "1 text unit" in merged["Scrooge"].reason
    assert "'Mr. Scrooge' is 'Scrooge' with a title" in merged["Mr. Scrooge"].reason


def test_no_merge_without_a_shared_text_unit() -> None:
    raw = [ent("Ebenezer Scrooge", "person", "A miser.", 0), ent("Scrooge", "person", "A miser.", 1)]
    result = merge_graph(raw, [], units(2))
    assert {e.title for e in result.entities} == {"Ebenezer Scrooge", "Scrooge"}
    (decision,) = result.alias_decisions
    assert not decision.merged and "never appear in the same text unit" in decision.reason


def test_ambiguous_short_name_stays_separate() -> None:
    raw = [
        ent("Sherlock Holmes", "person", "A detective.", 0),
        ent("Mycroft Holmes", "person", "His brother.", 0),
        ent("Holmes", "person", "Smokes a pipe.", 0),
        ent("Mr. Holmes", "person", "Visited by a client.", 0),
    ]
    result = merge_graph(raw, [], units(1))
    assert {e.title for e in result.entities} == {"Sherlock Holmes", "Mycroft Holmes", "Holmes"}
    assert by_title(result)["Holmes"].aliases == ["Mr. Holmes"]  # the bare form still takes its title form
    refused = [d for d in result.alias_decisions if not d.merged]
    assert [d.alias for d in refused] == ["Holmes"]
    assert "Mycroft Holmes, Sherlock Holmes" in refused[0].reason


def test_female_title_and_non_name_targets_are_not_merged() -> None:
    raw = [
        ent("Bob Cratchit", "person", "Clerk.", 0),
        ent("Mrs. Cratchit", "person", "His wife.", 0),
        ent("Mr. Fezziwig", "person", "Merchant.", 0),
        ent("Mrs. Fezziwig", "person", "His wife.", 0),
        ent("Ghost of Jacob Marley", "person", "A spectre.", 0),
        ent("Scrooge and Marley", "person", "The firm.", 0),
        ent("Marley", "person", "Dead partner.", 0),
    ]
    result = merge_graph(raw, [], units(1))
    assert {e.title for e in result.entities} == {
        "Bob Cratchit",
        "Mrs. Cratchit",
        "Mr. Fezziwig",
        "Mrs. Fezziwig",
        "Ghost of Jacob Marley",
        "Scrooge and Marley",
        "Marley",
    }
    refused = {d.alias: d.reason for d in result.alias_decisions if not d.merged}
    assert "female title does not fit Bob Cratchit" in refused["Mrs. Cratchit"]


def test_alias_needs_a_person_like_type() -> None:
    raw = [
        ent("Scrooge and Marley", "organization", "The firm.", 0),
        ent("Marley", "organization", "x", 0),
        ent("Jacob Marley", "person", "Dead.", 0),
        ent("Marley", "person", "Dead partner.", 0),
    ]
    result = merge_graph(raw, [], units(1))
    # "Marley" has a tie organization/person -> organization: not person-like, not merged
    assert {e.title for e in result.entities} == {"Scrooge and Marley", "Marley", "Jacob Marley"}


def test_resolution_can_be_switched_off() -> None:
    raw = [ent("Ebenezer Scrooge", "person", "A miser.", 0), ent("Scrooge", "person", "A miser.", 0)]
    result = merge_graph(raw, [], units(1), resolve=False)
    assert {e.title for e in result.entities} == {"Ebenezer Scrooge", "Scrooge"}
    assert result.alias_decisions == []


def test_relationship_endpoint_becomes_an_entity() -> None:
    raw = [ent("Ebenezer Scrooge", "person", "A miser.", 0)]
    rels = [
        rel("Ebenezer Scrooge", "Fred", "Fred is Scrooge's nephew.", 7, 0),
        rel("Fred", "Ebenezer Scrooge", "Fred invites him to dinner.", 3, 1),
    ]
    result = merge_graph(raw, rels, units(2))
    fred = by_title(result)["Fred"]
    assert fred.type == "unknown"
    assert fred.description == "Fred is Scrooge's nephew.\nFred invites him to dinner."
    assert fred.text_unit_ids == ["t-0", "t-1"]
    (edge,) = result.relationships
    assert (edge.source, edge.target, edge.weight) == ("Ebenezer Scrooge", "Fred", 10.0)
    assert edge.id == relationship_id("Fred", "Ebenezer Scrooge")
    assert split_descriptions(edge.description) == [
        "Fred is Scrooge's nephew.",
        "Fred invites him to dinner.",
    ]


def test_relationships_merge_per_unordered_pair_with_sorted_endpoints() -> None:
    raw = [
        ent("Marley", "person", "Dead.", 0),
        ent("Bob Cratchit", "person", "Clerk.", 0),
        ent("Ebenezer Scrooge", "person", "Miser.", 0),
    ]
    rels = [
        rel("Marley", "Ebenezer Scrooge", "Partners.", 9, 1),
        rel("Ebenezer Scrooge", "Marley", "Partners.", 1, 0),
        rel("Marley", "Marley", "A self-loop.", 5, 0),
        rel("Ebenezer Scrooge", "Bob Cratchit", "Employer.", 2, 0),
    ]
    result = merge_graph(raw, rels, units(2))
    assert [(r.source, r.target, r.weight, r.text_unit_ids) for r in result.relationships] == [
        ("Bob Cratchit", "Ebenezer Scrooge", 2.0, ["t-0"]),
        ("Ebenezer Scrooge", "Marley", 10.0, ["t-0", "t-1"]),
    ]
    assert result.relationships[1].description == "Partners."
    assert all(r.source.upper() < r.target.upper() for r in result.relationships)


def test_text_units_are_linked() -> None:
    text_units = units(2)
    raw = [ent("Ebenezer Scrooge", "person", "Miser.", 0), ent("Marley", "person", "Dead.", 1)]
    result = merge_graph(raw, [rel("Ebenezer Scrooge", "Marley", "Partners.", 9, 1)], text_units)
    scrooge, marley = result.entities
    assert text_units[0].entity_ids == [scrooge.id]
    assert text_units[1].entity_ids == [scrooge.id, marley.id]  # a relationship endpoint is a mention
    assert scrooge.text_unit_ids == ["t-0", "t-1"] and scrooge.frequency == 2
    assert text_units[1].relationship_ids == [result.relationships[0].id]
    assert text_units[0].relationship_ids == []


def test_merge_is_deterministic() -> None:
    raw = [
        ent("Scrooge", "person", "Miser.", 1),
        ent("Ebenezer Scrooge", "person", "Old sinner.", 1),
        ent("London", "geo", "City.", 0),
        ent("Fred", "person", "Nephew.", 2),
    ]
    rels = [rel("Scrooge", "Fred", "Uncle.", 4, 2), rel("London", "Scrooge", "Lives there.", 2, 1)]
    first = merge_graph(copy.deepcopy(raw), copy.deepcopy(rels), units(3))
    second = merge_graph(copy.deepcopy(raw), copy.deepcopy(rels), units(3))
    assert first == second
    assert [e.title for e in first.entities] == sorted(e.title for e in first.entities)
    assert by_title(first)["Ebenezer Scrooge"].text_unit_ids == ["t-1", "t-2"]


def test_description_join_and_split() -> None:
    joined = join_descriptions(["A miser.", "a  miser", "", "Hard as flint.\nAnd sharp."])
    assert split_descriptions(joined) == ["A miser.", "Hard as flint. And sharp."]
    assert split_descriptions("") == []
    assert split_descriptions("One summary.") == ["One summary."]


def test_name_shape() -> None:
    shape = name_shape("MRS. BELINDA CRATCHIT")
    assert (shape.prefixes, shape.core, shape.gender) == (("MRS",), ("BELINDA", "CRATCHIT"), "female")
    assert name_shape("OLD MARLEY").core == ("MARLEY",)
    assert not name_shape("GHOST OF JACOB MARLEY").name_like
    assert name_shape("MR").core == ("MR",)  # a lone title is kept as a name
