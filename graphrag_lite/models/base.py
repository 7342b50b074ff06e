"""Protocols for the pluggable model parts and the usage meter every call reports to.

Callers tag work with :func:`usage_scope` ("extract_graph", "query:local", ...); the meter aggregates calls
and tokens per scope. The scope travels in a context variable, so concurrent tasks keep their own tags.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Protocol, runtime_checkable

import numpy as np

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": "..."}

_SCOPE: contextvars.ContextVar[str] = contextvars.ContextVar("graphrag_lite_usage_scope", default="default")


@dataclass
class Usage:
    """Calls and tokens. ``llm_calls`` counts requests that reached the server (cache hits do not);
    ``cached_prompt_tokens``: the part of ``prompt_tokens`` the server served from its prompt cache."""

    llm_calls: int = 0
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_hits: int = 0
    retries: int = 0
    failures: int = 0

    def add(self, other: Usage, sign: int = 1) -> None:
        """Add ``other`` (``sign=-1``: subtract it, to get what was spent since a snapshot)."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + sign * getattr(other, f.name))


@dataclass
class UsageMeter:
    """Thread- and task-safe totals per scope."""

    by_scope: dict[str, Usage] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # the last failure's message per scope
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def note_error(self, message: str, scope: str | None = None) -> None:
        """Remember why a call failed (a query that failed entirely reports the cause)."""
        with self._lock:
            self.errors[scope or _SCOPE.get()] = message

    def last_error(self, scope: str) -> str | None:
        with self._lock:
            return self.errors.get(scope)

    def record(self, usage: Usage, scope: str | None = None) -> None:
        key = scope or _SCOPE.get()
        with self._lock:
            self.by_scope.setdefault(key, Usage()).add(usage)

    def get(self, scope: str) -> Usage:
        """A copy of the usage of ``scope`` so far."""
        with self._lock:
            return replace(self.by_scope.get(scope, Usage()))

    def fold(self, scope: str, into: str) -> Usage:
        """Move the usage of ``scope`` into ``into`` and return it (see :func:`item_usage`)."""
        with self._lock:
            usage = self.by_scope.pop(scope, Usage())
            self.by_scope.setdefault(into, Usage()).add(usage)
            return usage

    def total(self) -> Usage:
        with self._lock:
            total = Usage()
            for usage in self.by_scope.values():
                total.add(usage)
            return total


@contextlib.contextmanager
def usage_scope(name: str) -> Iterator[None]:
    """Attribute every model call made inside (including in tasks started inside) to ``name``."""
    token = _SCOPE.set(name)
    try:
        yield
    finally:
        _SCOPE.reset(token)


@contextlib.contextmanager
def item_usage(meter: UsageMeter, item: str) -> Iterator[Usage]:
    """Measure what one item of work (a text unit, a report) costs; the yielded :class:`Usage` is filled
    on exit, and the calls still count for the enclosing scope."""
    parent = _SCOPE.get()
    name = f"{parent}/{item}"
    spent = Usage()
    try:
        with usage_scope(name):
            yield spent
    finally:
        spent.add(meter.fold(name, parent))


@dataclass
class ChatResponse:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False


# The settings a chat reply depends on besides its messages (and json_mode, which each call chooses): the
# model and the request parameters OpenAIChat sends. Every workflow step that asks the LLM declares them.
CHAT_SETTINGS = ("llm.model", "llm.temperature", "llm.max_tokens")


@runtime_checkable
class ChatModel(Protocol):
    """A chat model. ``json_mode`` asks for a JSON object reply."""

    model: str
    meter: UsageMeter

    async def chat(
        self,
        messages: Sequence[Message],
        *,
        json_mode: bool = False,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> ChatResponse: ...

    def stream(
        self,
        messages: Sequence[Message],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncIterator[str]: ...


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors of a fixed dimension."""

    model: str

    @property
    def dim(self) -> int:
        """Vector length (read-only, so lazily loaded models can answer it from a property)."""
        ...

    async def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def expect_bulk(model: object, texts: int) -> None:
    """Tell an embedder that about ``texts`` texts follow (an index's embed step), where it can use that
    (the local MiniLM then runs them all on torch and never loads ONNX Runtime beside it)."""
    expect = getattr(model, "expect_bulk", None)
    if expect is not None:
        expect(texts)


async def close_model(model: object) -> None:
    """Close a model's HTTP connections for the running loop and its cache file, where it has them.

    Models are protocols: a local embedder has nothing to close, an HTTP one has ``aclose``.
    """
    aclose = getattr(model, "aclose", None)
    if aclose is not None:
        await aclose()
    cache = getattr(model, "cache", None)
    close = getattr(cache, "close", None)
    if close is not None:
        close()


async def forget_replies(
    chat: ChatModel, requests: Sequence[Sequence[Message]], *, json_mode: bool = False
) -> None:
    """Drop the cached replies to ``requests`` where the model has a cache (``OpenAIChat.forget``).

    Called when an item fails on replies that were well formed but unusable: its next retry asks anew.
    """
    forget = getattr(chat, "forget", None)
    if forget is not None:
        for messages in requests:
            await forget(messages, json_mode=json_mode)
