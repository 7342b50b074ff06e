"""Community reports written by an LLM, bottom-up through the community hierarchy.

The deepest level goes first and each level runs concurrently (the chat model bounds requests in flight),
so when a parent community is too big for the context budget its children's reports already exist and its
context is built from them (see :mod:`graphrag_lite.index.reports.context`).

A reply that is not usable JSON is retried once with a short "JSON only" reminder; if that fails too, or
the model cannot be reached, the community gets a placeholder report with ``status="failed"`` (titled after
its top entities, no findings) and the run goes on. ``ReportResult.failed`` lists those communities.

A report whose prompt (context included) was answered before comes back from the step memo without a call,
so an update rewrites only communities whose members or their descriptions changed.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from graphrag_lite.config.prompts import fill, load_prompt
from graphrag_lite.config.settings import Settings
from graphrag_lite.errors import LLMError
from graphrag_lite.index.items import Entry, ItemRunner, Outcome, ProgressCallback, run_items
from graphrag_lite.index.reports.context import ReportContext, build_report_context
from graphrag_lite.index.reports.record import join_names, render_report, report_from_memo, report_to_memo
from graphrag_lite.index.reports.reply import ReportFields, coerce_report
from graphrag_lite.models.base import ChatModel, Message, forget_replies
from graphrag_lite.models.json_reply import JSONReplyError, parse_json_reply
from graphrag_lite.models.tokens import get_tokenizer
from graphrag_lite.store.ids import report_id
from graphrag_lite.store.memo import ItemMemo, memo_key
from graphrag_lite.store.records import Community, CommunityReport, Entity, Relationship, TextUnit

if TYPE_CHECKING:
    from graphrag_lite.index.executor import Executor

logger = logging.getLogger(__name__)

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
    reused: int = 0  # reports taken from the memo


@dataclass
class _Inputs:
    """Everything a single report needs, looked up once for the whole run."""

    entities: dict[str, Entity]
    relationships: dict[str, Relationship]
    text_units: dict[str, TextUnit]
    communities: dict[str, Community]
    template: str
    settings: Settings


def _top_titles(community: Community, entities: Mapping[str, Entity], n: int = 3) -> list[str]:
    members = [entities[e] for e in community.entity_ids if e in entities]
    members.sort(key=lambda e: (-e.degree, e.title))
    return [e.title for e in members[:n]]


def failed_report(community: Community, entities: Mapping[str, Entity], source: str) -> CommunityReport:
    """A placeholder for a community whose report could not be written: named after its top entities."""
    names = _top_titles(community, entities)
    title = join_names(names) or f"Community {community.id}"
    summary = (
        f"A community of {community.size} entities, among them {join_names(names)}. "
        "No report could be generated for it."
    )
    report = CommunityReport(
        id=report_id(community.id),
        community_id=community.id,
        level=community.level,
        title=title,
        summary=summary,
        status="failed",
        context_source=source,
    )
    report.full_content = render_report(report)
    return report


def _report(community: Community, fields: ReportFields, context: ReportContext) -> CommunityReport:
    report = CommunityReport(
        id=report_id(community.id),
        community_id=community.id,
        level=community.level,
        title=fields.title,
        summary=fields.summary,
        findings=fields.findings,
        rating=fields.rating,
        rating_explanation=fields.rating_explanation,
        method="llm",
        status="ok",
        context_source=context.source,
    )
    report.full_content = render_report(report)
    return report


async def _ask(chat: ChatModel, messages: list[Message], json_mode: bool) -> str:
    response = await chat.chat(messages, json_mode=json_mode)
    return response.text or ""


@dataclass(frozen=True)
class _ReportAsk:
    """What one report call needs (picklable for Ray): the context is built on the driver, where the
    sub-reports of the level below are."""

    community: Community
    context: ReportContext
    prompt: str
    members: dict[str, Entity]  # the community's entities: the placeholder of a failed report names them


@dataclass(frozen=True)
class _ReportWork:
    json_mode: bool

    async def __call__(self, chat: ChatModel, ask: _ReportAsk) -> Outcome[CommunityReport]:
        return Outcome(*await _ask_report(ask, self.json_mode, chat))


def _report_entry(
    community: Community, inputs: _Inputs, sub_reports: Mapping[str, CommunityReport]
) -> Entry[_ReportAsk]:
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
        source_text_until=settings.reports.source_text_until,
    )
    prompt = fill(inputs.template, context=context.text, max_report_words=settings.reports.max_report_words)
    members = {e: inputs.entities[e] for e in community.entity_ids if e in inputs.entities}
    return Entry(
        community.id, memo_key(REPORT_PROMPT, prompt), _ReportAsk(community, context, prompt, members)
    )


async def _ask_report(
    ask: _ReportAsk, json_mode: bool, chat: ChatModel
) -> tuple[CommunityReport, str | None]:
    """One report (a failed placeholder when the model fails, with the reason)."""
    community, context = ask.community, ask.context
    messages: list[Message] = [{"role": "user", "content": ask.prompt}]
    unusable: list[list[Message]] = []  # requests answered with replies that could not be used
    reason = ""
    for attempt in range(2):
        try:
            reply = await _ask(chat, messages, json_mode)
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
    await forget_replies(chat, unusable, json_mode=json_mode)
    logger.warning("community %s: report failed: %s", community.id, reason)
    return failed_report(community, ask.members, context.source), reason


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
    written: Mapping[str, CommunityReport] | None = None,
    executor: Executor | None = None,
) -> ReportResult:
    """One report per community, deepest level first, each level concurrently; failures are recorded.
    ``written``: reports made another way (community id -> report), kept as they are and usable as
    sub-reports of their parents."""
    inputs = _Inputs(
        entities={e.id: e for e in entities},
        relationships={r.id: r for r in relationships},
        text_units={u.id: u for u in text_units},
        communities={c.id: c for c in communities},
        template=load_prompt(REPORT_PROMPT, project_root),
        settings=settings,
    )
    done: dict[str, CommunityReport] = dict(written or {})
    by_level: dict[int, list[Community]] = defaultdict(list)
    for community in communities:
        if community.id not in done:
            by_level[community.level].append(community)
    runner = ItemRunner(memo, chat.meter, sum(len(cs) for cs in by_level.values()), on_progress)
    work = _ReportWork(settings.llm.json_mode)
    for level in sorted(by_level, reverse=True):  # a level's context holds the reports of the level below
        entries = [_report_entry(c, inputs, done) for c in by_level[level]]
        reports = await run_items(
            runner,
            entries,
            work,
            chat,
            settings,
            executor,
            encode=report_to_memo,
            decode=lambda entry, value: report_from_memo(value, entry.item.community),
        )
        done.update((report.community_id, report) for report in reports)
    return ReportResult(
        reports=[done[c.id] for c in communities],
        failed=runner.failed(c.id for c in communities),
        reused=runner.reused,
    )
