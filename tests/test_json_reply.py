"""Parsing model replies that are almost JSON, and normalising community report fields."""

from __future__ import annotations

import pytest

from graphrag_lite.errors import LLMError
from graphrag_lite.index.reports.reply import coerce_report
from graphrag_lite.models.json_reply import JSONReplyError, parse_json_reply
from graphrag_lite.store.records import Finding

REPORT = '{"title": "Scrooge and Marley", "summary": "Partners.", "findings": [], "rating": 7}'


@pytest.mark.parametrize(
    "reply",
    [
        REPORT,
        f"```json\n{REPORT}\n```",
        f"```\n{REPORT}\n```",
        f"Here is the report you asked for:\n\n{REPORT}\n\nLet me know if you need more.",
        f"Sure! ```json\n{REPORT}\n``` Anything else?",
        REPORT.replace('"rating": 7}', '"rating": 7,}'),  # trailing comma
        # single quotes
        "{'title': 'Scrooge and Marley', 'summary': 'Partners.', 'findings': [], 'rating': 7}",
    ],
    ids=[
        "plain",
        "fence-json",
        "fence-bare",
        "prose-around",
        "prose-and-fence",
        "trailing-comma",
        "single-quotes",
    ],
)
def test_recovers_the_object(reply: str) -> None:
    assert parse_json_reply(reply) == {
        "title": "Scrooge and Marley",
        "summary": "Partners.",
        "findings": [],
        "rating": 7,
    }


def test_truncated_object_keeps_what_was_written() -> None:
    reply = (
        '{"title": "The Cratchit household", "summary": "Bob Cratchit\'s family.", "findings": '
        '[{"summary": "Tiny Tim is ill", "explanation": "He walks with a crutch."}, {"summary": "Bob is po'
    )
    value = parse_json_reply(reply)
    assert isinstance(value, dict) and value["title"] == "The Cratchit household"
    assert value["findings"][0] == {"summary": "Tiny Tim is ill", "explanation": "He walks with a crutch."}
    report = coerce_report(value)
    assert report.findings[0] == Finding("Tiny Tim is ill", "He walks with a crutch.")


def test_unterminated_fence_and_arrays() -> None:
    assert parse_json_reply('```json\n{"points": [{"description": "x", "score": 80}]') == {
        "points": [{"description": "x", "score": 80}]
    }
    assert parse_json_reply("[1, 2, 3]") == [1, 2, 3]
    # a bracket in the prose ("[1]") must not win over the object that follows
    assert parse_json_reply('As noted in [1], the answer is {"a": 1}') == {"a": 1}


@pytest.mark.parametrize("reply", ["", "   \n", "I am sorry, I cannot write that report.", "```\n```"])
def test_nothing_recoverable_raises_a_clear_error(reply: str) -> None:
    with pytest.raises(JSONReplyError) as info:
        parse_json_reply(reply)
    assert isinstance(info.value, LLMError) and isinstance(info.value, ValueError)
    assert "JSON" in str(info.value) and "json_mode" in str(info.value)


def test_coerce_report_normalises_fields() -> None:
    report = coerce_report(
        {
            "Title": "  Scrooge and Marley  ",
            "summary": " Two partners in a counting-house. ",
            "findings": [
                {"summary": " Marley is dead ", "explanation": " He died seven years ago. "},
                {"title": "Scrooge is mean", "details": "He refuses to give to charity."},
                "The firm is still called Scrooge and Marley",
                {"irrelevant": 1},
                42,
            ],
            "rating": "8.5/10",
            "rating_explanation": " Central to the story. ",
        }
    )
    assert report.title == "Scrooge and Marley" and report.summary == "Two partners in a counting-house."
    assert report.findings == [
        Finding("Marley is dead", "He died seven years ago."),
        Finding("Scrooge is mean", "He refuses to give to charity."),
        Finding("The firm is still called Scrooge and Marley", ""),
    ]
    assert report.rating == 8.5 and report.rating_explanation == "Central to the story."


@pytest.mark.parametrize(
    ("rating", "expected"),
    [
        (15, 10.0),
        (-3, 0.0),
        ("7", 7.0),
        ("high", 0.0),
        (None, 0.0),
        (True, 0.0),
        (float("nan"), 0.0),
        (6.25, 6.25),
    ],
)
def test_rating_is_clamped_to_0_10(rating: object, expected: float) -> None:
    assert coerce_report({"title": "T", "summary": "S", "rating": rating}).rating == expected


def test_coerce_report_unwraps_and_rejects() -> None:
    wrapped = coerce_report({"report": {"title": "Fezziwig's ball", "summary": "A party."}})
    assert wrapped.title == "Fezziwig's ball" and wrapped.findings == []
    assert coerce_report([{"title": "Fred", "findings": ["Fred invites Scrooge"]}]).summary == ""
    with pytest.raises(JSONReplyError, match="no title"):
        coerce_report({"summary": "No title here."})
    with pytest.raises(JSONReplyError, match="neither a summary nor findings"):
        coerce_report({"title": "Empty"})
    with pytest.raises(JSONReplyError, match="JSON object"):
        coerce_report("just text")
    assert parse_json_reply("{}") == {}  # valid JSON stays valid; the report check rejects it
    with pytest.raises(JSONReplyError, match="no title"):
        coerce_report(parse_json_reply("{}"))
