"""Focused gleaning: which sentences of a text unit a gleaning round sends (real spaCy pipeline)."""

from __future__ import annotations

from graphrag_lite.index.extract.glean_focus import (
    SKIPPED,
    UnitNames,
    find_names,
    focus,
    gleaning_scope,
    name_words,
)

TYPES = ["organization", "person", "geo", "event"]


def test_name_words_drop_titles_possessives_and_connectors() -> None:
    assert name_words("Mr. Scrooge's") == {"scrooge"}
    assert name_words("the Ghost of Christmas Past") == {"ghost", "christmas", "past"}
    assert name_words("Mrs. Cratchit") == {"mrs", "cratchit"}  # the wife, not Bob: the title stays


def test_a_name_is_covered_only_by_a_title_holding_all_its_words() -> None:
    unit = UnitNames(
        (
            "Scrooge sat.",
            "The Ghost of Christmas Past came.",
            "Fred laughed.",
            "It was late.",
            "Mrs. Cratchit cooked.",
            "Belle wept.",
            "Snow fell.",
        ),
        (("Scrooge",), ("Ghost of Christmas Past",), ("Fred",), (), ("Mrs. Cratchit",), ("Belle",), ()),
        (0, 0, 1, 1, 1, 1, 2),
    )
    missed = focus(unit, ["Ebenezer Scrooge", "Christmas", "Bob Cratchit"])
    assert missed is not None
    assert missed.names == ("Ghost of Christmas Past", "Fred", "Mrs. Cratchit", "Belle")
    assert missed.text == (
        f"{SKIPPED}\n\nThe Ghost of Christmas Past came.\n\nFred laughed.\n\n{SKIPPED}\n\n"
        f"Mrs. Cratchit cooked. Belle wept.\n\n{SKIPPED}"
    )
    everything = ["Ebenezer Scrooge", "Ghost of Christmas Past", "Mrs. Cratchit", "Fred", "Belle"]
    assert focus(unit, everything) is None


def test_find_names_reads_sentences_and_their_names() -> None:
    text = (
        "Scrooge walked through London on Christmas Eve.\nHe met nobody.\n\n"
        "Fezziwig's warehouse\nstood by the Bank of England."
    )
    unit = find_names(text, TYPES)
    assert unit.sentences == (
        "Scrooge walked through London on Christmas Eve.",
        "He met nobody.",
        "Fezziwig's warehouse stood by the Bank of England.",  # the hard line break is unwrapped
    )
    assert {"Scrooge", "London", "Christmas Eve"} <= set(unit.names[0])
    assert unit.names[1] == ()
    assert unit.paragraphs == (0, 0, 1)
    assert "Bank of England" in unit.names[2]


def test_names_follow_the_entity_types_asked_for() -> None:
    text = "Scrooge walked through London on Christmas Eve."
    only_places = find_names(text, ["geo"]).names[0]
    assert "London" in only_places and "Christmas Eve" not in only_places
    assert "Scrooge" not in only_places  # NER calls him a person


def test_types_that_need_not_be_names_glean_the_whole_unit() -> None:
    assert gleaning_scope("names", ["Person", "geo", "event", "organization"]) == "names"
    assert gleaning_scope("names", ["person", "technology"]) == "unit"  # "machine learning" is no name
    assert gleaning_scope("unit", ["person"]) == "unit"
    assert gleaning_scope("names", ["person", " "]) == "names"  # blank types are dropped, as the prompt does
