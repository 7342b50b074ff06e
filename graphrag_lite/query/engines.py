"""One entry point for every query method, whole or streamed.

Every engine has the same shape: ``search(query, data, chat, embedder, settings, *, community_level,
context_tokens, history) -> QueryResult`` and ``search_stream(...) -> AnswerStream`` (iterate for text
deltas, then read ``.result``).
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from graphrag_lite.config.settings import Settings
from graphrag_lite.errors import ConfigError
from graphrag_lite.models.base import ChatModel, Embedder, Message
from graphrag_lite.query.answer import AnswerStream
from graphrag_lite.query.result import QueryResult

# method -> (module, whole-answer function, streaming function)
ENGINES: dict[str, tuple[str, str, str]] = {
    "local": ("graphrag_lite.query.local", "local_search", "local_search_stream"),
    "global": ("graphrag_lite.query.global_search", "global_search", "global_search_stream"),
    "basic": ("graphrag_lite.query.basic", "basic_search", "basic_search_stream"),
    "drift": ("graphrag_lite.query.drift", "drift_search", "drift_search_stream"),
}


def _engine(method: str, streaming: bool) -> Callable[..., Any]:
    if method not in ENGINES:
        raise ConfigError(f"Unknown query method '{method}'. Use one of: {', '.join(ENGINES)}.")
    module_name, whole, stream = ENGINES[method]
    module = importlib.import_module(module_name)
    function: Callable[..., Any] = getattr(module, stream if streaming else whole)
    return function


async def run_query(
    method: str,
    query: str,
    data: Any,
    chat: ChatModel | None,
    embedder: Embedder,
    settings: Settings,
    *,
    community_level: int | None = None,
    context_tokens: int | None = None,
    history: Sequence[Message] | None = None,
) -> QueryResult:
    """Answer ``query`` with ``method`` (local, global, drift or basic)."""
    search = _engine(method, streaming=False)
    result: QueryResult = await search(
        query,
        data,
        chat,
        embedder,
        settings,
        community_level=community_level,
        context_tokens=context_tokens,
        history=history,
    )
    return result


def open_stream(
    method: str,
    query: str,
    data: Any,
    chat: ChatModel | None,
    embedder: Embedder,
    settings: Settings,
    *,
    community_level: int | None = None,
    context_tokens: int | None = None,
    history: Sequence[Message] | None = None,
) -> AnswerStream:
    """The streamed answer of ``method``: iterate for deltas, then read ``.result``."""
    search = _engine(method, streaming=True)
    stream: AnswerStream = search(
        query,
        data,
        chat,
        embedder,
        settings,
        community_level=community_level,
        context_tokens=context_tokens,
        history=history,
    )
    return stream


async def stream_query(
    method: str,
    query: str,
    data: Any,
    chat: ChatModel | None,
    embedder: Embedder,
    settings: Settings,
    holder: dict[str, QueryResult],
    *,
    community_level: int | None = None,
    context_tokens: int | None = None,
    history: Sequence[Message] | None = None,
) -> AsyncIterator[str]:
    """Yield the answer's deltas; when the stream ends, ``holder["result"]`` holds the full result."""
    stream = open_stream(
        method,
        query,
        data,
        chat,
        embedder,
        settings,
        community_level=community_level,
        context_tokens=context_tokens,
        history=history,
    )
    async for delta in stream:
        yield delta
    if stream.result is not None:
        holder["result"] = stream.result
