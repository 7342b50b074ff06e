"""Who writes an answer: the model (:class:`LLMAnswerer`) or, with no model configured, the context itself
(:class:`ExtractiveAnswerer`, which quotes the best evidence). Engines build their context and hand it to
``env.answerer``; they never ask whether a model exists.

The method-specific work stays in each method's package; the two classes only pick their side of it.
"""

# ruff: noqa: ARG002  (each implementation uses only its side of the shared interface)
from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from graphrag_lite.models.base import ChatModel, Embedder, Message
from graphrag_lite.query.answer import Emit, emit_whole, write_answer

if TYPE_CHECKING:
    from graphrag_lite.config.settings import Settings
    from graphrag_lite.query.answer import QueryRun
    from graphrag_lite.query.drift.budget import CallBudget
    from graphrag_lite.query.drift.followup import FollowUpJob, FollowUpOutcome
    from graphrag_lite.query.drift.primer import FoldResult
    from graphrag_lite.query.drift.queue import FollowUp
    from graphrag_lite.query.drift.reduce import ReduceOutcome
    from graphrag_lite.query.drift.tree import CitationBook, DriftNode
    from graphrag_lite.query.engine import QueryEnv
    from graphrag_lite.query.index_data import IndexData
    from graphrag_lite.query.lazy.steps import LazySteps
    from graphrag_lite.query.local.context import LocalContext
    from graphrag_lite.query.result import ContextRecords, QueryResult
    from graphrag_lite.query.sections import ContextIds
    from graphrag_lite.store.records import CommunityReport

EXTRACTIVE_SENTENCES = 5


class Answerer(Protocol):
    """Writes every answer a search gives (``extractive``: no model wrote it)."""

    extractive: bool

    async def from_sources(
        self, query: str, messages: Callable[[], list[Message]], unit_ids: Sequence[str], emit: Emit | None
    ) -> str:
        """Local and basic search: the answer to ``messages``, or quotes of the context's text units."""
        ...

    async def global_answer(
        self,
        query: str,
        level: int,
        env: QueryEnv,
        run: QueryRun,
        emit: Emit | None,
        *,
        extra: dict[str, Any],
        context_tokens: int | None,
    ) -> QueryResult: ...

    async def hyde(
        self, query: str, example: CommunityReport | None, settings: Settings, budget: CallBudget
    ) -> str | None: ...

    async def primer_folds(
        self,
        query: str,
        folds: list[list[CommunityReport]],
        env: QueryEnv,
        book: CitationBook,
        *,
        budget: CallBudget,
        limit: asyncio.Semaphore,
        fold_tokens: int,
    ) -> list[FoldResult]: ...

    async def follow_up(
        self, item: FollowUp, context: LocalContext, node: DriftNode, job: FollowUpJob
    ) -> FollowUpOutcome: ...

    async def drift_reduce(
        self,
        query: str,
        nodes: Sequence[DriftNode],
        env: QueryEnv,
        emit: Emit | None,
        *,
        budget: CallBudget,
        history: Sequence[Message] | None,
        max_tokens: int,
    ) -> ReduceOutcome: ...

    def lazy_steps(self, env: QueryEnv) -> LazySteps:
        """Lazy search's judge: the model, or the text itself."""
        ...


class LLMAnswerer:
    extractive = False

    def __init__(self, chat: ChatModel) -> None:
        self.chat = chat

    async def from_sources(
        self, query: str, messages: Callable[[], list[Message]], unit_ids: Sequence[str], emit: Emit | None
    ) -> str:
        return await write_answer(self.chat, messages(), emit)

    async def global_answer(
        self,
        query: str,
        level: int,
        env: QueryEnv,
        run: QueryRun,
        emit: Emit | None,
        *,
        extra: dict[str, Any],
        context_tokens: int | None,
    ) -> QueryResult:
        from graphrag_lite.query.global_.search import map_reduce

        return await map_reduce(
            query, level, env, self.chat, run, emit, extra=extra, context_tokens=context_tokens
        )

    async def hyde(
        self, query: str, example: CommunityReport | None, settings: Settings, budget: CallBudget
    ) -> str | None:
        from graphrag_lite.query.drift.primer import write_hyde

        if budget.calls_left() < 2:  # HyDE only when a fold call is still left after it
            return None
        return await write_hyde(query, example, self.chat, settings, budget)

    async def primer_folds(
        self,
        query: str,
        folds: list[list[CommunityReport]],
        env: QueryEnv,
        book: CitationBook,
        *,
        budget: CallBudget,
        limit: asyncio.Semaphore,
        fold_tokens: int,
    ) -> list[FoldResult]:
        from graphrag_lite.models.tokens import get_tokenizer
        from graphrag_lite.query.drift.primer import fold_section, llm_fold

        tokenizer = get_tokenizer(env.settings.chunks.encoding)
        sections = [fold_section(fold, book, tokenizer, fold_tokens) for fold in folds]
        return list(
            await asyncio.gather(
                *(llm_fold(query, s, self.chat, env.settings, budget, limit) for s in sections)
            )
        )

    async def follow_up(
        self, item: FollowUp, context: LocalContext, node: DriftNode, job: FollowUpJob
    ) -> FollowUpOutcome:
        from graphrag_lite.query.drift.followup import follow_up_with_model

        return await follow_up_with_model(item, context, node, job, self.chat)

    async def drift_reduce(
        self,
        query: str,
        nodes: Sequence[DriftNode],
        env: QueryEnv,
        emit: Emit | None,
        *,
        budget: CallBudget,
        history: Sequence[Message] | None,
        max_tokens: int,
    ) -> ReduceOutcome:
        from graphrag_lite.query.drift.reduce import reduce_with_model

        return await reduce_with_model(
            query,
            nodes,
            self.chat,
            env.settings,
            budget=budget,
            emit=emit,
            history=history,
            max_tokens=max_tokens,
        )

    def lazy_steps(self, env: QueryEnv) -> LazySteps:
        from graphrag_lite.query.lazy.steps import LLMLazySteps

        return LLMLazySteps(self.chat, env.data, env.settings)


class ExtractiveAnswerer:
    extractive = True

    def __init__(self, data: IndexData, embedder: Embedder) -> None:
        self.data = data
        self.embedder = embedder

    async def from_sources(
        self, query: str, messages: Callable[[], list[Message]], unit_ids: Sequence[str], emit: Emit | None
    ) -> str:
        from graphrag_lite.query.extractive import format_extractive, rank_evidence
        from graphrag_lite.query.local.search import source_evidence

        evidence = source_evidence(unit_ids, self.data)
        picked = await rank_evidence(query, evidence, self.embedder, top_n=EXTRACTIVE_SENTENCES)
        answer = format_extractive(picked)
        emit_whole(emit, answer)
        return answer

    async def global_answer(
        self,
        query: str,
        level: int,
        env: QueryEnv,
        run: QueryRun,
        emit: Emit | None,
        *,
        extra: dict[str, Any],
        context_tokens: int | None,
    ) -> QueryResult:
        from graphrag_lite.query.global_.search import extractive_global

        return await extractive_global(query, level, env, run, emit, extra)

    async def hyde(
        self, query: str, example: CommunityReport | None, settings: Settings, budget: CallBudget
    ) -> str | None:
        return None

    async def primer_folds(
        self,
        query: str,
        folds: list[list[CommunityReport]],
        env: QueryEnv,
        book: CitationBook,
        *,
        budget: CallBudget,
        limit: asyncio.Semaphore,
        fold_tokens: int,
    ) -> list[FoldResult]:
        from graphrag_lite.query.drift.primer import offline_fold

        return [
            await offline_fold(query, fold, env.data, self.embedder, env.settings, book) for fold in folds
        ]

    async def follow_up(
        self, item: FollowUp, context: LocalContext, node: DriftNode, job: FollowUpJob
    ) -> FollowUpOutcome:
        from graphrag_lite.query.drift.followup import follow_up_extractive

        return await follow_up_extractive(item, context, node, job)

    async def drift_reduce(
        self,
        query: str,
        nodes: Sequence[DriftNode],
        env: QueryEnv,
        emit: Emit | None,
        *,
        budget: CallBudget,
        history: Sequence[Message] | None,
        max_tokens: int,
    ) -> ReduceOutcome:
        from graphrag_lite.query.drift.reduce import reduce_extractive

        return await reduce_extractive(query, nodes, self.data, self.embedder, emit)

    def lazy_steps(self, env: QueryEnv) -> LazySteps:
        from graphrag_lite.query.lazy.steps import OfflineLazySteps

        return OfflineLazySteps(self.data, self.embedder)


def answerer_for(chat: ChatModel | None, data: IndexData, embedder: Embedder) -> Answerer:
    """The model when one is configured, else the extractive answerer."""
    return ExtractiveAnswerer(data, embedder) if chat is None else LLMAnswerer(chat)


class SourcesContext(Protocol):
    """A built context answered from its text units (local, basic and graph search)."""

    text: str
    records: ContextRecords
    ids: ContextIds


async def answer_from_context(
    query: str,
    messages: Callable[[], list[Message]],
    context: SourcesContext,
    env: QueryEnv,
    run: QueryRun,
    emit: Emit | None,
    extra: dict[str, Any],
) -> QueryResult:
    """Answer from ``context`` (the model with ``messages``, or extractively from its sources) and wrap the
    answer with its citations and usage."""
    from graphrag_lite.query.answer import finish

    answerer = env.answerer
    answer = await answerer.from_sources(query, messages, context.records.text_units, emit)
    return finish(
        run,
        env.data,
        answer,
        records=context.records,
        ids=context.ids,
        extractive=answerer.extractive,
        context_text=context.text,
        extra=extra,
    )
