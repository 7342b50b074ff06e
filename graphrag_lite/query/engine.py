"""What every search method shares: its options (one typed object per method), what it runs against
(:class:`QueryEnv`) and the :class:`Engine` shape, plus the registry and the one entry point.

An engine builds its context and answers from it. It takes ``emit``: None for a whole answer, else a
callback that receives the answer as it is written; :class:`AnswerStream` turns that into an async
iterator, so whole and streamed answers run the same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from graphrag_lite.config.settings import Settings
from graphrag_lite.errors import ConfigError
from graphrag_lite.models.base import ChatModel, Embedder, Message
from graphrag_lite.query.answer import AnswerStream, Emit
from graphrag_lite.query.index_data import IndexData
from graphrag_lite.query.result import QueryResult

if TYPE_CHECKING:
    from graphrag_lite.query.answerer import Answerer


MIN_CONTEXT_TOKENS = 100


def check_numbers(options: object) -> None:
    """Clear errors for numbers no search can use (they used to be ignored, or to find nothing)."""
    tokens = getattr(options, "context_tokens", None)
    if tokens is not None and tokens < MIN_CONTEXT_TOKENS:
        raise ConfigError(
            f"The context budget must be at least {MIN_CONTEXT_TOKENS} tokens (got {tokens}): "
            "--context-tokens / context_tokens."
        )
    level = getattr(options, "community_level", None)
    if level is not None and level < 0:
        raise ConfigError(f"The community level must be 0 or more (got {level}): --community-level.")


@dataclass(frozen=True, kw_only=True)
class LocalOptions:
    """``community_level`` picks the reports (default: the deepest); ``context_tokens`` replaces the
    context budget; ``history`` (recent turns) goes into the context."""

    community_level: int | None = None
    context_tokens: int | None = None
    history: Sequence[Message] | None = None

    def __post_init__(self) -> None:
        check_numbers(self)


@dataclass(frozen=True, kw_only=True)
class GlobalOptions:
    """``community_level``: the reports mapped (default 0); ``context_tokens`` caps batch and reduce."""

    community_level: int | None = None
    context_tokens: int | None = None

    def __post_init__(self) -> None:
        check_numbers(self)


@dataclass(frozen=True, kw_only=True)
class DriftOptions:
    """``community_level`` restricts the primer to one level; ``context_tokens`` caps every context;
    ``history`` reaches the final reduce."""

    community_level: int | None = None
    context_tokens: int | None = None
    history: Sequence[Message] | None = None

    def __post_init__(self) -> None:
        check_numbers(self)


@dataclass(frozen=True, kw_only=True)
class BasicOptions:
    """``context_tokens`` replaces the context budget."""

    context_tokens: int | None = None

    def __post_init__(self) -> None:
        check_numbers(self)


@dataclass(frozen=True, kw_only=True)
class GraphOptions:
    """``context_tokens`` replaces the context budget."""

    context_tokens: int | None = None

    def __post_init__(self) -> None:
        check_numbers(self)


@dataclass(frozen=True, kw_only=True)
class LazyOptions:
    """``budget`` replaces ``query.lazy.relevance_budget`` (text units the model may judge);
    ``context_tokens`` caps the claims in the final answer."""

    budget: int | None = None
    context_tokens: int | None = None

    def __post_init__(self) -> None:
        check_numbers(self)
        if self.budget is not None and self.budget < 1:
            raise ConfigError(
                f"The lazy search budget must be at least 1 relevance test (got {self.budget})."
            )


SearchOptions = LocalOptions | GlobalOptions | DriftOptions | BasicOptions | GraphOptions | LazyOptions
METHODS: tuple[str, ...] = ("local", "global", "drift", "basic", "graph", "lazy")


def options_for(
    method: str,
    *,
    community_level: int | None = None,
    context_tokens: int | None = None,
    history: Sequence[Message] | None = None,
    budget: int | None = None,
) -> SearchOptions:
    """The options object of ``method`` from the fields every front end offers (a field the method does
    not use is ignored, as it always was)."""
    if method == "local":
        return LocalOptions(community_level=community_level, context_tokens=context_tokens, history=history)
    if method == "global":
        return GlobalOptions(community_level=community_level, context_tokens=context_tokens)
    if method == "drift":
        return DriftOptions(community_level=community_level, context_tokens=context_tokens, history=history)
    if method == "basic":
        return BasicOptions(context_tokens=context_tokens)
    if method == "graph":
        return GraphOptions(context_tokens=context_tokens)
    if method == "lazy":
        return LazyOptions(budget=budget, context_tokens=context_tokens)
    raise ConfigError(f"Unknown query method '{method}'. Use one of: {', '.join(METHODS)}.")


@dataclass(frozen=True)
class QueryEnv:
    """What a query runs against: the loaded index, the models and the settings."""

    data: IndexData
    chat: ChatModel | None
    embedder: Embedder
    settings: Settings

    @property
    def answerer(self) -> Answerer:
        from graphrag_lite.query.answerer import answerer_for

        return answerer_for(self.chat, self.data, self.embedder)


O_contra = TypeVar("O_contra", contravariant=True)


class Engine(Protocol[O_contra]):
    """A search method: build the context for ``query``, then answer (through ``emit`` when streaming)."""

    async def __call__(
        self, query: str, options: O_contra, env: QueryEnv, emit: Emit | None = None
    ) -> QueryResult: ...


# Options type -> (module, function) of its engine: only the method asked for is imported (start-up time).
_ENGINES: dict[type, tuple[str, str]] = {
    LocalOptions: ("graphrag_lite.query.local.search", "local_search"),
    GlobalOptions: ("graphrag_lite.query.global_.search", "global_search"),
    DriftOptions: ("graphrag_lite.query.drift.search", "drift_search"),
    BasicOptions: ("graphrag_lite.query.basic.search", "basic_search"),
    GraphOptions: ("graphrag_lite.query.graph.search", "graph_search"),
    LazyOptions: ("graphrag_lite.query.lazy.search", "lazy_search"),
}


def _engine(options: SearchOptions) -> Engine[Any]:
    """The engine of these options (each pairs with its own options type, hence Any here)."""
    import importlib

    module, name = _ENGINES[type(options)]
    engine: Engine[Any] = getattr(importlib.import_module(module), name)
    return engine


def check_level(options: SearchOptions, data: IndexData) -> None:
    """A community level the index does not have is an error, not an empty answer."""
    level = getattr(options, "community_level", None)
    if level is not None and level > data.max_level:
        raise ConfigError(
            f"Community level {level} does not exist in this index: its levels are 0 to {data.max_level} "
            "(graphrag-lite stats lists them)."
        )


async def run_query(query: str, options: SearchOptions, env: QueryEnv) -> QueryResult:
    """The whole answer of the method ``options`` belongs to."""
    check_level(options, env.data)
    return await _engine(options)(query, options, env)


def open_stream(query: str, options: SearchOptions, env: QueryEnv) -> AnswerStream:
    """The streamed answer: iterate for text deltas, then read ``.result``."""
    check_level(options, env.data)
    engine = _engine(options)
    return AnswerStream(lambda emit: engine(query, options, env, emit))
