"""One numbering of cited records across every context a DRIFT search reads.

Each follow-up's local context numbers its rows from 1, so "Sources (3)" means a different passage in every
answer. Before an answer joins the hierarchy its citations are renumbered into this book's numbering; the
reduce step then keeps them as written and the final answer resolves with the book's :class:`ContextIds`,
exactly like the other methods' answers.
"""

from __future__ import annotations

import re

from graphrag_lite.query.citations import KINDS, parse_cited_ids
from graphrag_lite.query.sections import ContextIds

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
