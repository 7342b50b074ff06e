"""Test-server replies for the query prompts (local, basic, global map / reduce / rate).

They behave like a literal-minded model: answers are the context sentences sharing the most words with the
question, cited by the ids the context shows; map points are report lines that share words with the question,
scored by the overlap (0 when nothing overlaps, so an unrelated question finds nothing).
"""

from __future__ import annotations

import json
import re

from support.replies import ReplyRequest

LOCAL_MARKER = "## How to answer (local search)"
BASIC_MARKER = "## How to answer (basic search)"
MAP_MARKER = "## What to reply (global search, map step)"
REDUCE_MARKER = "## How to answer (global search, reduce step)"
RATE_MARKER = "## What to reply (global search, relevance rating)"
NO_ANSWER = "The data provided does not contain the answer to this question."

_WORD = re.compile(r"[^\W_]+")
_STOP_TEXT = """
    a an and are as at be but by can did do does for from had has have he her him his how i in into is it
    its me my no not of on or our she so that the their them then there these they this those to us was we
    were what when where which who whom whose why will with you your about also main
"""
_STOP = frozenset(_STOP_TEXT.split())
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _words(text: str) -> set[str]:
    out = set()
    for word in _WORD.findall(text.lower()):
        if word in _STOP or len(word) < 2:
            continue
        out.add(word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word)
    return out


def _system(request: ReplyRequest) -> str:
    return "\n".join(m["content"] for m in request.messages if m.get("role") == "system")


def _section_rows(text: str, title: str) -> list[tuple[str, str]]:
    """(id, rest of row) for the rows of the ``-----title-----`` table."""
    rows: list[tuple[str, str]] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("-----"):
            inside = line.strip("-").strip() == title
            continue
        if inside and "|" in line:
            row_id, rest = line.split("|", 1)
            if row_id.strip().isdigit():
                rows.append((row_id.strip(), rest))
    return rows


def _report_blocks(text: str) -> list[tuple[str, str]]:
    """(number, text) of every ``[n] ...`` report block."""
    blocks = re.split(r"^\[(\d+)\] ", text, flags=re.MULTILINE)
    return [(blocks[i], blocks[i + 1]) for i in range(1, len(blocks) - 1, 2)]


def answer_from_sources(request: ReplyRequest) -> str:
    """Up to three source sentences with the most question words, each cited."""
    question = _words(request.last_user)
    scored: list[tuple[int, int, str, str]] = []
    for order, (row_id, text) in enumerate(_section_rows(_system(request), "Sources")):
        for sentence in _SENTENCE.split(text):
            overlap = len(question & _words(sentence))
            if overlap:
                scored.append((-overlap, order, row_id, sentence.strip()))
    if not scored:
        return NO_ANSWER
    scored.sort()
    return " ".join(f"{sentence} [Data: Sources ({row_id})]" for _, _, row_id, sentence in scored[:3])


def map_points(request: ReplyRequest) -> str:
    """JSON points: report lines sharing words with the question, scored 25 per shared word (max 100)."""
    question = _words(request.last_user)
    points = []
    for number, block in _report_blocks(_system(request)):
        for line in block.splitlines():
            line = line.strip(" #*-")
            overlap = len(question & _words(line))
            if overlap and len(line.split()) >= 3:
                description = f"{line} [Data: Reports ({number})]"
                points.append({"description": description, "score": min(100, 25 * overlap)})
    points.sort(key=lambda p: -int(str(p["score"])))
    return json.dumps({"points": points[:10]})


def reduce_points(request: ReplyRequest) -> str:
    """The three most important points, joined."""
    points = re.findall(r"----Point \d+----\nImportance: \d+\n(.+)", _system(request))
    if not points:
        return NO_ANSWER
    return "The main points are: " + " ".join(p.strip() for p in points[:3])


def rate_report(request: ReplyRequest) -> str:
    """Rating 0-10: three per question word the report shares."""
    text = _system(request).split("## Report", 1)[-1]
    overlap = len(_words(request.last_user) & _words(text))
    return json.dumps({"reason": f"shares {overlap} words with the question", "rating": min(10, 3 * overlap)})


HANDLERS = [
    (LOCAL_MARKER, answer_from_sources),
    (BASIC_MARKER, answer_from_sources),
    (MAP_MARKER, map_points),
    (REDUCE_MARKER, reduce_points),
    (RATE_MARKER, rate_report),
]
