"""Community reports written by an LLM, bottom-up through the community hierarchy.

The deepest level goes first and each level runs concurrently (the chat model bounds requests in flight),
so when a parent community is too big for the context budget its children's reports already exist and its
context is built from them (see :mod:`graphrag_lite.index.report_context`).

A reply that is not usable JSON is retried once with a short "JSON only" reminder; if that fails too, or
the model cannot be reached, the community gets a placeholder report with ``status="failed"`` (titled after
its top entities, no findings) and the run goes on. ``ReportResult.failed`` lists those communities.

A report whose prompt (context included) was answered before comes back from the step memo without a call,
so an update rewrites only communities whose members or their descriptions changed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from graphrag_lite.config.prompts import fill, load_prompt
from graphrag_lite.config.settings import Settings
from graphrag_lite.errors import LLMError
from graphrag_lite.index.json_reply import JSONReplyError, ReportFields, coerce_report, parse_json_reply
from graphrag_lite.index.report_context import ReportContext, build_report_context
from graphrag_lite.index.report_reuse import report_from_memo, report_to_memo
from graphrag_lite.models.base import ChatModel, Message, forget_replies, item_usage
from graphrag_lite.models.tokens import get_tokenizer
from graphrag_lite.store.ids import report_id
from graphrag_lite.store.memo import ItemMemo, memo_key
from graphrag_lite.store.records import Community, CommunityReport, Entity, Relationship, TextUnit

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]
REPORT_PROMPT = "community_report"
JSON_REMINDER = (
    "Your previous reply could not be read. Reply with the JSON object only: keys title, summary, findings, "
    "rating, rating_explanation; no code fences, no other text."
)


@dataclass
class ReportResult:
    """Reports in the order of the input communities, and (community id, reason) for each failure."""

    reports: list[CommunityReport] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Inputs:
    """Everything a single report needs, looked up once for the whole run."""

    entities: dict[str, Entity]
    relationships: dict[str, Relationship]
    text_units: dict[str, TextUnit]
    communities: dict[str, Community]
    template: str
    settings: Settings
    memo: ItemMemo


def render_report(title: str, summary: str, fields: ReportFields | None = None) -> str:
    """The report as markdown: what is embedded and what query engines show (``full_content``)."""
    lines = [f"# {title}", "", summary]
    if fields is not None and fields.findings:
        lines += ["", "## Findings"]
        for finding in fields.findings:
            lines += ["", f"### {finding.summary}", "", finding.explanation]
    if fields is not None:
        rating = f"{fields.rating:g}/10"
        lines += [
            "",
            "## Rating",
            "",
            f"{rating}: {fields.rating_explanation}" if fields.rating_explanation else rating,
        ]
    return "\n".join(lines).strip() + "\n"


def _top_titles(community: Community, entities: Mapping[str, Entity], n: int = 3) -> list[str]:
    members = [entities[e] for e in community.entity_ids if e in entities]
    members.sort(key=lambda e: (-e.degree, e.title))
    return [e.title for e in members[:n]]


def _join_names(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def failed_report(
    community: Community, entities: Mapping[str, Entity], reason: str, source: str
) -> CommunityReport:
    """A placeholder for a community whose report could not be written: named after its top entities."""
    names = _top_titles(community, entities)
    title = _join_names(names) or f"Community {community.id}"
    summary = (
        f"A community of {community.size} entities, among them {_join_names(names)}. "
        "No report could be generated for it."
    )
    return CommunityReport(
        id=report_id(community.id),
        community_id=community.id,
        level=community.level,
        title=title,
        summary=summary,
        full_content=render_report(title, summary),
        status="failed",
        context_source=source,
    )


def _report(community: Community, fields: ReportFields, context: ReportContext) -> CommunityReport:
    return CommunityReport(
        id=report_id(community.id),
        community_id=community.id,
        level=community.level,
        title=fields.title,
        summary=fields.summary,
        findings=fields.findings,
        rating=fields.rating,
        rating_explanation=fields.rating_explanation,
        full_content=render_report(fields.title, fields.summary, fields),
        method="llm",
        status="ok",
        context_source=context.source,
    )


async def _ask(chat: ChatModel, messages: list[Message], json_mode: bool) -> str:
    response = await chat.chat(messages, json_mode=json_mode)
    return response.text or ""


async def _write_report(
    community: Community, inputs: _Inputs, sub_reports: Mapping[str, CommunityReport], chat: ChatModel
) -> tuple[CommunityReport, str | None]:
    """One report, or a failed placeholder and the reason. Never raises for a model failure."""
    settings = inputs.settings
    context = build_report_context(
        community,
        inputs.entities,
        inputs.relationships,
        inputs.text_units,
        sub_reports,
        get_tokenizer(settings.chunks.encoding),
        settings.reports.max_context_tokens,
        communities_by_id=inputs.communities,
        max_text_unit_tokens=settings.reports.max_text_unit_tokens,
    )
    prompt = fill(inputs.template, context=context.text, max_report_words=settings.reports.max_report_words)
    key = memo_key(REPORT_PROMPT, prompt)
    previous = inputs.memo.get(key)
    if previous is not None:
        return report_from_memo(previous, community), None
    with item_usage(chat.meter, community.id) as spent:
        report, reason = await _ask_report(community, context, prompt, inputs, chat)
    if reason is None:
        inputs.memo.put(key, report_to_memo(report), calls=spent.llm_calls + spent.cache_hits)
    return report, reason


async def _ask_report(
    community: Community, context: ReportContext, prompt: str, inputs: _Inputs, chat: ChatModel
) -> tuple[CommunityReport, str | None]:
    settings = inputs.settings
    messages: list[Message] = [{"role": "user", "content": prompt}]
    unusable: list[list[Message]] = []  # requests answered with replies that could not be used
    reason = ""
    for attempt in range(2):
        try:
            reply = await _ask(chat, messages, settings.llm.json_mode)
        except LLMError as exc:
            reason = f"report call failed: {exc}"
            break
        try:
            return _report(community, coerce_report(parse_json_reply(reply)), context), None
        except JSONReplyError as exc:
            reason = f"unusable report reply ({'after the JSON reminder' if attempt else 'first try'}): {exc}"
            logger.info("community %s: %s", community.id, reason)
            unusable.append(messages)
            messages = [*messages[:1], {"role": "user", "content": JSON_REMINDER}]
    await forget_replies(chat, unusable, json_mode=settings.llm.json_mode)
    logger.warning("community %s: report failed: %s", community.id, reason)
    return failed_report(community, inputs.entities, reason, context.source), reason


async def generate_reports(
    communities: Sequence[Community],
    entities: Sequence[Entity],
    relationships: Sequence[Relationship],
    text_units: Sequence[TextUnit],
    chat: ChatModel,
    settings: Settings,
    project_root: Path | None,
    on_progress: ProgressCallback | None = None,
    memo: ItemMemo | None = None,
) -> ReportResult:
    """One report per community, deepest level first, each level concurrently; failures are recorded."""
    memo = memo if memo is not None else ItemMemo()
    inputs = _Inputs(
        entities={e.id: e for e in entities},
        relationships={r.id: r for r in relationships},
        text_units={u.id: u for u in text_units},
        communities={c.id: c for c in communities},
        template=load_prompt(REPORT_PROMPT, project_root),
        settings=settings,
        memo=memo,
    )
    by_level: dict[int, list[Community]] = defaultdict(list)
    for community in communities:
        by_level[community.level].append(community)
    done: dict[str, CommunityReport] = {}
    failures: dict[str, str] = {}
    total, finished = len(communities), 0

    async def run(community: Community) -> None:
        nonlocal finished
        try:
            report, reason = await _write_report(community, inputs, done, chat)
            done[community.id] = report
            if reason is not None:
                failures[community.id] = reason
        finally:
            finished += 1
            if on_progress is not None:
                on_progress(finished, total)

    for level in sorted(by_level, reverse=True):
        await asyncio.gather(*(run(c) for c in by_level[level]))
    return ReportResult(
        reports=[done[c.id] for c in communities],
        failed=[(c.id, failures[c.id]) for c in communities if c.id in failures],
    )
