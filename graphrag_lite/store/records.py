"""The records of the index: one dataclass per output table (design.md §3).

Operations work on these plain records; :mod:`graphrag_lite.store.tables` turns them into Parquet with
explicit schemas. Ids are deterministic hashes (see :mod:`graphrag_lite.store.ids`), never random.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass
class Document:
    """One input document. ``id`` is a hash of its content (and its id column, when configured)."""

    id: str
    title: str
    source: str  # path relative to the input folder (plus ":row" for csv/jsonl rows)
    text: str
    content_hash: str
    metadata: dict[str, str] = field(default_factory=dict)
    text_unit_ids: list[str] = field(default_factory=list)
    page_starts: list[int] = field(default_factory=list)  # char offset of each page (PDF, PPTX)
    section_starts: list[int] = field(default_factory=list)  # char offset of each section
    section_paths: list[str] = field(default_factory=list)  # its heading path, "Results > Costs"

    def page_at(self, offset: int) -> int:
        """The page (from 1) holding char ``offset``; 0 when the document has no pages."""
        return bisect_right(self.page_starts, offset) if self.page_starts else 0

    def section_at(self, offset: int) -> str:
        """The heading path of the section holding char ``offset`` ("" before the first heading)."""
        index = bisect_right(self.section_starts, offset) - 1
        return self.section_paths[index] if index >= 0 else ""


@dataclass
class TextUnit:
    """A token chunk of one document. Chunks never cross documents."""

    id: str
    document_id: str
    chunk_index: int
    text: str
    n_tokens: int
    entity_ids: list[str] = field(default_factory=list)
    relationship_ids: list[str] = field(default_factory=list)
    start_char: int = 0  # where the chunk starts and ends in its document's text
    end_char: int = 0
    page_start: int = 0  # pages it spans, from 1 (0: the document has no pages)
    page_end: int = 0
    section: str = ""  # heading path of the section it starts in

    @property
    def pages(self) -> str:
        """ "p. 14", "pp. 14-15" or ""."""
        if not self.page_start:
            return ""
        return (
            f"p. {self.page_start}"
            if self.page_end <= self.page_start
            else f"pp. {self.page_start}-{self.page_end}"
        )


@dataclass
class UnitContext:
    """A sentence situating one text unit in its document, written by the LLM (``chunks.contextual_prefix``).
    Only search sees it (BM25 and the text-unit vectors); answers quote the unit's own text."""

    id: str  # the text unit's id
    context: str


def search_text(title: str, context: str, text: str) -> str:
    """What BM25 and the text-unit vectors see: the document title, the unit's context sentence (if any),
    then its text. A passage rarely repeats its document's subject ("He was born in ..."), so without the
    title or context it cannot match it."""
    return "\n".join(part for part in (title, context, text) if part)


def unit_search_texts(
    units: Sequence[TextUnit], titles: Mapping[str, str], contexts: Mapping[str, str]
) -> list[str]:
    """``search_text`` of each unit; ``titles``: document id -> title, ``contexts``: unit id -> context."""
    return [search_text(titles.get(u.document_id, ""), contexts.get(u.id, ""), u.text) for u in units]


@dataclass
class Entity:
    """A node of the graph, merged over every text unit that mentions it."""

    id: str
    title: str
    type: str
    description: str
    aliases: list[str] = field(default_factory=list)
    other_types: list[str] = field(default_factory=list)
    text_unit_ids: list[str] = field(default_factory=list)
    frequency: int = 0
    degree: int = 0


@dataclass
class Relationship:
    """An undirected edge between two entities (``source`` < ``target`` by title, so each pair is unique)."""

    id: str
    source: str  # entity title
    target: str  # entity title
    description: str
    weight: float = 1.0
    text_unit_ids: list[str] = field(default_factory=list)
    combined_degree: int = 0


@dataclass
class Community:
    """A Leiden community at one level of the hierarchy (level 0 = the coarsest)."""

    id: str
    level: int
    parent: str | None
    children: list[str] = field(default_factory=list)
    entity_ids: list[str] = field(default_factory=list)
    relationship_ids: list[str] = field(default_factory=list)
    text_unit_ids: list[str] = field(default_factory=list)
    size: int = 0


@dataclass
class Finding:
    summary: str
    explanation: str


@dataclass
class CommunityReport:
    """What a community is about. ``method`` is "llm" or "extractive"; ``status`` "ok" or "failed"."""

    id: str
    community_id: str
    level: int
    title: str
    summary: str
    findings: list[Finding] = field(default_factory=list)
    rating: float = 0.0
    rating_explanation: str = ""
    full_content: str = ""
    method: str = "llm"
    status: str = "ok"
    context_source: str = "entities"  # "entities" or "sub_reports": what the report was written from
