"""The one result type every query method returns (and its JSON shape)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Citation:
    """One piece of evidence an answer points to, resolved down to a text unit and its document.

    ``report_id`` / ``entity_id`` / ``relationship_id`` are set when the answer cited a report, entity or
    relationship; the text unit is then one the cited record was built from. ``pages`` ("p. 14",
    "pp. 14-15") and ``section`` ("Results > Costs") say where the unit is in its document, ``start_char``
    / ``end_char`` its span in the document's text and ``quote`` its opening words.
    """

    text_unit_id: str
    document_id: str
    document_title: str
    report_id: str | None = None
    entity_id: str | None = None
    relationship_id: str | None = None
    source: str | None = None
    pages: str | None = None
    section: str | None = None
    start_char: int | None = None
    end_char: int | None = None
    quote: str | None = None

    @property
    def where(self) -> str:
        """'title, p. 14' or 'title § Results > Costs' or the title: how a citation is shown."""
        if self.pages:
            return f"{self.document_title}, {self.pages}"
        return f"{self.document_title} § {self.section}" if self.section else self.document_title

    def to_dict(self) -> dict[str, str | int]:
        return {key: value for key, value in asdict(self).items() if value is not None}


@dataclass
class ContextRecords:
    """Ids of the records that were actually put in front of the model (or the extractive scorer)."""

    text_units: list[str] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)
    relationships: list[str] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, list[str]]:
        return {
            "text_units": list(self.text_units),
            "entities": list(self.entities),
            "relationships": list(self.relationships),
            "reports": list(self.reports),
        }

    def merge(self, other: ContextRecords) -> None:
        """Add ``other``'s ids, keeping first-seen order and no duplicates."""
        for mine, theirs in (
            (self.text_units, other.text_units),
            (self.entities, other.entities),
            (self.relationships, other.relationships),
            (self.reports, other.reports),
        ):
            seen = set(mine)
            for item in theirs:
                if item not in seen:
                    seen.add(item)
                    mine.append(item)


@dataclass
class QueryResult:
    """An answer with its evidence and its cost. ``extractive`` is True when no LLM wrote the answer."""

    answer: str
    method: str
    extractive: bool = False
    citations: list[Citation] = field(default_factory=list)
    context: ContextRecords = field(default_factory=ContextRecords)
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    duration_s: float = 0.0
    context_text: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    numbered_answer: str = ""  # the answer with [Data: …] markers as [1, 3]: numbers into source_numbers
    source_numbers: list[str] = field(default_factory=list)  # text-unit ids; source n is item n - 1

    @property
    def document_titles(self) -> list[str]:
        """Titles of the cited documents, in citation order, without repeats."""
        return list(dict.fromkeys(c.document_title for c in self.citations))

    def to_dict(self, include_context_text: bool = False) -> dict[str, Any]:
        """The JSON shape of a result (``context_text`` only on request: it can be large)."""
        data: dict[str, Any] = {
            "answer": self.answer,
            "method": self.method,
            "extractive": self.extractive,
            "citations": [c.to_dict() for c in self.citations],
            "context": self.context.to_dict(),
            "llm_calls": self.llm_calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "duration_s": round(self.duration_s, 3),
            "extra": self.extra,
            "numbered_answer": self.numbered_answer,
            "source_numbers": self.source_numbers,
        }
        if include_context_text:
            data["context_text"] = self.context_text
        return data
