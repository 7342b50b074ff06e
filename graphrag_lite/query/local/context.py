"""The local-search context: entities matched to the question, their relationships, community reports and
the text units they come from, each section within its share of the token budget.

Shares (settings.query.local): reports ``community_share`` (15%), entities + relationships the rest after
text units (35%), text units ``text_unit_share`` (50%) plus whatever the other sections left unspent. A
conversation history, when given, comes off the top (at most 10% of the budget).

Text units are ranked by the matched entities and relationships they carry, graph proximity to the matches
(personalized PageRank) and their BM25 + vector relevance to the question; ``benchmarks/retrieval.py``
measures what each of these adds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from graphrag_lite.config.settings import Settings
from graphrag_lite.models.base import Embedder, Message
from graphrag_lite.models.tokens import Tokenizer, get_tokenizer
from graphrag_lite.query.basic.context import hybrid_rank
from graphrag_lite.query.index_data import IndexData
from graphrag_lite.query.local.graph_rank import personalized_pagerank
from graphrag_lite.query.result import ContextRecords
from graphrag_lite.query.sections import ContextIds, TableSection, clean_cell, join_sections
from graphrag_lite.store.records import Relationship

HISTORY_SHARE = 0.1
HISTORY_TURNS = 6
PAGERANK_WEIGHT = 1.0  # how much graph proximity adds to a text unit's score (matched entities count 1 each)


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


def rank_text_units(
    data: IndexData,
    matches: Sequence[EntityMatch],
    relationships: Sequence[Relationship],
    use_pagerank: bool,
    relevance: dict[str, float] | None = None,
    relevance_weight: float = 0.0,
) -> list[str]:
    """Text units scored by the matched entities and relationships they carry (weighted by match
    strength), plus graph proximity to the matches (personalized PageRank over entities) when enabled.
    ``relevance`` (unit id -> retrieval score) adds ``relevance_weight`` times the score scaled to the best
    one, and its units join the candidates; it also breaks ties (many units carry the same one entity)."""
    weights = {m.entity_id: m.weight for m in matches}
    rel_ids = {r.id for r in relationships}
    candidates: set[str] = set()
    for m in matches:
        candidates.update(data.entity_by_id[m.entity_id].text_unit_ids)
    for rel in relationships:
        candidates.update(rel.text_unit_ids)
    proximity: dict[str, float] = {}
    if use_pagerank and weights:
        scores = personalized_pagerank(data, weights)
        top = sorted((s for e, s in scores.items() if e not in weights), reverse=True)
        if top:
            scale = top[0]
            proximity = {e: s / scale for e, s in scores.items() if e not in weights and s > 0}
            for entity_id in sorted(proximity, key=lambda e: -proximity[e])[: 2 * len(weights)]:
                candidates.update(data.entity_by_id[entity_id].text_unit_ids)

    def score(unit_id: str) -> float:
        unit = data.text_unit_by_id.get(unit_id)
        if unit is None:
            return float("-inf")
        total = sum(weights.get(e, 0.0) for e in unit.entity_ids)
        total += 0.5 * sum(1 for r in unit.relationship_ids if r in rel_ids)
        if proximity:
            total += PAGERANK_WEIGHT * max((proximity.get(e, 0.0) for e in unit.entity_ids), default=0.0)
        return total

    near: dict[str, float] = {}
    if relevance:
        top_relevance = max(relevance.values())
        near = {u: r / top_relevance for u, r in relevance.items()}
        if relevance_weight > 0:
            candidates.update(near)

    def blended(unit_id: str) -> float:
        return score(unit_id) + relevance_weight * near.get(unit_id, 0.0)

    scored = [(blended(u), near.get(u, 0.0), u) for u in candidates if u in data.text_unit_by_id]
    return [u for s, _, u in sorted(scored, key=lambda p: (-p[0], -p[1], p[2])) if s > 0]


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
    tokenizer: Tokenizer, data: IndexData, matches: Sequence[EntityMatch], level: int, budget: int
) -> TableSection:
    """Reports of the matched entities' communities at ``level``, most (weighted) matches first; a report
    whose full text does not fit is shown by its title and summary."""
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
        short = f"# {report.title}\n{report.summary}"
        if not section.add_block(report.id, report.full_content or short):
            section.add_block(report.id, short)
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
    remaining = budget - tokenizer.count(history_text)
    query_vector = await embed_query(embedder, query)
    matches = await match_entities(query, data, embedder, opts.top_k_entities, query_vector)
    passages = await hybrid_rank(query, data, embedder, settings, query_vector=query_vector)

    reports = _report_section(tokenizer, data, matches, level, int(remaining * opts.community_share))
    graph_share = int(remaining * max(0.0, 1.0 - opts.text_unit_share - opts.community_share))
    entities, relationships = _graph_sections(tokenizer, data, matches, opts.top_k_relationships, graph_share)

    # Text units get their share plus whatever the other sections did not spend.
    used = reports.tokens + entities.tokens + relationships.tokens
    units = TableSection(tokenizer, "Sources", ["id", "text"], remaining - used - 4)  # 4: section breaks
    used_rels = [data.relationship_by_id[r] for r in relationships.record_ids]
    ranked_units = rank_text_units(
        data, matches, used_rels, opts.use_pagerank, passages.scores, opts.relevance_weight
    )
    for unit_id in ranked_units:
        if not units.add(unit_id, [data.text_unit_by_id[unit_id].text]):
            break

    sections = [history_text, reports.text, entities.text, relationships.text]
    text = join_sections([*sections, units.text])
    tokens = tokenizer.count(text)
    while tokens > budget and units.rows:  # BPE merges across rows can add a token or two
        units.rows.pop()
        units.record_ids.pop()
        text = join_sections([*sections, units.text])
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
