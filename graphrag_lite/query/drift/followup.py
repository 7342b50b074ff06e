"""DRIFT step 2: answer one follow-up question with a local search context.

The context is the local-search context of the follow-up (entities it names or resembles, their
relationships, reports and source passages) within ``local_max_context_tokens``. The model answers the
follow-up in the light of the original question and replies JSON (response, score, further follow-ups);
without a model the best source sentences answer it, ranked against the follow-up and the original
question together (the follow-up exists to serve that question).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace

from graphrag_lite.config.prompts import fill, load_prompt
from graphrag_lite.config.settings import Settings
from graphrag_lite.errors import LLMError
from graphrag_lite.models.base import ChatModel, Embedder, Message
from graphrag_lite.models.tokens import get_tokenizer
from graphrag_lite.query.answerer import Answerer
from graphrag_lite.query.drift.budget import CallBudget, budgeted_chat, parse_drift_reply
from graphrag_lite.query.drift.offline import (
    entity_questions,
    evidence_answer,
    evidence_score,
    follow_up_focus,
    named_entities,
)
from graphrag_lite.query.drift.queue import FollowUp
from graphrag_lite.query.drift.tree import CitationBook, DriftNode
from graphrag_lite.query.extractive import rank_evidence
from graphrag_lite.query.index_data import IndexData
from graphrag_lite.query.local.context import LocalContext, build_local_context
from graphrag_lite.query.local.search import source_evidence
from graphrag_lite.query.result import ContextRecords

log = logging.getLogger(__name__)

EXTRACTIVE_SENTENCES_PER_FOLLOW_UP = 3


@dataclass
class FollowUpOutcome:
    """A follow-up's node, the questions it raised and the records its context held. ``refused``: the
    budget did not allow the call, so the follow-up was not answered (and is not in the tree)."""

    node: DriftNode
    follow_ups: list[str] = field(default_factory=list)
    records: ContextRecords = field(default_factory=ContextRecords)
    refused: bool = False


@dataclass(frozen=True)
class FollowUpJob:
    """Everything a follow-up needs besides the question (shared by every follow-up of a search)."""

    query: str
    data: IndexData
    answerer: Answerer
    embedder: Embedder
    settings: Settings
    book: CitationBook
    budget: CallBudget
    limit: asyncio.Semaphore
    level: int | None
    context_tokens: int | None

    @property
    def max_context_tokens(self) -> int:
        own = self.settings.query.drift.local_max_context_tokens
        return min(own, self.context_tokens) if self.context_tokens else own


async def answer_follow_up(item: FollowUp, job: FollowUpJob, round_no: int) -> FollowUpOutcome:
    """Answer ``item`` (at most ``concurrency`` of these run at once: the slot is held from context
    building to reply and released however the call ends)."""
    async with job.limit:
        context = await build_local_context(
            item.question, job.data, job.embedder, job.settings, job.max_context_tokens, job.level
        )
        node = DriftNode(
            question=item.question,
            text_units=list(context.records.text_units),
            reports=list(context.records.reports),
            similarity=item.similarity,
            round=round_no,
        )
        return await job.answerer.follow_up(item, context, node, job)


async def follow_up_with_model(
    item: FollowUp, context: LocalContext, node: DriftNode, job: FollowUpJob, chat: ChatModel
) -> FollowUpOutcome:
    opts = job.settings.query.drift
    template = load_prompt("drift_local", job.settings.root)
    system = fill(
        template, global_query=job.query, context_data=context.text, max_follow_ups=opts.follow_ups_per_answer
    )
    messages: list[Message] = [
        {"role": "system", "content": system},
        {"role": "user", "content": item.question},
    ]
    tokenizer = get_tokenizer(job.settings.chunks.encoding)
    try:
        response = await budgeted_chat(
            chat, messages, job.budget, tokenizer, json_mode=job.settings.llm.json_mode
        )
        if response is None:
            return FollowUpOutcome(node, refused=True)
        reply = parse_drift_reply(response.text, opts.follow_ups_per_answer)
    except (ValueError, LLMError) as exc:
        log.warning("DRIFT: follow-up %r gave no usable reply (%s)", item.question, exc)
        node.failed = True
        return FollowUpOutcome(node, records=context.records)
    node.answer = job.book.renumber(reply.answer, context.ids)
    node.score = reply.score
    return FollowUpOutcome(node, reply.follow_ups, context.records)


async def follow_up_extractive(
    item: FollowUp, context: LocalContext, node: DriftNode, job: FollowUpJob
) -> FollowUpOutcome:
    focus = follow_up_focus(job.data, item.question, job.query)
    candidates = source_evidence(node.text_units, job.data)
    picked = await rank_evidence(focus, candidates, job.embedder, top_n=EXTRACTIVE_SENTENCES_PER_FOLLOW_UP)
    book = job.book
    cited = [
        replace(
            p, evidence=replace(p.evidence, cite=f"Sources ({book.number('sources', p.evidence.record_id)})")
        )
        for p in picked
    ]
    node.answer = evidence_answer(cited)
    node.score = evidence_score(cited)
    node.evidence = [p.evidence for p in cited]
    # Follow-ups: first the entities the quoted sentences name (the next hop is usually named in the
    # passage that answers this one), then the entities the context matched.
    quoted = [m.entity_id for p in cited for m in job.data.entity_names.find_in(p.evidence.text)]
    skip = named_entities(job.data, f"{job.query} {item.question}")
    follow_ups = entity_questions(
        job.data, [*quoted, *context.records.entities], skip, job.settings.query.drift.follow_ups_per_answer
    )
    return FollowUpOutcome(node, follow_ups, context.records)
