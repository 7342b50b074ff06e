"""Basic search: hybrid (BM25 + vector) retrieval over text units, then an answer from the passages."""

from __future__ import annotations

from functools import partial

from graphrag_lite.config.prompts import fill, load_prompt
from graphrag_lite.config.settings import Settings
from graphrag_lite.models.base import Message
from graphrag_lite.query.answer import Emit, QueryRun, query_run
from graphrag_lite.query.answerer import answer_from_context
from graphrag_lite.query.basic.context import PassageContext, build_basic_context
from graphrag_lite.query.engine import BasicOptions, QueryEnv
from graphrag_lite.query.result import QueryResult


def basic_messages(query: str, context_text: str, settings: Settings) -> list[Message]:
    template = load_prompt("basic_search", settings.root)
    system = fill(template, response_type=settings.query.response_type, context_data=context_text)
    return [{"role": "system", "content": system}, {"role": "user", "content": query}]


async def basic_search(
    query: str, options: BasicOptions, env: QueryEnv, emit: Emit | None = None
) -> QueryResult:
    """Answer ``query`` from the best-matching passages."""
    with query_run("basic", env.chat) as run:
        context = await build_basic_context(
            query, env.data, env.embedder, env.settings, options.context_tokens
        )
        extra = {"bm25_hits": context.bm25_hits, "vector_hits": context.vector_hits}
        return await answer_from_passages(query, context, env, run, emit, extra)


async def answer_from_passages(
    query: str,
    context: PassageContext,
    env: QueryEnv,
    run: QueryRun,
    emit: Emit | None,
    extra: dict[str, int],
) -> QueryResult:
    """The answer of a passages-only context (basic and graph search)."""
    messages = partial(basic_messages, query, context.text, env.settings)
    extra = {"context_tokens": context.tokens, **extra}
    return await answer_from_context(query, messages, context, env, run, emit, extra)
