"""Context sections filled row by row under a token budget, with a running count.

Each row is counted once when it is added (never by re-serialising the whole table), so building a context
costs one tokenizer call per row. Every row carries a short per-context id (1, 2, 3 ...) that the model
cites; :class:`ContextIds` maps those back to the real record ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from graphrag_lite.models.tokens import Tokenizer


def clean_cell(value: object) -> str:
    """One table cell: newlines and the column separator would break the table, so they become spaces."""
    return " ".join(str(value).replace("|", "/").split())


class TableSection:
    """A titled table (``-----Title-----`` then ``id|col|col`` rows) limited to ``max_tokens``."""

    def __init__(self, tokenizer: Tokenizer, title: str, columns: Sequence[str], max_tokens: int) -> None:
        self.tokenizer = tokenizer
        self.title = title
        self.max_tokens = max(0, max_tokens)
        self.header = f"-----{title}-----\n" + "|".join(columns) + "\n"
        self.rows: list[str] = []
        self.record_ids: list[str] = []
        self._header_tokens = tokenizer.count(self.header)
        self.tokens = 0  # 0 until the first row goes in: an empty section is left out entirely
        self.full = False

    def add(self, record_id: str, cells: Sequence[object]) -> bool:
        """Add a row if it fits; False (and the section is full) once the budget is spent."""
        if self.full:
            return False
        self.full = not self._fits(record_id, cells)
        return not self.full

    def pack(self, rows: Iterable[tuple[str, Sequence[object]]], give_up_after: int = 30) -> None:
        """Add rows in order, skipping one that does not fit and trying the next ones (a long passage
        must not waste the budget a shorter, lower-ranked one could use); stop after ``give_up_after``
        misses in a row."""
        misses = 0
        for record_id, cells in rows:
            misses = 0 if self._fits(record_id, cells) else misses + 1
            if misses >= give_up_after:
                break

    def _fits(self, record_id: str, cells: Sequence[object]) -> bool:
        line = "|".join([str(len(self.rows) + 1), *(clean_cell(c) for c in cells)]) + "\n"
        cost = self.tokenizer.count(line) + (self._header_tokens if not self.rows else 0)
        if self.tokens + cost > self.max_tokens:
            return False
        self.rows.append(line)
        self.record_ids.append(record_id)
        self.tokens += cost
        return True

    def add_block(self, record_id: str, block: str, label: int | None = None) -> bool:
        """Add a multi-line block (a report's text) introduced by ``[n]``: its short id, the next row
        number unless ``label`` is given (global search numbers reports across all batches)."""
        if self.full:
            return False
        text = f"[{label if label is not None else len(self.rows) + 1}] {block.strip()}\n"
        cost = self.tokenizer.count(text) + (self._header_tokens if not self.rows else 0)
        if self.tokens + cost > self.max_tokens:
            return False  # a long block may not fit where a shorter later one still does
        self.rows.append(text)
        self.record_ids.append(record_id)
        self.tokens += cost
        return True

    @property
    def text(self) -> str:
        return self.header + "".join(self.rows) if self.rows else ""


@dataclass
class ContextIds:
    """Short ids shown to the model, per kind ("sources", "entities", "relationships", "reports")."""

    by_kind: dict[str, dict[str, str]] = field(default_factory=dict)

    def register(self, kind: str, record_ids: Sequence[str]) -> None:
        table = self.by_kind.setdefault(kind, {})
        for position, record_id in enumerate(record_ids, start=1):
            table[str(position)] = record_id

    def resolve(self, kind: str, short_id: str) -> str | None:
        """The record id for a cited id: a short id of this kind, or a real id present in the context."""
        table = self.by_kind.get(kind, {})
        if short_id in table:
            return table[short_id]
        if short_id in table.values():
            return short_id
        return None


def fill_budget(parts: Iterable[str], tokenizer: Tokenizer, max_tokens: int) -> tuple[str, int]:
    """``parts`` in order, joined by blank lines, while they fit in ``max_tokens``; (text, parts used).
    The reduce steps (global points, lazy claims) put their ranked items in front of the model so."""
    used_parts: list[str] = []
    used = 0
    for part in parts:
        cost = tokenizer.count(part)
        if used + cost > max_tokens:
            break
        used_parts.append(part)
        used += cost
    return "\n".join(used_parts), len(used_parts)


def join_sections(sections: Sequence[str]) -> str:
    return "\n".join(s for s in sections if s)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_QUOTED = re.compile(r"[\"“]([^\"”]+)[\"”]")
_WORDS = re.compile(r"[^\W_]+")
MIN_NOVEL_WORDS = 3  # a shorter remainder ("Evidence:", a bare name) says nothing the passages do not


class Covered:
    """The text already in a context (its passages), to tell what a description or report would add.

    A sentence is *covered* when its words, in order, appear in one of the passages (a fast index copies
    entity descriptions and relationship evidence verbatim from them), or when it only quotes covered
    text (``Evidence: "…"``)."""

    def __init__(self, texts: Iterable[str]) -> None:
        self._text = " " + " \n ".join(self._key(t) for t in texts) + " "

    @staticmethod
    def _key(text: str) -> str:
        return " ".join(_WORDS.findall(text.lower()))

    def covers(self, sentence: str) -> bool:
        if self._has(sentence):
            return True
        quotes = _QUOTED.findall(sentence)
        outside = _WORDS.findall(_QUOTED.sub(" ", sentence))
        return bool(quotes) and all(self._has(q) for q in quotes) and len(outside) < MIN_NOVEL_WORDS

    def _has(self, text: str) -> bool:
        key = self._key(text)
        return not key or f" {key} " in self._text

    def novel(self, text: str) -> str:
        """``text`` without its covered sentences (line breaks kept); "" when what is left is too short to
        say anything."""
        lines = []
        for line in text.splitlines():
            kept = [s for s in _SENTENCE_END.split(line.strip()) if s and not self.covers(s)]
            if kept:
                lines.append(" ".join(kept))
        out = "\n".join(lines).strip()
        return out if len(_WORDS.findall(out)) >= MIN_NOVEL_WORDS else ""
