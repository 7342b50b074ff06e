"""The local-search context: entities matched to the question, their relationships, community reports and
the text units they come from, within the token budget.

Text units are ranked by passage PageRank (:func:`~graphrag_lite.query.graph.passage_rank.rank_for_question`,
the ranking of graph search: the walk starts at the entities and titles the question names and at its best
BM25 + vector matches), each document's best unit first, and packed by skip-packing.

How the budget is shared depends on its size (a conversation history, when given, comes off the top: at
most 10%):

- **Up to** ``units_first_up_to`` (2,000 tokens) the passages come first: they may fill
  ``units_first_share`` (90%) of the budget; then entities, relationships and reports get what is left,
  each showing only the sentences the chosen passages do not already contain (a fast index copies its
  descriptions from them), and what they leave goes back to the passages. At 600 tokens the tables
  otherwise take half the budget and leave room for fewer than three passages.
- **Above** 2,000 tokens, the shares of settings.query.local: reports ``community_share`` (15%), entities +
  relationships the rest after text units (35%), text units ``text_unit_share`` (50%) plus whatever the
  other sections left unspent.

``benchmarks/retrieval.py`` (``local`` against ``graph`` and ``basic``) measures both; docs/search-methods.md
has the numbers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from graphrag_lite.config.settings import LocalSearchSettings, Settings
from graphrag_lite.models.base import Embedder, Message
from graphrag_lite.models.tokens import Tokenizer, get_tokenizer
from graphrag_lite.query.basic.context import hybrid_rank
from graphrag_lite.query.graph.passage_rank import rank_for_question
from graphrag_lite.query.index_data import IndexData
from graphrag_lite.query.result import ContextRecords
from graphrag_lite.query.sections import ContextIds, Covered, TableSection, clean_cell, join_sections
from graphrag_lite.store.records import CommunityReport, Relationship

HISTORY_SHARE = 0.1
HISTORY_TURNS = 6
SECTION_BREAKS = 4  # tokens of the line breaks between sections
Sections = tuple[TableSection, TableSection, TableSection, TableSection]  # reports, entities, rels, units


@dataclass(frozen=True)
class EntityMatch:
    """A matched entity: ``how`` is "name" (named in the question) or "vector" (similar description)."""

    entity_id: str
    how: str
    weight: float


@dataclass
class LocalContext:
    text: str
    records: ContextRecords
    entities: list[EntityMatch]
    ids: ContextIds
    tokens: int
    section_tokens: dict[str, int] = field(default_factory=dict)


async def embed_query(embedder: Embedder, query: str) -> np.ndarray:
    vectors = await embedder.embed([query])
    return np.asarray(vectors[0], dtype=np.float32)


async def match_entities(
    query: str, data: IndexData, embedder: Embedder, top_k: int, query_vector: np.ndarray | None = None
) -> list[EntityMatch]:
    """Entities named in the question (title or alias, on word boundaries) first, then the nearest entity
    descriptions by vector, ``top_k`` in all (named ones are always kept)."""
    matches: list[EntityMatch] = []
    seen: set[str] = set()
    for found in data.entity_names.find_in(query):
        if found.entity_id not in seen and found.entity_id in data.entity_by_id:
            seen.add(found.entity_id)
            matches.append(EntityMatch(found.entity_id, "name", 1.0))
    room = top_k - len(matches)
    if room > 0 and data.vectors is not None and data.has_vectors("entities"):
        vector = query_vector if query_vector is not None else await embed_query(embedder, query)
        hits = data.vectors.search("entities", vector, k=top_k + len(matches))
        for rank, hit in enumerate(hits):
            if room <= 0:
                break
            if hit.id in seen or hit.id not in data.entity_by_id:
                continue
            seen.add(hit.id)
            matches.append(EntityMatch(hit.id, "vector", 1.0 / (1.0 + 0.2 * rank)))
            room -= 1
    return matches


def rank_relationships(data: IndexData, matched: Sequence[str], per_entity: int) -> list[Relationship]:
    """In-network relationships (both ends matched) first, by weight; then relationships leading out of the
    matched set, preferring outside entities linked to several matched ones, then weight and degree."""
    matched_set = set(matched)
    inside: dict[str, Relationship] = {}
    outside: dict[str, Relationship] = {}
    links_to_matched: dict[str, int] = defaultdict(int)
    for entity_id in matched:
        for rel in data.relationships_by_entity.get(entity_id, []):
            source, target = data.relationship_ends(rel)
            if source in matched_set and target in matched_set:
                inside[rel.id] = rel
            else:
                outside[rel.id] = rel
    for rel in outside.values():
        for end in data.relationship_ends(rel):
            if end and end not in matched_set:
                links_to_matched[end] += 1

    def other_end_links(rel: Relationship) -> int:
        return max((links_to_matched.get(end or "", 0) for end in data.relationship_ends(rel)), default=0)

    ranked_inside = sorted(inside.values(), key=lambda r: (-r.weight, -r.combined_degree, r.id))
    ranked_outside = sorted(
        outside.values(), key=lambda r: (-other_end_links(r), -r.weight, -r.combined_degree, r.id)
    )
    cap = per_entity * max(1, len(matched))
    return ranked_inside + ranked_outside[:cap]


async def rank_local_units(
    query: str, data: IndexData, embedder: Embedder, settings: Settings, query_vector: np.ndarray
) -> list[str]:
    """Text units for ``query``, best first: passage PageRank with graph search's settings
    (``query.graph.ranking``), or the fused BM25 + vector order when ``query.local.use_pagerank`` is off."""
    hybrid = await hybrid_rank(query, data, embedder, settings, query_vector=query_vector)
    if not settings.query.local.use_pagerank:
        return hybrid.ranked
    return rank_for_question(query, data, hybrid.scores, settings.query.graph.ranking)


def _history_text(tokenizer: Tokenizer, history: Sequence[Message], max_tokens: int) -> str:
    """The most recent turns that fit, oldest first."""
    lines: list[str] = []
    used = tokenizer.count("-----Conversation History-----\n")
    for message in reversed(list(history)[-HISTORY_TURNS:]):
        line = f"{message.get('role', 'user')}: {clean_cell(message.get('content', ''))}\n"
        cost = tokenizer.count(line)
        if used + cost > max_tokens:
            break
        lines.insert(0, line)
        used += cost
    return "-----Conversation History-----\n" + "".join(lines) if lines else ""


def _report_section(
    tokenizer: Tokenizer,
    data: IndexData,
    matches: Sequence[EntityMatch],
    level: int,
    budget: int,
    covered: Covered | None = None,
) -> TableSection:
    """Reports of the matched entities' communities at ``level``, most (weighted) matches first; a report
    whose full text does not fit is shown by its title and summary. With ``covered``, a report shows only
    what the passages do not already say."""
    section = TableSection(tokenizer, "Reports", ["id", "content"], budget)
    communities_at = data.entity_communities(level)
    votes: dict[str, float] = defaultdict(float)
    for m in matches:
        community_id = communities_at.get(m.entity_id)
        if community_id and community_id in data.report_by_community:
            votes[community_id] += m.weight
    ranked = sorted(votes, key=lambda c: (-votes[c], -data.report_by_community[c].rating, c))
    for community_id in ranked:
        report = data.report_by_community[community_id]
        for block in _report_blocks(report, covered):
            if section.add_block(report.id, block):
                break
    return section


def _graph_sections(
    tokenizer: Tokenizer, data: IndexData, matches: Sequence[EntityMatch], per_entity: int, budget: int
) -> tuple[TableSection, TableSection]:
    """The matched entities, then their ranked relationships in what the entities leave of ``budget``."""
    entities = TableSection(tokenizer, "Entities", ["id", "entity", "description", "degree"], budget)
    for m in matches:
        entity = data.entity_by_id[m.entity_id]
        if not entities.add(entity.id, [entity.title, entity.description, entity.degree]):
            break
    columns = ["id", "source", "target", "description", "weight"]
    relationships = TableSection(tokenizer, "Relationships", columns, budget - entities.tokens)
    for rel in rank_relationships(data, [m.entity_id for m in matches], per_entity):
        if not relationships.add(rel.id, [rel.source, rel.target, rel.description, f"{rel.weight:g}"]):
            break
    return entities, relationships


def _report_blocks(report: CommunityReport, covered: Covered | None) -> list[str]:
    """A report's full text, then its title and summary (for when the full text does not fit); with
    ``covered``, only what the passages do not already say (nothing when that is all)."""
    short = f"# {report.title}\n{report.summary}"
    if covered is None:
        return [report.full_content or short, short]
    heading = f"# {report.title}"
    body = report.full_content.removeprefix(heading).strip() if report.full_content else ""
    blocks = [covered.novel(body), covered.novel(report.summary)]
    return [f"{heading}\n{block}" for block in blocks if block]


def _shared_budget(
    tokenizer: Tokenizer,
    data: IndexData,
    matches: Sequence[EntityMatch],
    level: int,
    rows: list[tuple[str, list[str]]],
    budget: int,
    opts: LocalSearchSettings,
) -> Sections:
    """Reports and the graph tables within their shares; the text units get the rest."""
    reports = _report_section(tokenizer, data, matches, level, int(budget * opts.community_share))
    graph_share = int(budget * max(0.0, 1.0 - opts.text_unit_share - opts.community_share))
    entities, relationships = _graph_sections(tokenizer, data, matches, opts.top_k_relationships, graph_share)
    used = reports.tokens + entities.tokens + relationships.tokens
    units = TableSection(tokenizer, "Sources", ["id", "text"], budget - used)
    units.pack(rows)
    return reports, entities, relationships, units


def _units_first(
    tokenizer: Tokenizer,
    data: IndexData,
    matches: Sequence[EntityMatch],
    level: int,
    rows: list[tuple[str, list[str]]],
    budget: int,
    opts: LocalSearchSettings,
) -> Sections:
    """The text units first (``units_first_share`` of ``budget``); then what the matched entities, their
    relationships and reports add to them in what is left; then more units in what those leave."""
    units = TableSection(tokenizer, "Sources", ["id", "text"], int(budget * opts.units_first_share))
    units.pack(rows)
    chosen = set(units.record_ids)
    covered = Covered(data.text_unit_by_id[u].text for u in units.record_ids)
    room = budget - units.tokens
    entities = TableSection(tokenizer, "Entities", ["id", "entity", "description", "degree"], room)
    found = (data.entity_by_id[m.entity_id] for m in matches)
    entity_rows = ((e.id, [e.title, covered.novel(e.description), e.degree]) for e in found)
    entities.pack(row for row in entity_rows if row[1][1])  # a row whose description is all copied: none
    columns = ["id", "source", "target", "description", "weight"]
    relationships = TableSection(tokenizer, "Relationships", columns, room - entities.tokens)
    relationships.pack(
        (rel.id, [rel.source, rel.target, novel, f"{rel.weight:g}"])
        for rel in rank_relationships(data, [m.entity_id for m in matches], opts.top_k_relationships)
        if not (rel.text_unit_ids and chosen.issuperset(rel.text_unit_ids))  # its sources are all here
        and (novel := covered.novel(rel.description))
    )
    room -= entities.tokens + relationships.tokens
    reports = _report_section(tokenizer, data, matches, level, room, covered)
    units.max_tokens = budget - entities.tokens - relationships.tokens - reports.tokens
    units.pack(row for row in rows if row[0] not in chosen)
    return reports, entities, relationships, units


async def build_local_context(
    query: str,
    data: IndexData,
    embedder: Embedder,
    settings: Settings,
    max_tokens: int | None = None,
    community_level: int | None = None,
    history: Sequence[Message] | None = None,
) -> LocalContext:
    """Assemble the local-search context for ``query`` within ``max_tokens`` (default from settings);
    ``community_level`` picks the reports (default: the deepest level)."""
    opts = settings.query.local
    tokenizer = get_tokenizer(settings.chunks.encoding)
    budget = max_tokens or opts.max_context_tokens
    level = community_level if community_level is not None else settings.query.community_level
    level = data.max_level if level is None else level

    history_text = _history_text(tokenizer, history, int(budget * HISTORY_SHARE)) if history else ""
    remaining = budget - tokenizer.count(history_text) - SECTION_BREAKS
    query_vector = await embed_query(embedder, query)
    matches = await match_entities(query, data, embedder, opts.top_k_entities, query_vector)
    ranked_units = await rank_local_units(query, data, embedder, settings, query_vector)
    rows = [(unit_id, [data.text_unit_by_id[unit_id].text]) for unit_id in ranked_units]
    if budget <= opts.units_first_up_to:
        sections = _units_first(tokenizer, data, matches, level, rows, remaining, opts)
    else:
        sections = _shared_budget(tokenizer, data, matches, level, rows, remaining, opts)
    reports, entities, relationships, units = sections

    head = [history_text, reports.text, entities.text, relationships.text]
    text = join_sections([*head, units.text])
    tokens = tokenizer.count(text)
    while tokens > budget and units.rows:  # BPE merges across rows can add a token or two
        units.rows.pop()
        units.record_ids.pop()
        text = join_sections([*head, units.text])
        tokens = tokenizer.count(text)

    ids = ContextIds()
    records = ContextRecords()
    for kind, section, kept in (
        ("sources", units, records.text_units),
        ("entities", entities, records.entities),
        ("relationships", relationships, records.relationships),
        ("reports", reports, records.reports),
    ):
        ids.register(kind, section.record_ids)
        kept.extend(section.record_ids)
    return LocalContext(
        text=text,
        records=records,
        entities=matches,
        ids=ids,
        tokens=tokens,
        section_tokens={
            "history": tokenizer.count(history_text),
            "reports": reports.tokens,
            "entities": entities.tokens,
            "relationships": relationships.tokens,
            "sources": units.tokens,
        },
    )
