"""Test-server replies for lazy search: sub-queries, relevance tests, claims and the reduce.

A literal-minded model again: sub-queries are the question's content words in small groups; a passage is
relevant when it shares two of the question's content words (one, for a question with only one); claims
are the passage sentences sharing question words, scored 25 per shared word; the answer joins the best
claims.
"""

from __future__ import annotations

import json
import re

from support.replies import ReplyRequest
from support.replies.query import NO_ANSWER, _section_rows, _system, _words

SUBQUERIES_MARKER = "## What to reply (lazy search, sub-queries)"
RELEVANCE_MARKER = "## What to reply (lazy search, relevance test)"
CLAIMS_MARKER = "## What to reply (lazy search, claims)"
REDUCE_MARKER = "## How to answer (lazy search, reduce step)"
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[^\W_]+")


def subqueries(request: ReplyRequest) -> str:
    """The question's content words, two or three per sub-query, in question order."""
    wanted = int(m.group(1)) if (m := re.search(r"At most (\d+) queries", _system(request))) else 3
    question = request.last_user
    words = [w for w in _WORD.findall(question) if _words(w)]
    groups = [" ".join(words[i : i + 3]) for i in range(0, len(words), 3)][:wanted]
    return json.dumps({"subqueries": groups or [question]})


def _needed(question: set[str]) -> int:
    return min(2, len(question))


def relevance(request: ReplyRequest) -> str:
    """The ids of passages sharing enough question words."""
    question = _words(request.last_user)
    rows = _section_rows(_system(request), "Sources")
    relevant = [int(i) for i, text in rows if question and len(question & _words(text)) >= _needed(question)]
    return json.dumps({"relevant": relevant})


def claims(request: ReplyRequest) -> str:
    """Sentences sharing question words, cited by their passage id, best first."""
    question = _words(request.last_user)
    found = []
    for row_id, text in _section_rows(_system(request), "Sources"):
        for sentence in _SENTENCE.split(text):
            overlap = len(question & _words(sentence))
            if overlap and len(sentence.split()) >= 4:
                statement = f"{sentence.strip()} [Data: Sources ({row_id})]"
                found.append({"statement": statement, "score": min(100, 25 * overlap)})
    found.sort(key=lambda c: -int(str(c["score"])))
    return json.dumps({"claims": found[:10]})


def reduce(request: ReplyRequest) -> str:
    """The six most important claims, joined."""
    found = re.findall(r"----Claim \d+----\nImportance: \d+\n(.+)", _system(request))
    if not found:
        return NO_ANSWER
    return "The passages say: " + " ".join(c.strip() for c in found[:6])


HANDLERS = [
    (SUBQUERIES_MARKER, subqueries),
    (RELEVANCE_MARKER, relevance),
    (CLAIMS_MARKER, claims),
    (REDUCE_MARKER, reduce),
]
