"""Parse ``[Data: Sources (1, 2); Entities (3); Reports (4)]`` out of an answer and resolve the cited ids
to text units and documents.

Reports, entities and relationships do not have one source passage each: they resolve to the text units
they were built from, preferring units that were in the context, at most a few per cited record.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from graphrag_lite.query.index_data import IndexData
from graphrag_lite.query.result import Citation
from graphrag_lite.query.sections import ContextIds

KINDS = ("sources", "entities", "relationships", "reports")
_BLOCK = re.compile(r"\[Data:([^\]]*)\]", re.IGNORECASE)
_PART = re.compile(r"(sources|entities|relationships|reports)\s*\(([^)]*)\)", re.IGNORECASE)
_ID = re.compile(r"[A-Za-z0-9][\w.-]*")
UNITS_PER_RECORD = 3


def parse_cited_ids(answer: str) -> dict[str, list[str]]:
    """Cited ids per kind in order of first appearance (``+more`` and other words are ignored)."""
    cited: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for block in _BLOCK.finditer(answer):
        for kind, ids in _PART.findall(block.group(1)):
            bucket = cited[kind.lower()]
            for raw in ids.split(","):
                match = _ID.search(raw.strip())
                if match and match.group(0).lower() != "more" and match.group(0) not in bucket:
                    bucket.append(match.group(0))
    return cited


def number_citations(
    answer: str, ids: ContextIds, data: IndexData, context_units: Sequence[str]
) -> tuple[str, list[str]]:
    """The answer with each ``[Data: …]`` marker replaced by the numbers of the text units it resolves to
    (``[1, 3]``), numbered in order of first appearance, and those text-unit ids in number order. Whatever
    a method cites (sources, entities, reports), the reader gets one scheme that matches the printed list."""
    numbers: dict[str, int] = {}

    def renumber(match: re.Match[str]) -> str:
        cited = resolve_citations(parse_cited_ids(match.group(0)), ids, data, context_units)
        found = []
        for citation in cited:
            numbers.setdefault(citation.text_unit_id, len(numbers) + 1)
            found.append(numbers[citation.text_unit_id])
        return "[" + ", ".join(str(n) for n in sorted(set(found))) + "]" if found else match.group(0)

    text = _BLOCK.sub(renumber, answer)
    return text, list(numbers)


def strip_citations(text: str) -> str:
    """The text without ``[Data: ...]`` markers (for scoring and display of bare sentences)."""
    return " ".join(_BLOCK.sub("", text).split())


def resolve_citations(
    cited: dict[str, list[str]], ids: ContextIds, data: IndexData, context_units: Sequence[str]
) -> list[Citation]:
    """Citations for the cited ids: short ids of the context, or real record ids of the index (reports
    quote their sources by real id, and a model may copy those); ids that resolve to nothing are dropped."""

    def real(kind: str, short: str, known: Mapping[str, object]) -> str | None:
        return ids.resolve(kind, short) or (short if short in known else None)

    found: list[Citation] = []
    for short in cited.get("sources", []):
        unit_id = real("sources", short, data.text_unit_by_id)
        if unit_id:
            found.extend(_unit_citations(data, [unit_id]))
    for short in cited.get("entities", []):
        entity_id = real("entities", short, data.entity_by_id)
        if entity_id:
            found.extend(entity_citations(data, entity_id, context_units))
    for short in cited.get("relationships", []):
        rel_id = real("relationships", short, data.relationship_by_id)
        rel = data.relationship_by_id.get(rel_id) if rel_id else None
        if rel is not None:
            units = _prefer(rel.text_unit_ids, context_units)
            found.extend(_unit_citations(data, units, relationship_id=rel.id))
    for short in cited.get("reports", []):
        report_id = real("reports", short, data.report_by_id)
        if report_id:
            found.extend(report_citations(data, report_id, context_units))
    return dedupe(found)


def entity_citations(data: IndexData, entity_id: str, context_units: Sequence[str] = ()) -> list[Citation]:
    entity = data.entity_by_id.get(entity_id)
    if entity is None:
        return []
    return _unit_citations(data, _prefer(entity.text_unit_ids, context_units), entity_id=entity_id)


def report_citations(data: IndexData, report_id: str, context_units: Sequence[str] = ()) -> list[Citation]:
    """A report resolves to its community's text units that carry most of the community's entities."""
    report = data.report_by_id.get(report_id)
    community = data.community_by_id.get(report.community_id) if report else None
    if community is None:
        return []
    members = set(community.entity_ids)
    in_context = set(context_units)

    def weight(unit_id: str) -> int:
        unit = data.text_unit_by_id.get(unit_id)
        return len(members.intersection(unit.entity_ids)) if unit else 0

    ranked = sorted(community.text_unit_ids, key=lambda u: (u not in in_context, -weight(u)))
    return _unit_citations(data, ranked[:UNITS_PER_RECORD], report_id=report_id)


QUOTE_CHARS = 200


def quote(text: str) -> str:
    """The opening words of a passage, on one line, cut at a word (what a citation shows of it)."""
    flat = " ".join(text.split())
    if len(flat) <= QUOTE_CHARS:
        return flat
    return flat[:QUOTE_CHARS].rsplit(" ", 1)[0] + " …"


def dedupe(citations: Iterable[Citation]) -> list[Citation]:
    return list(dict.fromkeys(citations))


def _prefer(unit_ids: Sequence[str], context_units: Sequence[str]) -> list[str]:
    """Up to a few of ``unit_ids``: those in the context first, then the rest in stored order."""
    in_context = set(context_units)
    ranked = [u for u in unit_ids if u in in_context] + [u for u in unit_ids if u not in in_context]
    return ranked[:UNITS_PER_RECORD]


def _unit_citations(
    data: IndexData,
    unit_ids: Sequence[str],
    *,
    report_id: str | None = None,
    entity_id: str | None = None,
    relationship_id: str | None = None,
) -> list[Citation]:
    out: list[Citation] = []
    for unit_id in unit_ids:
        unit = data.text_unit_by_id.get(unit_id)
        if unit is None:
            continue
        document = data.document_by_id.get(unit.document_id)
        spanned = unit.end_char > unit.start_char  # indexes written before spans were kept have none
        out.append(
            Citation(
                text_unit_id=unit_id,
                document_id=unit.document_id,
                document_title=document.title if document else "",
                report_id=report_id,
                entity_id=entity_id,
                relationship_id=relationship_id,
                source=document.source if document else None,
                pages=unit.pages or None,
                section=unit.section or None,
                start_char=unit.start_char if spanned else None,
                end_char=unit.end_char if spanned else None,
                quote=quote(unit.text),
            )
        )
    return out
