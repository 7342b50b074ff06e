"""The context a community report is written from, within a token budget.

Three cases, in order of preference:

1. **entities** - the community's entities and relationships fit: both tables in full (relationships with
   the highest combined degree first), then, for a thin context only, source text units until the
   context reaches ``reports.source_text_until`` tokens (the descriptions already say what the sources
   would; a model reading thin descriptions needs the text).
2. **sub_reports** - they do not fit, and sub-communities have reports: the sub-reports (largest
   sub-community first; a report that does not fit in full is shortened to its title and summary), then the
   entities no included sub-report covers, then relationships - those *between* sub-communities first,
   since no sub-report describes them - while the budget allows.
3. **entities, truncated** - they do not fit and there is no sub-report: relationships by combined degree
   with their two entities, then the remaining entities by degree, until the budget is spent.

Tables are ``|``-separated with a header row; cell text is flattened to one line with ``|`` replaced, so
one row is always one record. Token counts are exact: the rendered text never exceeds ``max_tokens``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from graphrag_lite.models.tokens import Tokenizer
from graphrag_lite.store.ids import normalize_title
from graphrag_lite.store.records import Community, CommunityReport, Entity, Relationship, TextUnit

ContextSource = Literal["entities", "sub_reports"]

REPORTS_SECTION = "Sub-community reports"
ENTITIES_SECTION = "Entities"
RELATIONSHIPS_SECTION = "Relationships"
SOURCES_SECTION = "Sources"
_SECTION_ORDER = (REPORTS_SECTION, ENTITIES_SECTION, RELATIONSHIPS_SECTION, SOURCES_SECTION)
_HEADERS = {
    ENTITIES_SECTION: "id|title|type|description|degree",
    RELATIONSHIPS_SECTION: "id|source|target|description|weight|combined_degree",
    SOURCES_SECTION: "id|text",
}
_MIN_SOURCE_TOKENS = 40  # a cut source text shorter than this is not worth its row
_MIN_ROW_TOKENS = 12  # with less room than this no table row fits (an id alone is about 8 tokens)


@dataclass
class ReportContext:
    """The rendered context and the records it shows (their ids, for citations and tests)."""

    text: str
    source: ContextSource
    entity_ids: list[str] = field(default_factory=list)
    relationship_ids: list[str] = field(default_factory=list)
    report_ids: list[str] = field(default_factory=list)
    text_unit_ids: list[str] = field(default_factory=list)
    truncated: bool = False
    n_tokens: int = 0


def _cell(value: object) -> str:
    return " ".join(str(value).split()).replace("|", "/")


def entity_row(entity: Entity) -> str:
    cells = (entity.id, entity.title, entity.type, entity.description, entity.degree)
    return "|".join(_cell(v) for v in cells)


def relationship_row(rel: Relationship) -> str:
    weight = f"{rel.weight:g}"
    cells = (rel.id, rel.source, rel.target, rel.description, weight, rel.combined_degree)
    return "|".join(_cell(v) for v in cells)


def report_block(report: CommunityReport, size: int, *, short: bool = False) -> str:
    """A sub-report as the parent's context shows it; ``short`` keeps only title and summary."""
    lines = [f"id: {report.id} | entities: {size}", f"title: {_cell(report.title)}"]
    lines.append(f"summary: {_cell(report.summary)}")
    if not short:
        lines += [f"- {_cell(f.summary)}: {_cell(f.explanation)}" for f in report.findings]
    return "\n".join(lines) + "\n"


def section_head(section: str) -> str:
    header = _HEADERS.get(section)
    return f"-----{section}-----\n" + (f"{header}\n" if header else "")


def render_sections(rows: Sequence[tuple[str, str]]) -> str:
    """Rows (section, text) as sections in a fixed order; report blocks are separated by a blank line."""
    parts = []
    for section in _SECTION_ORDER:
        texts = [text for name, text in rows if name == section]
        if texts:
            joiner = "\n\n" if section == REPORTS_SECTION else "\n"
            parts.append(section_head(section) + joiner.join(texts) + "\n")
    return "\n".join(parts)


@dataclass
class _Piece:
    section: str
    text: str  # one or more lines, without the final newline
    kind: Literal["entity", "relationship", "report", "text_unit"]
    record_id: str


class _Builder:
    """Collects rows per section under a token budget; renders sections in a fixed order."""

    def __init__(self, tokenizer: Tokenizer, max_tokens: int) -> None:
        self.tokenizer, self.max_tokens = tokenizer, max_tokens
        self.pieces: list[_Piece] = []
        self.used = 0
        self.open_sections: set[str] = set()

    def _cost(self, piece: _Piece) -> int:
        cost = self.tokenizer.count(piece.text + "\n")
        if piece.section not in self.open_sections:
            cost += self.tokenizer.count(section_head(piece.section))
        if piece.section == REPORTS_SECTION:
            cost += 1  # the blank line between report blocks
        return cost

    def room(self) -> int:
        return self.max_tokens - self.used

    def add(self, piece: _Piece) -> bool:
        """Add ``piece`` when it fits the remaining budget; False (and nothing added) otherwise."""
        cost = self._cost(piece)
        if cost > self.room():
            return False
        self.pieces.append(piece)
        self.used += cost
        self.open_sections.add(piece.section)
        return True

    def fill(self, pieces: Sequence[_Piece], n_tokens: int) -> None:
        """Take ``pieces`` whose rendered text is known to count ``n_tokens`` (no per-row estimates)."""
        self.pieces.extend(pieces)
        self.open_sections.update(p.section for p in pieces)
        self.used = n_tokens

    def mark(self) -> tuple[int, int, frozenset[str]]:
        return len(self.pieces), self.used, frozenset(self.open_sections)

    def rollback(self, mark: tuple[int, int, frozenset[str]]) -> None:
        del self.pieces[mark[0] :]
        self.used, self.open_sections = mark[1], set(mark[2])

    def render(self) -> str:
        return render_sections([(p.section, p.text) for p in self.pieces])

    def finish(self) -> tuple[str, int, bool]:
        """(text, exact token count, dropped a record) - drops the last pieces if the estimates ran over.

        Dropping source text does not count: it is optional filler, not part of the community."""
        dropped = False
        text = self.render()
        n_tokens = self.tokenizer.count(text)
        while n_tokens > self.max_tokens and self.pieces:
            dropped = self.pieces.pop().kind != "text_unit" or dropped
            text = self.render()
            n_tokens = self.tokenizer.count(text)
        return text, n_tokens, dropped

    def ids(self, kind: str) -> list[str]:
        return [p.record_id for p in self.pieces if p.kind == kind]


def _community_records(
    community: Community,
    entities_by_id: Mapping[str, Entity],
    relationships_by_id: Mapping[str, Relationship],
) -> tuple[list[Entity], list[Relationship]]:
    """Members by degree (desc, then title) and relationships by combined degree (desc, then id)."""
    entities = [entities_by_id[e] for e in community.entity_ids if e in entities_by_id]
    entities.sort(key=lambda e: (-e.degree, e.title, e.id))
    rels = [relationships_by_id[r] for r in community.relationship_ids if r in relationships_by_id]
    rels.sort(key=lambda r: (-r.combined_degree, -r.weight, r.id))
    return entities, rels


def _add_text_units(
    builder: _Builder, community: Community, text_units_by_id: Mapping[str, TextUnit], limit: int
) -> None:
    """Source texts mentioning the most community entities first, within ``limit`` tokens."""
    members = set(community.entity_ids)
    units = [text_units_by_id[u] for u in community.text_unit_ids if u in text_units_by_id]
    units.sort(key=lambda u: (-len(members.intersection(u.entity_ids)), u.document_id, u.chunk_index, u.id))
    spent = 0
    for unit in units:
        allowance = min(limit - spent, builder.room() - 8)
        if allowance < _MIN_SOURCE_TOKENS:
            return
        text = _cell(unit.text)
        if builder.tokenizer.count(text) > allowance:
            text = builder.tokenizer.truncate(text, allowance - 2) + " …"
        before = builder.used
        if builder.add(_Piece(SOURCES_SECTION, f"{unit.id}|{text}", "text_unit", unit.id)):
            spent += builder.used - before


def _entity_piece(entity: Entity) -> _Piece:
    return _Piece(ENTITIES_SECTION, entity_row(entity), "entity", entity.id)


def _relationship_piece(rel: Relationship) -> _Piece:
    return _Piece(RELATIONSHIPS_SECTION, relationship_row(rel), "relationship", rel.id)


def _from_entities(
    builder: _Builder, entities: list[Entity], rels: list[Relationship], by_title: Mapping[str, Entity]
) -> bool:
    """Relationships with their entities, then lone entities, while they fit; True when all fitted."""
    shown: set[str] = set()
    complete = True
    for rel in rels:
        if builder.room() < _MIN_ROW_TOKENS:
            return False
        ends = [by_title.get(normalize_title(t)) for t in (rel.source, rel.target)]
        new = list({e.id: e for e in ends if e is not None and e.id not in shown}.values())
        pieces = [_entity_piece(e) for e in new] + [_relationship_piece(rel)]
        mark = builder.mark()
        if all(builder.add(p) for p in pieces):
            shown.update(e.id for e in new)
        else:
            complete = False
            builder.rollback(mark)
    for entity in entities:
        if entity.id not in shown and not builder.add(_entity_piece(entity)):
            complete = False
            if builder.room() < _MIN_ROW_TOKENS:
                break
    return complete


def _full_tables(
    entities: list[Entity], rels: list[Relationship], tokenizer: Tokenizer
) -> tuple[list[_Piece], int]:
    """Every entity and relationship row, and the exact token count of both tables."""
    pieces = [_entity_piece(e) for e in entities] + [_relationship_piece(r) for r in rels]
    return pieces, tokenizer.count(render_sections([(p.section, p.text) for p in pieces]))


def build_report_context(
    community: Community,
    entities_by_id: Mapping[str, Entity],
    relationships_by_id: Mapping[str, Relationship],
    text_units_by_id: Mapping[str, TextUnit],
    sub_reports: Mapping[str, CommunityReport],
    tokenizer: Tokenizer,
    max_tokens: int,
    *,
    communities_by_id: Mapping[str, Community] | None = None,
    source_text_until: int | None = None,
) -> ReportContext:
    """The context for ``community``'s report (see the module notes for the three cases).

    ``sub_reports`` maps community ids to reports (only the community's children are used; failed reports
    are ignored). ``communities_by_id`` gives child sizes and members, used to order sub-reports and to
    find entities no sub-report covers. ``source_text_until``: source text is added while the context is
    shorter than this (None: up to the budget; 0: none).
    """
    entities, rels = _community_records(community, entities_by_id, relationships_by_id)
    by_title = {normalize_title(e.title): e for e in entities}
    builder = _Builder(tokenizer, max_tokens)
    children = [
        sub_reports[c] for c in community.children if c in sub_reports and sub_reports[c].status == "ok"
    ]
    pieces, full_tokens = _full_tables(entities, rels, tokenizer)
    if full_tokens <= max_tokens:
        builder.fill(pieces, full_tokens)
        limit = max_tokens if source_text_until is None else min(max_tokens, source_text_until) - full_tokens
        if limit > 0:
            _add_text_units(builder, community, text_units_by_id, limit)
        source: ContextSource = "entities"
        truncated = False
    elif children:
        truncated = _from_sub_reports(builder, community, children, entities, rels, communities_by_id or {})
        source = "sub_reports"
    else:
        _from_entities(builder, entities, rels, by_title)
        source, truncated = "entities", True
    text, n_tokens, dropped = builder.finish()
    return ReportContext(
        text=text,
        source=source,
        entity_ids=builder.ids("entity"),
        relationship_ids=builder.ids("relationship"),
        report_ids=builder.ids("report"),
        text_unit_ids=builder.ids("text_unit"),
        truncated=truncated or dropped,
        n_tokens=n_tokens,
    )


def _from_sub_reports(
    builder: _Builder,
    community: Community,
    reports: list[CommunityReport],
    entities: list[Entity],
    rels: list[Relationship],
    communities_by_id: Mapping[str, Community],
) -> bool:
    """Sub-reports, uncovered entities, then relationships (cross-community first); True if any left out."""
    child_of: dict[str, str] = {}
    for child_id in community.children:
        for entity_id in communities_by_id[child_id].entity_ids if child_id in communities_by_id else []:
            child_of[entity_id] = child_id

    def size(report: CommunityReport) -> int:
        child = communities_by_id.get(report.community_id)
        return child.size if child is not None else 0

    covered, left_out = _add_sub_reports(builder, reports, size)
    for entity in entities:
        if child_of.get(entity.id) not in covered and not builder.add(_entity_piece(entity)):
            left_out = True
    by_title = {normalize_title(e.title): e.id for e in entities}

    def crosses(rel: Relationship) -> bool:
        ends = [child_of.get(by_title.get(normalize_title(t), "")) for t in (rel.source, rel.target)]
        return ends[0] != ends[1]

    for rel in sorted(rels, key=lambda r: not crosses(r)):  # stable: keeps combined-degree order within
        if not builder.add(_relationship_piece(rel)):
            left_out = True
            if builder.room() < _MIN_ROW_TOKENS:
                break
    return left_out


def _add_sub_reports(
    builder: _Builder, reports: list[CommunityReport], size: Callable[[CommunityReport], int]
) -> tuple[set[str], bool]:
    """Sub-reports, largest sub-community first, in full or else shortened; (covered community ids, left
    something out)."""
    left_out = False
    covered: set[str] = set()
    for report in sorted(reports, key=lambda r: (-size(r), -r.rating, r.id)):
        full = _Piece(REPORTS_SECTION, report_block(report, size(report)).rstrip("\n"), "report", report.id)
        short = _Piece(
            REPORTS_SECTION, report_block(report, size(report), short=True).rstrip("\n"), "report", report.id
        )
        if builder.add(full):
            covered.add(report.community_id)
        elif builder.add(short):
            covered.add(report.community_id)
            left_out = True
        else:
            left_out = True
    return covered, left_out
