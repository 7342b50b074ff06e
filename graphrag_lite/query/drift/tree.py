"""The DRIFT hierarchy: questions and their answers, rooted at the user's question.

The root holds the primer (the answer drawn from the community reports); every other node is a follow-up
question, a child of the answer that raised it. Children are ranked by relevance to the original question:
the answer's score first, then how similar the follow-up question is to the original one.

One numbering of cited records across every context a DRIFT search reads.

Each follow-up's local context numbers its rows from 1, so "Sources (3)" means a different passage in every
answer. Before an answer joins the hierarchy its citations are renumbered into this book's numbering; the
reduce step then keeps them as written and the final answer resolves with the book's :class:`ContextIds`,
exactly like the other methods' answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from graphrag_lite.query.citations import KINDS, parse_cited_ids
from graphrag_lite.query.extractive import Evidence
from graphrag_lite.query.sections import ContextIds


@dataclass
class DriftNode:
    """One question of the investigation and what was found for it.

    ``text_units`` / ``reports`` are the ids of the records the answer was drawn from (the context of the
    follow-up's local search, or the primer's reports); ``evidence`` keeps the quotable sentences for the
    extractive reduce. ``similarity`` is the question's cosine similarity to the original question.
    """

    question: str
    answer: str = ""
    score: int = 0
    text_units: list[str] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)
    children: list[DriftNode] = field(default_factory=list)
    similarity: float = 1.0
    round: int = 0  # 0 = the primer, then the follow-up round that answered it
    failed: bool = False  # the model's reply was unusable; the node carries no answer
    repeated: bool = False  # the answer repeats an earlier one: kept in the tree, left out of the reduce
    evidence: list[Evidence] = field(default_factory=list, repr=False)

    def ranked_children(self) -> list[DriftNode]:
        return sorted(self.children, key=lambda n: (-n.score, -n.similarity, n.question))

    def walk(self) -> Iterator[DriftNode]:
        """This node and every node below it, depth first, children in ranked order."""
        yield self
        for child in self.ranked_children():
            yield from child.walk()

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of the tree: question, answer, score, sources, children (ranked)."""
        return {
            "question": self.question,
            "answer": self.answer,
            "score": self.score,
            "sources": {"text_units": list(self.text_units), "reports": list(self.reports)},
            "children": [child.to_dict() for child in self.ranked_children()],
        }


def ranked_answers(root: DriftNode, min_score: int) -> list[DriftNode]:
    """Nodes with an answer scoring at least ``min_score``, most relevant first (the reduce input)."""
    found = [
        n for n in root.walk() if n.answer.strip() and not (n.failed or n.repeated) and n.score >= min_score
    ]
    return sorted(found, key=lambda n: (-n.score, -n.similarity, n.round))


def tree_depth(root: DriftNode) -> int:
    """Levels below the root (0 when no follow-up was answered)."""
    return max((1 + tree_depth(child) for child in root.children), default=0)


_BLOCK = re.compile(r"\[Data:[^\]]*\]", re.IGNORECASE)
_SPACES = re.compile(r"[ \t]{2,}")
_LABELS = {
    "sources": "Sources",
    "entities": "Entities",
    "relationships": "Relationships",
    "reports": "Reports",
}
MAX_IDS_PER_KIND = 5


class CitationBook:
    """Record ids per kind, numbered from 1 in first-seen order; ``ids`` resolves the numbers back."""

    def __init__(self) -> None:
        self.ids = ContextIds()
        self._numbers: dict[str, dict[str, int]] = {kind: {} for kind in KINDS}

    def number(self, kind: str, record_id: str) -> int:
        """The number of ``record_id`` (assigned on first use)."""
        numbers = self._numbers[kind]
        if record_id not in numbers:
            numbers[record_id] = len(numbers) + 1
            self.ids.by_kind.setdefault(kind, {})[str(numbers[record_id])] = record_id
        return numbers[record_id]

    def renumber(self, answer: str, local: ContextIds) -> str:
        """``answer`` with each ``[Data: ...]`` block rewritten from ``local``'s numbers to the book's;
        ids that resolve to nothing are dropped (a block left empty disappears)."""

        def rewrite(match: re.Match[str]) -> str:
            cited = parse_cited_ids(match.group(0))
            parts: list[str] = []
            for kind in KINDS:
                numbers: list[str] = []
                for short in cited[kind]:
                    record_id = local.resolve(kind, short)
                    if record_id is not None:
                        number = str(self.number(kind, record_id))
                        if number not in numbers:
                            numbers.append(number)
                if numbers:
                    shown = numbers[:MAX_IDS_PER_KIND] + (
                        ["+more"] if len(numbers) > MAX_IDS_PER_KIND else []
                    )
                    parts.append(f"{_LABELS[kind]} ({', '.join(shown)})")
            return f"[Data: {'; '.join(parts)}]" if parts else ""

        return _SPACES.sub(" ", _BLOCK.sub(rewrite, answer)).strip()
