"""The extraction record parser: every record survives the ways real model replies go wrong."""

from __future__ import annotations

import pytest

from graphrag_lite.index.extract.records import parse_records, parse_weight
from graphrag_lite.store.ids import normalize_title

WELL_FORMED = """("entity"|Ebenezer Scrooge|person|A miserly old man who keeps a counting-house in London.)
("entity"|Jacob Marley|person|Scrooge's business partner, dead seven years.)
("entity"|London|geo|The city where Scrooge works.)
("relationship"|Ebenezer Scrooge|Jacob Marley|They were partners in the firm for many years.|9)
("relationship"|Ebenezer Scrooge|London|Scrooge keeps his counting-house in London.|4)
<|DONE|>"""


def titles(text: str) -> list[str]:
    return [e.title for e in parse_records(text).entities]


def pairs(text: str) -> list[tuple[str, str]]:
    return [(r.source, r.target) for r in parse_records(text).relationships]


def test_well_formed_reply_is_read_completely() -> None:
    parsed = parse_records(WELL_FORMED, "t-1")
    assert [(e.title, e.type) for e in parsed.entities] == [
        ("Ebenezer Scrooge", "person"),
        ("Jacob Marley", "person"),
        ("London", "geo"),
    ]
    assert parsed.entities[1].description == "Scrooge's business partner, dead seven years."
    rel = parsed.relationships[0]
    assert (rel.source, rel.target, rel.weight) == ("Ebenezer Scrooge", "Jacob Marley", 9.0)
    assert rel.description == "They were partners in the firm for many years."
    assert parsed.complete is True
    assert parsed.rejected == []
    assert {e.text_unit_id for e in parsed.entities} == {"t-1"}
    assert {r.text_unit_id for r in parsed.relationships} == {"t-1"}


def test_missing_end_marker_keeps_every_record() -> None:
    text = WELL_FORMED.replace("<|DONE|>", "")
    parsed = parse_records(text)
    assert parsed.complete is False
    assert len(parsed.entities) == 3 and len(parsed.relationships) == 2


def test_code_fence_and_prose_around_records() -> None:
    text = (
        "Sure! Here are the entities and relationships I found:\n\n```text\n"
        + WELL_FORMED
        + "\n```\n\nLet me know if you need anything else (for example more detail)."
    )
    parsed = parse_records(text)
    assert titles(text) == ["Ebenezer Scrooge", "Jacob Marley", "London"]
    assert parsed.relationships[-1].description == "Scrooge keeps his counting-house in London."
    assert parsed.complete and parsed.rejected == []


def test_gleaning_reply_glued_to_previous_reply_without_newline() -> None:
    first = (
        '("entity"|Ebenezer Scrooge|person|A miser.)\n'
        '("relationship"|Ebenezer Scrooge|Bob Cratchit|Employs him.|7)'
    )
    second = '("entity"|Bob Cratchit|person|Scrooge\'s clerk.)<|DONE|>'
    parsed = parse_records(first + second)
    assert titles(first + second) == ["Ebenezer Scrooge", "Bob Cratchit"]
    assert parsed.relationships[0].description == "Employs him."
    assert parsed.relationships[0].weight == 7.0
    # records after a premature end marker are kept too
    glued = first + "\n<|DONE|>" + second
    assert titles(glued) == ["Ebenezer Scrooge", "Bob Cratchit"]
    assert parse_records(glued).complete


def test_wrong_case_extra_whitespace_and_quotes() -> None:
    text = (
        '(  "ENTITY" |  "Ebenezer   Scrooge" | PERSON |  "A  miser."  )\n'
        "('Relationship'| 'Ebenezer Scrooge' |“Jacob Marley”| Partners. | 8 )\n"
    )
    parsed = parse_records(text)
    entity = parsed.entities[0]
    assert (entity.title, entity.type, entity.description) == ("Ebenezer Scrooge", "person", "A miser.")
    assert normalize_title(entity.title) == "EBENEZER SCROOGE"
    rel = parsed.relationships[0]
    assert (rel.source, rel.target, rel.description, rel.weight) == (
        "Ebenezer Scrooge",
        "Jacob Marley",
        "Partners.",
        8.0,
    )


def test_record_broken_over_two_lines() -> None:
    text = (
        '("entity"|Ebenezer Scrooge|person|A squeezing, wrenching, grasping,\n'
        "covetous old sinner, hard and sharp as flint.)\n"
        '("relationship"|Ebenezer Scrooge|Jacob Marley|Partners\nfor many years.|\n9)\n'
        "<|DONE|>"
    )
    parsed = parse_records(text)
    assert parsed.entities[0].description == (
        "A squeezing, wrenching, grasping, covetous old sinner, hard and sharp as flint."
    )
    assert parsed.relationships[0].description == "Partners for many years."
    assert parsed.relationships[0].weight == 9.0


def test_parentheses_inside_descriptions() -> None:
    text = (
        '("entity"|Tim Cratchit|person|The youngest son (called Tiny Tim) of Bob Cratchit.)\n'
        "(\"entity\"|Fred|person|Scrooge's nephew (his sister's son)) who visits him.)\n"
        '("entity"|Fan|person|Scrooge\'s sister (who died young)\n'
    )
    parsed = parse_records(text)
    assert [e.description for e in parsed.entities] == [
        "The youngest son (called Tiny Tim) of Bob Cratchit.",
        "Scrooge's nephew (his sister's son)) who visits him.",
        "Scrooge's sister (who died young)",
    ]


def test_truncated_last_record_and_missing_parentheses() -> None:
    text = (
        '"entity"|Ebenezer Scrooge|person|A miser.\n'
        "- entity|London|geo|The city.\n"
        '("relationship"|Ebenezer Scrooge|London|Works in the city'
    )
    parsed = parse_records(text)
    assert titles(text) == ["Ebenezer Scrooge", "London"]
    assert parsed.entities[0].description == "A miser."
    assert pairs(text) == [("Ebenezer Scrooge", "London")]
    assert parsed.relationships[0].weight == 1.0
    assert parsed.complete is False


def test_alternative_delimiters_and_record_separators() -> None:
    text = (
        '("entity"<|>Ebenezer Scrooge<|>person<|>A miser.)##\n'
        '("entity"<|>Jacob Marley<|>person<|>His partner.)##("relationship"<|>Ebenezer Scrooge<|>'
        "Jacob Marley<|>Partners.<|>6)\n<|COMPLETE|>"
    )
    parsed = parse_records(text)
    assert titles(text) == ["Ebenezer Scrooge", "Jacob Marley"]
    assert parsed.relationships[0].weight == 6.0
    assert parsed.complete


def test_unusable_records_are_rejected_not_raised() -> None:
    text = '("entity"| |person|no title)\n("relationship"|Ebenezer Scrooge)\n("entity"|London|geo|A city.)'
    parsed = parse_records(text)
    assert titles(text) == ["London"]
    assert len(parsed.rejected) == 2
    assert parse_records("").count == 0
    assert parse_records("I could not find any entities in this text.").count == 0


def test_missing_type_and_description_default() -> None:
    parsed = parse_records('("entity"|Marley)\n("relationship"|Scrooge|Marley|9)')
    assert (parsed.entities[0].type, parsed.entities[0].description) == ("unknown", "")
    assert (parsed.relationships[0].description, parsed.relationships[0].weight) == ("", 9.0)


def test_entity_with_trailing_score_field() -> None:
    parsed = parse_records('("entity"|Marley|person|The dead partner.|0.9)')
    assert parsed.entities[0].description == "The dead partner."


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("8", 8.0),
        ("8/10", 8.0),
        ("4/5", 8.0),
        ("0.8", 8.0),
        ("80%", 8.0),
        ("strength: 6", 6.0),
        ("7.", 7.0),
        ("15", 10.0),
        ("0", 1.0),
        ("-3", 1.0),
        ("7.5", 7.5),
        ("high", None),
    ],
)
def test_weights(raw: str, expected: float | None) -> None:
    assert parse_weight(raw) == expected


def test_non_numeric_last_field_stays_in_the_description() -> None:
    parsed = parse_records('("relationship"|Scrooge|Marley|Partners|for years)')
    rel = parsed.relationships[0]
    assert (rel.description, rel.weight) == ("Partners | for years", 1.0)
