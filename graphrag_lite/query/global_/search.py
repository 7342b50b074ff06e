"""Global search: map-reduce over the community reports of one level.

Map: the reports (best rated first) are packed into batches under the batch budget; each batch is asked,
concurrently, for scored key points as JSON. Reduce: the points that score at least ``min_score``, best
first, fill the reduce budget and are written into one answer. When no point scores above zero the answer
says so, without a reduce call. Reports carry one number each across all batches, so the citations the map
step writes survive the reduce step unchanged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from graphrag_lite.config.prompts import fill, load_prompt
from graphrag_lite.config.settings import Settings
from graphrag_lite.errors import LLMError
from graphrag_lite.models.base import ChatModel, Message
from graphrag_lite.models.json_reply import parse_json_object
from graphrag_lite.models.tokens import Tokenizer, get_tokenizer
from graphrag_lite.query.answer import (
    Emit,
    QueryRun,
    emit_whole,
    finish,
    query_run,
    write_answer,
)
from graphrag_lite.query.engine import GlobalOptions, QueryEnv
from graphrag_lite.query.global_.extractive import extractive_findings_answer
from graphrag_lite.query.global_.selection import select_reports_dynamically
from graphrag_lite.query.index_data import IndexData
from graphrag_lite.query.result import ContextRecords, QueryResult
from graphrag_lite.query.sections import ContextIds, TableSection, fill_budget
from graphrag_lite.store.records import CommunityReport

log = logging.getLogger(__name__)

NOT_FOUND = "I could not find relevant information in the index for this question."
MAX_POINTS_PER_BATCH = 10


@dataclass(frozen=True)
class KeyPoint:
    description: str
    score: int
    batch: int


@dataclass
class MapOutcome:
    points: list[KeyPoint]
    calls: int
    failures: int


def global_level(settings: Settings, community_level: int | None) -> int:
    if community_level is not None:
        return community_level
    return settings.query.community_level if settings.query.community_level is not None else 0


def rank_reports(reports: Sequence[CommunityReport]) -> list[CommunityReport]:
    """Best rated first (ties: larger communities' reports are usually longer, keep id order stable)."""
    return sorted(reports, key=lambda r: (-r.rating, r.id))


def pack_batches(
    reports: Sequence[CommunityReport], numbers: dict[str, int], tokenizer: Tokenizer, max_tokens: int
) -> list[TableSection]:
    """Reports in order, packed into batches of at most ``max_tokens``; a report longer than a whole batch
    is cut to fit rather than dropped."""
    batches: list[TableSection] = []
    current = TableSection(tokenizer, "Reports", ["id", "content"], max_tokens)
    for report in reports:
        content = report.full_content or f"# {report.title}\n\n{report.summary}"
        number = numbers[report.id]
        if current.add_block(report.id, content, label=number):
            continue
        if current.rows:
            batches.append(current)
            current = TableSection(tokenizer, "Reports", ["id", "content"], max_tokens)
        if not current.add_block(report.id, content, label=number):
            current.add_block(report.id, tokenizer.truncate(content, max(16, max_tokens - 64)), label=number)
    if current.rows:
        batches.append(current)
    return batches


def parse_points(text: str, batch: int) -> list[KeyPoint]:
    """Key points of one map reply; raises ValueError when the reply is not the JSON asked for."""
    data = parse_json_object(text)
    raw = data.get("points")
    if not isinstance(raw, list):
        raise ValueError("the reply has no 'points' list")
    points: list[KeyPoint] = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        description = str(item.get("description", "")).strip()
        try:
            score = round(float(item.get("score", 0)))
        except (TypeError, ValueError):
            score = 0
        if description:
            points.append(KeyPoint(description, max(0, min(100, score)), batch))
    return points


async def map_batches(
    query: str, batches: Sequence[TableSection], chat: ChatModel, settings: Settings
) -> MapOutcome:
    """One map call per batch, at most ``settings.query.global_.concurrency`` in flight. A batch whose
    reply stays unusable is logged and skipped; it never aborts the others."""
    template = load_prompt("global_map", settings.root)
    limit = asyncio.Semaphore(settings.query.global_.concurrency)
    failures = 0

    async def one(index: int, batch: TableSection) -> list[KeyPoint]:
        nonlocal failures
        system = fill(template, context_data=batch.text, max_points=MAX_POINTS_PER_BATCH)
        messages: list[Message] = [{"role": "system", "content": system}, {"role": "user", "content": query}]
        async with limit:
            try:
                response = await chat.chat(messages, json_mode=settings.llm.json_mode)
                return parse_points(response.text, index)
            except (ValueError, LLMError) as exc:
                failures += 1
                log.warning("global search: map batch %d gave no usable points (%s)", index + 1, exc)
                return []

    results = await asyncio.gather(*(one(i, b) for i, b in enumerate(batches)))
    return MapOutcome([p for points in results for p in points], len(batches), failures)


def reduce_text(points: Sequence[KeyPoint], tokenizer: Tokenizer, max_tokens: int) -> tuple[str, int]:
    """The ranked points as the reduce prompt's data, within ``max_tokens``; returns (text, points used)."""
    parts = (
        f"----Point {rank}----\nImportance: {point.score}\n{point.description}\n"
        for rank, point in enumerate(points, start=1)
    )
    return fill_budget(parts, tokenizer, max_tokens)


async def global_search(
    query: str, options: GlobalOptions, env: QueryEnv, emit: Emit | None = None
) -> QueryResult:
    """Answer a question about the whole collection ("what are the main themes?") from the reports."""
    level = global_level(env.settings, options.community_level)
    with query_run("global", env.chat) as run:
        extra: dict[str, Any] = {"community_level": level}
        return await env.answerer.global_answer(
            query, level, env, run, emit, extra=extra, context_tokens=options.context_tokens
        )


def _numbered(reports: list[CommunityReport]) -> tuple[dict[str, int], ContextIds]:
    """Reports carry one number each across all batches."""
    ids = ContextIds()
    ids.register("reports", [r.id for r in reports])
    return {r.id: n for n, r in enumerate(reports, start=1)}, ids


async def extractive_global(
    query: str, level: int, env: QueryEnv, run: QueryRun, emit: Emit | None, extra: dict[str, Any]
) -> QueryResult:
    """No model: one cited finding from each of the best matching communities."""
    reports = rank_reports(env.data.reports_at_level(level))
    numbers, ids = _numbered(reports)
    answer, used = await extractive_findings_answer(query, reports, numbers, env.data, env.embedder)
    emit_whole(emit, answer)
    records = ContextRecords(reports=used)
    return finish(run, env.data, answer, records=records, ids=ids, extractive=True, extra=extra)


async def map_reduce(
    query: str,
    level: int,
    env: QueryEnv,
    chat: ChatModel,
    run: QueryRun,
    emit: Emit | None,
    *,
    extra: dict[str, Any],
    context_tokens: int | None,
) -> QueryResult:
    """Map the level's reports (or, with dynamic selection, the relevant ones) to points, then reduce."""
    data, settings = env.data, env.settings
    if settings.query.global_.dynamic_selection:
        selection = await select_reports_dynamically(query, data, chat, settings)
        reports = rank_reports(selection.reports)
        extra.update(reports_rated=selection.rated, reports_used=len(reports))
    else:
        reports = rank_reports(data.reports_at_level(level))
    numbers, ids = _numbered(reports)
    return await _map_reduce(
        query, reports, numbers, ids, data, chat, settings, emit, run, extra, context_tokens
    )


async def _map_reduce(
    query: str,
    reports: Sequence[CommunityReport],
    numbers: dict[str, int],
    ids: ContextIds,
    data: IndexData,
    chat: ChatModel,
    settings: Settings,
    emit: Emit | None,
    run: QueryRun,
    extra: dict[str, Any],
    context_tokens: int | None,
) -> QueryResult:
    opts = settings.query.global_
    tokenizer = get_tokenizer(settings.chunks.encoding)
    batch_tokens = min(opts.max_context_tokens, context_tokens or opts.max_context_tokens)
    batches = pack_batches(reports, numbers, tokenizer, batch_tokens)
    outcome = await map_batches(query, batches, chat, settings)
    ranked = sorted(
        (p for p in outcome.points if p.score >= max(1, opts.min_score)),
        key=lambda p: (-p.score, p.batch),
    )
    records = ContextRecords(reports=[rid for batch in batches for rid in batch.record_ids])
    extra.update(
        map_calls=outcome.calls,
        map_failures=outcome.failures,
        points=len(outcome.points),
        points_relevant=len(ranked),
    )
    if not ranked:
        emit_whole(emit, NOT_FOUND)
        return finish(run, data, NOT_FOUND, records=records, ids=ids, extractive=False, extra=extra)
    reduce_tokens = min(opts.reduce_max_tokens, context_tokens or opts.reduce_max_tokens)
    points_text, points_used = reduce_text(ranked, tokenizer, reduce_tokens)
    extra["points_used"] = points_used
    template = load_prompt("global_reduce", settings.root)
    system = fill(template, response_type=settings.query.response_type, report_data=points_text)
    messages: list[Message] = [{"role": "system", "content": system}, {"role": "user", "content": query}]
    answer = await write_answer(chat, messages, emit)
    return finish(
        run, data, answer, records=records, ids=ids, extractive=False, context_text=points_text, extra=extra
    )
