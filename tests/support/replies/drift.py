"""Test-server replies for the DRIFT prompts: HyDE, primer folds, follow-ups and the reduce.

They behave like a literal-minded model so DRIFT's control flow can be checked end to end:

- HyDE: the question followed by the names the example report mentions.
- Primer: the report lines sharing words with the question, cited; score = word overlap of the fold with
  the question (so folds score differently); follow-ups "What is the role of X?" for capitalised names in
  the fold that the question does not contain.
- Follow-up: the source sentences sharing words with the follow-up, cited; score = word overlap of the
  answer with the main question; follow-ups about names in the cited sentences not yet mentioned.
- Reduce: the first sentence of each of the three best findings, citations kept.
"""

from __future__ import annotations

import json
import re

from support.replies import ReplyRequest
from support.replies.query import _report_blocks, _section_rows, _system, _words

HYDE_MARKER = "## What to write (DRIFT, hypothetical answer)"
PRIMER_MARKER = "## What to reply (DRIFT primer)"
LOCAL_MARKER = "## What to reply (DRIFT follow-up)"
REDUCE_MARKER = "## How to answer (DRIFT reduce)"
MAIN_QUESTION = "Main question of the investigation:"
NO_ANSWER = "The tables do not answer this."
MAX_FOLLOW_UPS = 3

_NAME = re.compile(r"(?<![\w'])[A-Z][a-z]+(?: [A-Z][a-z]+)*")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_FIRST_CITED = re.compile(r".*?\[Data:[^\]]*\]")
_NOT_NAMES = frozenset(
    [
        "Data",
        "Sources",
        "Reports",
        "Entities",
        "Relationships",
        "Report",
        "Sources",
        "Tables",
        "Partners",
        "Both",
        "Father",
        "Joy",
        "Goodwill",
        "The",
        "This",
        "That",
        "These",
        "Those",
        "What",
        "When",
        "Where",
        "Which",
        "Who",
        "Why",
        "How",
        "But",
        "And",
        "Yes",
        "Oh",
        "Mr",
        "Mrs",
        "Spirit",
        "Family",
    ]
)


def names_in(text: str, exclude: str = "") -> list[str]:
    """Capitalised names in ``text`` (first-seen order) whose words do not all occur in ``exclude``."""
    known = _words(exclude)
    found: list[str] = []
    for match in _NAME.finditer(text):
        name = match.group(0)
        words = [w for w in name.split() if w not in _NOT_NAMES]
        if not words or all(len(w) < 3 for w in words):
            continue
        name = " ".join(words)
        if _words(name) <= known or name in found:
            continue
        found.append(name)
    return found


def hyde(request: ReplyRequest) -> str:
    example = _system(request).split("## Example report", 1)[-1]
    names = names_in(example, request.last_user)[:5]
    return f"{request.last_user} The answer probably involves {', '.join(names) or 'the main characters'}."


def primer(request: ReplyRequest) -> str:
    question = _words(request.last_user)
    text = _system(request).split("## Community reports", 1)[-1]
    lines: list[str] = []
    fold_words: set[str] = set()
    for number, block in _report_blocks(text):
        fold_words |= _words(block)
        for line in block.splitlines():
            line = line.strip(" #*-")
            if len(line.split()) >= 3 and question & _words(line):
                lines.append(f"{line} [Data: Reports ({number})]")
    overlap = len(question & fold_words)
    reply = {
        "intermediate_answer": " ".join(lines[:3]),
        "score": min(100, 12 * overlap + len(lines)),
        "follow_up_queries": [f"What is the role of {n}?" for n in names_in(text, request.last_user)][
            :MAX_FOLLOW_UPS
        ],
    }
    return json.dumps(reply)


def follow_up(request: ReplyRequest) -> str:
    system = _system(request)
    main = next((line.split(":", 1)[1] for line in system.splitlines() if line.startswith(MAIN_QUESTION)), "")
    lead = _words(request.last_user)
    scored: list[tuple[int, int, str, str]] = []
    for order, (row_id, text) in enumerate(_section_rows(system, "Sources")):
        for sentence in _SENTENCE.split(text):
            overlap = len(lead & _words(sentence))
            if overlap:
                scored.append((-overlap, order, row_id, sentence.strip()))
    scored.sort()
    best = scored[:2]
    if not best:
        return json.dumps({"response": NO_ANSWER, "score": 0, "follow_up_queries": []})
    answer = " ".join(f"{sentence} [Data: Sources ({row_id})]" for _, _, row_id, sentence in best)
    cited = " ".join(sentence for _, _, _, sentence in best)
    asked = f"{main} {request.last_user}"
    reply = {
        "response": answer,
        "score": min(100, 15 * len(_words(main) & _words(cited)) + 5 * len(best)),
        "follow_up_queries": [f"What is the role of {n}?" for n in names_in(cited, asked)][:MAX_FOLLOW_UPS],
    }
    return json.dumps(reply)


def reduce(request: ReplyRequest) -> str:
    findings = re.findall(r"----Finding \d+ \(score \d+\)----\nQuestion: [^\n]*\n(.+)", _system(request))
    if not findings:
        return "The findings do not answer the question."
    firsts = []
    for finding in findings[:3]:
        cited = _FIRST_CITED.match(finding.strip())
        firsts.append(cited.group(0) if cited else _SENTENCE.split(finding.strip(), 1)[0])
    return "In short: " + " ".join(firsts)


HANDLERS = [
    (HYDE_MARKER, hyde),
    (PRIMER_MARKER, primer),
    (LOCAL_MARKER, follow_up),
    (REDUCE_MARKER, reduce),
]
