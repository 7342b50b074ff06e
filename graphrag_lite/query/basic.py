"""Basic search: hybrid (BM25 + vector) retrieval over text units, then an answer from the passages."""

from __future__ import annotations

from collections.abc import Sequence

from graphrag_lite.config.prompts import fill, load_prompt
from graphrag_lite.config.settings import Settings
from graphrag_lite.models.base import ChatModel, Embedder, Message
from graphrag_lite.query.answer import AnswerStream, Emit, emit_whole, finish, query_run, write_answer
from graphrag_lite.query.context_basic import build_basic_context
from graphrag_lite.query.extractive import format_extractive, rank_evidence
from graphrag_lite.query.index_data import IndexData
from graphrag_lite.query.local import EXTRACTIVE_SENTENCES, source_evidence
from graphrag_lite.query.result import QueryResult


def basic_messages(query: str, context_text: str, settings: Settings) -> list[Message]:
    template = load_prompt("basic_search", settings.root)
    system = fill(template, response_type=settings.query.response_type, context_data=context_text)
    return [{"role": "system", "content": system}, {"role": "user", "content": query}]


async def _basic(
    query: str,
    data: IndexData,
    chat: ChatModel | None,
    embedder: Embedder,
    settings: Settings,
    emit: Emit | None,
    *,
    context_tokens: int | None,
) -> QueryResult:
    with query_run("basic", chat) as run:
        context = await build_basic_context(query, data, embedder, settings, context_tokens)
        if chat is None:
            picked = await rank_evidence(
                query, source_evidence(context.records.text_units, data), embedder, top_n=EXTRACTIVE_SENTENCES
            )
            answer = format_extractive(picked)
            emit_whole(emit, answer)
        else:
            answer = await write_answer(chat, basic_messages(query, context.text, settings), emit)
        return finish(
            run,
            data,
            answer,
            records=context.records,
            ids=context.ids,
            extractive=chat is None,
            context_text=context.text,
            extra={
                "context_tokens": context.tokens,
                "bm25_hits": context.bm25_hits,
                "vector_hits": context.vector_hits,
            },
        )


async def basic_search(
    query: str,
    data: IndexData,
    chat: ChatModel | None,
    embedder: Embedder,
    settings: Settings,
    *,
    context_tokens: int | None = None,
    community_level: int | None = None,
    history: Sequence[Message] | None = None,
) -> QueryResult:
    """Answer ``query`` from the best-matching passages (``community_level`` and ``history`` are unused;
    they are accepted so every method takes the same options)."""
    return await _basic(query, data, chat, embedder, settings, None, context_tokens=context_tokens)


def basic_search_stream(
    query: str,
    data: IndexData,
    chat: ChatModel | None,
    embedder: Embedder,
    settings: Settings,
    *,
    context_tokens: int | None = None,
    community_level: int | None = None,
    history: Sequence[Message] | None = None,
) -> AnswerStream:
    """Like :func:`basic_search`, streamed: iterate for text deltas, then read ``.result``."""
    return AnswerStream(
        lambda emit: _basic(query, data, chat, embedder, settings, emit, context_tokens=context_tokens)
    )
