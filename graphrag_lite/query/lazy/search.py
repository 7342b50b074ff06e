"""Lazy search (after Microsoft's LazyGraphRAG): a global answer with no community reports, paying the
model only at query time and only as much as the relevance budget allows.

1. The question is expanded into a few sub-queries (one call).
2. Each query ranks the text units as graph search does; the rankings are fused (:mod:`.ranking`).
3. The model judges units in cheap batched calls, best communities first, deepening into sub-communities
   only where units proved relevant, until ``relevance_budget`` units are judged (:mod:`.frontier`).
4. Claims are pulled from the relevant units (the map step), ranked and written into one cited answer
   (the reduce step).

With no model the same loop runs on the text alone (:class:`.steps.OfflineLazySteps`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from graphrag_lite.models.tokens import get_tokenizer
from graphrag_lite.query.answer import Emit, emit_whole, finish, query_run
from graphrag_lite.query.engine import LazyOptions, QueryEnv
from graphrag_lite.query.index_data import IndexData
from graphrag_lite.query.lazy.frontier import NO_COMMUNITY, Frontier, Visit
from graphrag_lite.query.lazy.ranking import fused_unit_scores
from graphrag_lite.query.lazy.steps import NOT_FOUND, Claim, claim_groups
from graphrag_lite.query.result import ContextRecords, QueryResult
from graphrag_lite.query.sections import ContextIds


async def lazy_search(
    query: str, options: LazyOptions, env: QueryEnv, emit: Emit | None = None
) -> QueryResult:
    """Answer a question about the whole collection by judging text units under a budget."""
    data, opts = env.data, env.settings.query.lazy
    budget = options.budget or opts.relevance_budget
    answerer = env.answerer
    steps = answerer.lazy_steps(env)
    with query_run("lazy", env.chat) as run:
        subqueries = await steps.subqueries(query)
        frontier = Frontier(data, await fused_unit_scores([query, *subqueries], env), opts.units_per_test)
        numbers: dict[str, int] = {}  # unit id -> its number for the whole query, in judging order
        spent = 0
        while frontier and spent < budget:
            wave = frontier.next_wave(opts.concurrency, budget - spent)
            if not wave:
                break
            for visit in wave:
                for unit_id in visit.unit_ids:
                    numbers.setdefault(unit_id, len(numbers) + 1)
            await asyncio.gather(*(steps.judge(query, subqueries, v, numbers) for v in wave))
            frontier.record(wave)
            spent += sum(len(v.unit_ids) for v in wave)

        tokenizer = get_tokenizer(env.settings.chunks.encoding)
        groups = claim_groups(frontier.visits, data, tokenizer, opts.claims_context_tokens)
        found = await asyncio.gather(*(steps.claims(query, g, numbers) for g in groups))
        claims = [c for claims in found for c in claims]
        claims.sort(key=lambda c: -c.score)  # stable: ties keep the order units were found in
        reduce_tokens = min(opts.reduce_max_tokens, options.context_tokens or opts.reduce_max_tokens)
        if claims:
            answer, context_text = await steps.answer(query, claims, emit, reduce_tokens)
        else:
            answer, context_text = NOT_FOUND, ""
            emit_whole(emit, answer)
        ids = ContextIds()
        ids.register("sources", list(numbers))
        records = ContextRecords(text_units=[u for v in frontier.visits for u in v.relevant])
        extra: dict[str, Any] = {
            "relevance_budget": budget,
            "relevance_tests": spent,
            "relevant_units": len(records.text_units),
            "claim_calls": len(groups),
            "claims": len(claims),
            "lazy": trace(query, subqueries, frontier, claims, data, budget),
        }
        return finish(
            run,
            data,
            answer,
            records=records,
            ids=ids,
            extractive=answerer.extractive,
            context_text=context_text,
            extra=extra,
        )


def trace(
    query: str, subqueries: list[str], frontier: Frontier, claims: list[Claim], data: IndexData, budget: int
) -> dict[str, Any]:
    """What the search did, for ``--show-tree`` and the JSON result: the communities opened (nested as in
    the hierarchy), the units judged and found relevant in each, and the claims they gave."""
    claims_by_community: dict[str, int] = {}
    for claim in claims:
        claims_by_community[claim.community_id] = claims_by_community.get(claim.community_id, 0) + 1
    nodes: dict[str, dict[str, Any]] = {}

    def node(visit: Visit) -> dict[str, Any]:
        if visit.community_id not in nodes:
            report = data.report_by_community.get(visit.community_id)
            title = (
                report.title
                if report
                else ("(units in no community)" if visit.community_id == NO_COMMUNITY else "")
            )
            nodes[visit.community_id] = {
                "community": visit.community_id,
                "level": visit.level,
                "title": title,
                "tested": 0,
                "relevant": 0,
                "failed_calls": 0,
                "claims": claims_by_community.get(visit.community_id, 0),
                "children": [],
            }
        return nodes[visit.community_id]

    roots: list[dict[str, Any]] = []
    for visit in frontier.visits:
        fresh = visit.community_id not in nodes
        entry = node(visit)
        entry["tested"] += len(visit.unit_ids)
        entry["relevant"] += len(visit.relevant)
        entry["failed_calls"] += int(visit.failed)
        if fresh:
            parent = frontier.parent_of(visit.community_id)
            (nodes[parent]["children"] if parent is not None and parent in nodes else roots).append(entry)
    tested = sum(len(v.unit_ids) for v in frontier.visits)
    relevant = sum(len(v.relevant) for v in frontier.visits)
    return {
        "question": query,
        "subqueries": subqueries,
        "budget": budget,
        "tests": tested,
        "relevant": relevant,
        "relevant_fraction": round(relevant / tested, 3) if tested else 0.0,
        "batches": len(frontier.visits),
        "communities": roots,
    }
