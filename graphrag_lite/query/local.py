"""Local search: answer from the entity-centred context of :mod:`graphrag_lite.query.context_local`."""

from __future__ import annotations

from collections.abc import Sequence

from graphrag_lite.config.prompts import fill, load_prompt
from graphrag_lite.config.settings import Settings
from graphrag_lite.models.base import ChatModel, Embedder, Message
from graphrag_lite.query.answer import (
    AnswerStream,
    Emit,
    QueryRun,
    emit_whole,
    finish,
    query_run,
    write_answer,
)
from graphrag_lite.query.context_local import LocalContext, build_local_context
from graphrag_lite.query.extractive import Evidence, format_extractive, rank_evidence, split_sentences
from graphrag_lite.query.index_data import IndexData
from graphrag_lite.query.result import QueryResult

EXTRACTIVE_SENTENCES = 5


def local_messages(query: str, context: LocalContext, settings: Settings) -> list[Message]:
    """The chat messages of a local-search answer (system: instructions + tables; user: the question)."""
    template = load_prompt("local_search", settings.root)
    system = fill(template, response_type=settings.query.response_type, context_data=context.text)
    return [{"role": "system", "content": system}, {"role": "user", "content": query}]


def source_evidence(context_units: Sequence[str], data: IndexData) -> list[Evidence]:
    """Sentences of the context's text units, tagged with their short source id and a rank prior."""
    evidence: list[Evidence] = []
    count = max(1, len(context_units))
    for position, unit_id in enumerate(context_units):
        unit = data.text_unit_by_id[unit_id]
        prior = 1.0 - position / count
        evidence.extend(
            Evidence(s, f"Sources ({position + 1})", prior, unit_id) for s in split_sentences(unit.text)
        )
    return evidence


async def _local(
    query: str,
    data: IndexData,
    chat: ChatModel | None,
    embedder: Embedder,
    settings: Settings,
    emit: Emit | None,
    *,
    community_level: int | None,
    context_tokens: int | None,
    history: Sequence[Message] | None,
) -> QueryResult:
    with query_run("local", chat) as run:
        context = await build_local_context(
            query, data, embedder, settings, context_tokens, community_level, history
        )
        return await answer_from_local_context(query, context, data, chat, embedder, settings, emit, run)


async def answer_from_local_context(
    query: str,
    context: LocalContext,
    data: IndexData,
    chat: ChatModel | None,
    embedder: Embedder,
    settings: Settings,
    emit: Emit | None,
    run: QueryRun,
) -> QueryResult:
    """Answer with the model, or extractively from the context's sources when there is none."""
    extra = {
        "matched_entities": [{"id": m.entity_id, "how": m.how} for m in context.entities],
        "context_tokens": context.tokens,
        "section_tokens": context.section_tokens,
    }
    if chat is None:
        picked = await rank_evidence(
            query, source_evidence(context.records.text_units, data), embedder, top_n=EXTRACTIVE_SENTENCES
        )
        answer = format_extractive(picked)
        emit_whole(emit, answer)
    else:
        answer = await write_answer(chat, local_messages(query, context, settings), emit)
    return finish(
        run,
        data,
        answer,
        records=context.records,
        ids=context.ids,
        extractive=chat is None,
        context_text=context.text,
        extra=extra,
    )


async def local_search(
    query: str,
    data: IndexData,
    chat: ChatModel | None,
    embedder: Embedder,
    settings: Settings,
    *,
    community_level: int | None = None,
    context_tokens: int | None = None,
    history: Sequence[Message] | None = None,
) -> QueryResult:
    """Answer ``query`` from the entities it names or resembles and everything around them."""
    return await _local(
        query,
        data,
        chat,
        embedder,
        settings,
        None,
        community_level=community_level,
        context_tokens=context_tokens,
        history=history,
    )


def local_search_stream(
    query: str,
    data: IndexData,
    chat: ChatModel | None,
    embedder: Embedder,
    settings: Settings,
    *,
    community_level: int | None = None,
    context_tokens: int | None = None,
    history: Sequence[Message] | None = None,
) -> AnswerStream:
    """Like :func:`local_search`, streamed: iterate for text deltas, then read ``.result``."""
    return AnswerStream(
        lambda emit: _local(
            query,
            data,
            chat,
            embedder,
            settings,
            emit,
            community_level=community_level,
            context_tokens=context_tokens,
            history=history,
        )
    )
