"""Dynamic community selection for global search: rate reports from the root level down and descend only
into relevant ones, so a question about one corner of the collection does not pay for mapping all of it.

A relevant report (rating >= threshold) with sub-communities hands over to its relevant children; when none
of its children is relevant, the report itself is used. Ratings run concurrently, bounded.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from graphrag_lite.config.prompts import fill, load_prompt
from graphrag_lite.config.settings import Settings
from graphrag_lite.errors import LLMError
from graphrag_lite.models.base import ChatModel, Message
from graphrag_lite.models.json_reply import parse_json_object
from graphrag_lite.models.tokens import get_tokenizer
from graphrag_lite.query.index_data import IndexData
from graphrag_lite.store.records import CommunityReport

log = logging.getLogger(__name__)
RATE_MAX_TOKENS = 2000  # report text shown per rating call


@dataclass
class Selection:
    reports: list[CommunityReport]
    rated: int = 0
    failures: int = 0
    ratings: dict[str, int] = field(default_factory=dict)


async def select_reports_dynamically(
    query: str, data: IndexData, chat: ChatModel, settings: Settings
) -> Selection:
    """The most specific relevant reports, found top-down from level 0."""
    opts = settings.query.global_
    template = load_prompt("global_rate", settings.root)
    tokenizer = get_tokenizer(settings.chunks.encoding)
    limit = asyncio.Semaphore(opts.concurrency)
    selection = Selection(reports=[])

    async def rate(report: CommunityReport) -> int:
        content = report.full_content or f"# {report.title}\n\n{report.summary}"
        text = tokenizer.truncate(content, RATE_MAX_TOKENS)
        messages: list[Message] = [
            {"role": "system", "content": fill(template, report=text)},
            {"role": "user", "content": query},
        ]
        async with limit:
            try:
                reply = await chat.chat(messages, json_mode=settings.llm.json_mode)
                rating = round(float(parse_json_object(reply.text).get("rating", 0)))
            except (ValueError, TypeError, LLMError) as exc:
                # Unknown relevance: keep the report rather than silently lose part of the collection.
                log.warning("global search: could not rate report %s (%s); keeping it", report.id, exc)
                selection.failures += 1
                rating = opts.dynamic_threshold
        selection.rated += 1
        selection.ratings[report.id] = rating
        return rating

    async def relevant(reports: list[CommunityReport]) -> list[CommunityReport]:
        ratings = await asyncio.gather(*(rate(r) for r in reports))
        return [r for r, score in zip(reports, ratings, strict=True) if score >= opts.dynamic_threshold]

    async def expand(report: CommunityReport) -> list[CommunityReport]:
        community = data.community_by_id.get(report.community_id)
        children = [
            data.report_by_community[c]
            for c in (community.children if community else [])
            if c in data.report_by_community
        ]
        if not children:
            return [report]
        keep = await relevant(children)
        if not keep:
            return [report]
        nested = await asyncio.gather(*(expand(child) for child in keep))
        return [r for group in nested for r in group]

    by_community = data.report_by_community
    roots = [by_community[c.id] for c in data.communities if c.level == 0 and c.id in by_community]
    for group in await asyncio.gather(*(expand(r) for r in await relevant(roots))):
        selection.reports.extend(group)
    return selection
