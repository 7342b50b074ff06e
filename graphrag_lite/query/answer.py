"""What every query method shares: writing the answer (whole or streamed), counting the model calls it
took, and turning the cited ids into a :class:`QueryResult`.

Streaming: every engine is one coroutine ``run(emit)`` that calls ``emit(delta)`` as text is written and
returns the final result. :class:`AnswerStream` runs it in its own task and yields the deltas, so the
usage scope of the query never leaks into the caller's code between deltas.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from graphrag_lite.errors import LLMError
from graphrag_lite.models.base import ChatModel, Message, Usage, usage_scope
from graphrag_lite.query.citations import number_citations, parse_cited_ids, resolve_citations
from graphrag_lite.query.index_data import IndexData
from graphrag_lite.query.result import Citation, ContextRecords, QueryResult
from graphrag_lite.query.sections import ContextIds

Emit = Callable[[str], None]
EngineRun = Callable[[Emit | None], Coroutine[Any, Any, QueryResult]]

_query_numbers = itertools.count(1)


@dataclass
class QueryRun:
    """Bookkeeping of one query: its private usage scope and its start time."""

    method: str
    chat: ChatModel | None
    scope: str = ""
    started: float = field(default_factory=time.perf_counter)

    def usage(self) -> Usage:
        return self.chat.meter.get(self.scope) if self.chat else Usage()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


@contextmanager
def query_run(method: str, chat: ChatModel | None) -> Iterator[QueryRun]:
    """Tag every model call inside with a scope of its own (``query:local#12``), so concurrent queries are
    counted apart; the scope name still starts with ``query:<method>`` for per-method totals."""
    run = QueryRun(method, chat, scope=f"query:{method}#{next(_query_numbers)}")
    with usage_scope(run.scope):
        yield run


async def write_answer(
    chat: ChatModel,
    messages: Sequence[Message],
    emit: Emit | None,
    *,
    max_tokens: int | None = None,
) -> str:
    """The model's answer: one call, or streamed through ``emit`` piece by piece."""
    if emit is None:
        response = await chat.chat(messages, max_tokens=max_tokens)
        return response.text
    parts: list[str] = []
    async for piece in chat.stream(messages, max_tokens=max_tokens):
        if piece:
            parts.append(piece)
            emit(piece)
    return "".join(parts)


def finish(
    run: QueryRun,
    data: IndexData,
    answer: str,
    *,
    records: ContextRecords,
    ids: ContextIds,
    extractive: bool,
    context_text: str | None = None,
    extra: dict[str, Any] | None = None,
    citations: list[Citation] | None = None,
) -> QueryResult:
    """The result: citations parsed from the answer (unless given), usage of this query's scope."""
    usage = run.usage()
    if usage.failures:
        if usage.failures >= usage.llm_calls and not usage.cache_hits:
            cause = run.chat.meter.last_error(run.scope) if run.chat else None
            raise LLMError(
                f"Every LLM call of this {run.method} search failed ({usage.failures}), so there is no "
                f"answer, only the failures. Last error: {cause or 'unknown'}"
            )
        extra = {**(extra or {}), "failed_llm_calls": usage.failures}
    if citations is None:
        citations = resolve_citations(parse_cited_ids(answer), ids, data, records.text_units)
    numbered, source_numbers = number_citations(answer, ids, data, records.text_units)
    return QueryResult(
        answer=answer,
        method=run.method,
        extractive=extractive,
        citations=citations,
        context=records,
        llm_calls=usage.llm_calls,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        duration_s=run.elapsed(),
        context_text=context_text,
        extra=extra or {},
        numbered_answer=numbered,
        source_numbers=source_numbers,
    )


class AnswerStream:
    """``async for delta in stream`` yields the answer as it is written; ``stream.result`` then holds the
    full :class:`QueryResult`. Answers written without an LLM arrive as a single delta."""

    def __init__(self, run: EngineRun) -> None:
        self._run = run
        self.result: QueryResult | None = None

    def __aiter__(self) -> AsyncIterator[str]:
        return self._deltas()

    async def _deltas(self) -> AsyncIterator[str]:
        queue: asyncio.Queue[str] = asyncio.Queue()
        task = asyncio.create_task(self._run(queue.put_nowait))
        getter: asyncio.Future[str] | None = None
        try:
            while True:
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    yield getter.result()
                    continue
                getter.cancel()
                while not queue.empty():
                    yield queue.get_nowait()
                self.result = task.result()  # raises the engine's error, if any
                return
        finally:
            if getter is not None and not getter.done():
                getter.cancel()
            if not task.done():
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task


async def collect(stream: AnswerStream) -> tuple[str, QueryResult]:
    """Drain a stream: the joined deltas and the result (used by tests and the sync API)."""
    parts = [delta async for delta in stream]
    assert stream.result is not None
    return "".join(parts), stream.result


def emit_whole(emit: Emit | None, text: str) -> None:
    """Send an answer that was not streamed from a model (extractive, or an honest 'not found')."""
    if emit is not None and text:
        emit(text)
