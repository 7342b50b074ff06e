"""The local-search context: entities matched to the question, their relationships, community reports and
the text units they come from, each section within its share of the token budget.

Shares (settings.query.local): reports ``community_share`` (15%), entities + relationships the rest after
text units (35%), text units ``text_unit_share`` (50%) plus whatever the other sections left unspent. A
conversation history, when given, comes off the top (at most 10% of the budget).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from graphrag_lite.config.settings import Settings
from graphrag_lite.models.base import Embedder, Message
from graphrag_lite.models.tokens import Tokenizer, get_tokenizer
from graphrag_lite.query.graph_rank import personalized_pagerank
from graphrag_lite.query.index_data import IndexData
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
) -> list[str]:
    """Text units scored by the matched entities and relationships they carry (weighted by match
    strength), plus graph proximity to the matches (personalized PageRank over entities) when enabled."""
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

    scored = [(score(u), u) for u in candidates if u in data.text_unit_by_id]
    return [u for s, u in sorted(scored, key=lambda p: (-p[0], p[1])) if s > 0]


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


async def build_local_context(
    query: str,
    data: IndexData,
    embedder: Embedder,
    settings: Settings,
    max_tokens: int | None = None,
    community_level: int | None = None,
    history: Sequence[Message] | None = None,
) -> LocalContext:
    """Assemble the local-search context for ``query`` within ``max_tokens`` (default from settings)."""
    opts = settings.query.local
    tokenizer = get_tokenizer(settings.chunks.encoding)
    budget = max_tokens or opts.max_context_tokens
    level = community_level if community_level is not None else settings.query.community_level
    level = data.max_level if level is None else level

    history_text = _history_text(tokenizer, history, int(budget * HISTORY_SHARE)) if history else ""
    remaining = budget - tokenizer.count(history_text)
    matches = await match_entities(query, data, embedder, opts.top_k_entities)
    matched_ids = [m.entity_id for m in matches]

    # Reports of the matched entities' communities, most matches first.
    report_budget = int(remaining * opts.community_share)
    report_section = TableSection(tokenizer, "Reports", ["id", "content"], report_budget)
    communities_at = data.entity_communities(level)
    votes: dict[str, float] = defaultdict(float)
    for m in matches:
        community_id = communities_at.get(m.entity_id)
        if community_id and community_id in data.report_by_community:
            votes[community_id] += m.weight
    ranked_communities = sorted(votes, key=lambda c: (-votes[c], -data.report_by_community[c].rating, c))
    for community_id in ranked_communities:
        report = data.report_by_community[community_id]
        full = report.full_content or f"# {report.title}\n{report.summary}"
        if not report_section.add_block(report.id, full):
            report_section.add_block(report.id, f"# {report.title}\n{report.summary}")

    # Entities, then relationships in what is left of the graph share.
    graph_share = int(remaining * max(0.0, 1.0 - opts.text_unit_share - opts.community_share))
    entity_columns = ["id", "entity", "description", "degree"]
    entity_section = TableSection(tokenizer, "Entities", entity_columns, graph_share)
    for m in matches:
        entity = data.entity_by_id[m.entity_id]
        if not entity_section.add(entity.id, [entity.title, entity.description, entity.degree]):
            break
    relationships = rank_relationships(data, matched_ids, opts.top_k_relationships)
    rel_section = TableSection(
        tokenizer,
        "Relationships",
        ["id", "source", "target", "description", "weight"],
        graph_share - entity_section.tokens,
    )
    for rel in relationships:
        if not rel_section.add(rel.id, [rel.source, rel.target, rel.description, f"{rel.weight:g}"]):
            break

    # Text units get their share plus whatever the other sections did not spend.
    used = report_section.tokens + entity_section.tokens + rel_section.tokens
    unit_budget = remaining - used - 4  # separators between sections
    unit_section = TableSection(tokenizer, "Sources", ["id", "text"], unit_budget)
    used_rels = [data.relationship_by_id[r] for r in rel_section.record_ids]
    for unit_id in rank_text_units(data, matches, used_rels, opts.use_pagerank):
        if not unit_section.add(unit_id, [data.text_unit_by_id[unit_id].text]):
            break

    text = join_sections(
        [history_text, report_section.text, entity_section.text, rel_section.text, unit_section.text]
    )
    tokens = tokenizer.count(text)
    while tokens > budget and unit_section.rows:  # BPE merges across rows can add a token or two
        unit_section.rows.pop()
        unit_section.record_ids.pop()
        text = join_sections(
            [history_text, report_section.text, entity_section.text, rel_section.text, unit_section.text]
        )
        tokens = tokenizer.count(text)

    ids = ContextIds()
    ids.register("sources", unit_section.record_ids)
    ids.register("entities", entity_section.record_ids)
    ids.register("relationships", rel_section.record_ids)
    ids.register("reports", report_section.record_ids)
    records = ContextRecords(
        text_units=list(unit_section.record_ids),
        entities=list(entity_section.record_ids),
        relationships=list(rel_section.record_ids),
        reports=list(report_section.record_ids),
    )
    return LocalContext(
        text=text,
        records=records,
        entities=matches,
        ids=ids,
        tokens=tokens,
        section_tokens={
            "history": tokenizer.count(history_text),
            "reports": report_section.tokens,
            "entities": entity_section.tokens,
            "relationships": rel_section.tokens,
            "sources": unit_section.tokens,
        },
    )
