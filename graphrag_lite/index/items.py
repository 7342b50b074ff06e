"""The per-item loop of every LLM step (extraction, summaries, reports): memo, usage, progress, failures.

An item (a text unit, an entity's descriptions, a community) is first looked up in the step's memo by a key
made of its content; only a miss costs model calls, measured per item with ``item_usage`` so the memo can
record what a result cost. Only successes are memoised, so the next run retries exactly the failures.
Progress counts every finished item: reused, made or failed.

:func:`run_items` runs a step's items here (all concurrently, the chat model bounding requests in flight)
or, with a Ray executor, in batches on the cluster: the item's work is then a picklable :class:`ChatWork`
that each worker runs with its own client behind the shared rate limiter, and the driver memoises each batch
as it comes back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from graphrag_lite.models.base import ChatModel, Usage, UsageMeter, item_usage
from graphrag_lite.store.memo import ItemMemo

if TYPE_CHECKING:
    from graphrag_lite.config.settings import LLMSettings, Settings
    from graphrag_lite.index.executor import Executor, Gate

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 - an item
I_in = TypeVar("I_in", contravariant=True)
R = TypeVar("R")
ProgressCallback = Callable[[int, int], None]  # (items done, items in all)


@dataclass
class Outcome(Generic[T]):
    """What one item's work gave; with a ``failure`` reason it is recorded as failed and not memoised."""

    value: T
    failure: str | None = None


class ItemRunner:
    """Runs the items of one step; ``failures`` maps item id -> reason once they are done."""

    def __init__(
        self,
        memo: ItemMemo | None,
        meter: UsageMeter,
        total: int,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.memo = memo if memo is not None else ItemMemo()
        self.meter, self.total, self.on_progress = meter, total, on_progress
        self.done = 0
        self.reused = 0
        self.failures: dict[str, str] = {}

    async def run(
        self,
        item: str,
        key: str,
        compute: Callable[[], Awaitable[Outcome[T]]],
        *,
        encode: Callable[[T], Any],
        decode: Callable[[Any], T],
    ) -> T:
        """The memoised result for ``key``, else ``compute()``'s (memoised when it succeeded)."""
        try:
            previous = self.previous(key)
            if previous is not None:
                return decode(previous)
            with item_usage(self.meter, item) as spent:
                outcome = await compute()
            self.settle(item, key, outcome, spent, encode)
            if outcome.failure is None:
                self.memo.checkpoint()
            return outcome.value
        finally:
            self.tick()

    def previous(self, key: str) -> Any | None:
        """The memoised result for ``key`` (counted as reused), or None."""
        value = self.memo.get(key)
        if value is not None:
            self.reused += 1
        return value

    def settle(
        self, item: str, key: str, outcome: Outcome[T], spent: Usage, encode: Callable[[T], Any]
    ) -> None:
        """Memoise a success with the LLM requests it cost; record a failure (it is retried next run)."""
        if outcome.failure is None:
            self.memo.put(key, encode(outcome.value), calls=spent.llm_calls + spent.cache_hits)
        else:
            self.failures[item] = outcome.failure

    def tick(self) -> None:
        """Count one finished item (``run`` does it; a step calls it for items it handles itself)."""
        self.done += 1
        if self.on_progress is not None:
            self.on_progress(self.done, self.total)

    def failed(self, order: Iterable[str]) -> list[tuple[str, str]]:
        """(item id, reason) of the failed items, in the given order (completion order is not stable)."""
        return [(item, self.failures[item]) for item in order if item in self.failures]


class ChatWork(Protocol[I_in, R]):
    """One item's LLM work, runnable in another process: a picklable object that is given the chat model
    of wherever it runs."""

    async def __call__(self, chat: ChatModel, item: I_in, /) -> Outcome[R]: ...


@dataclass(frozen=True)
class Entry(Generic[I]):
    """An item of a step: its label (for failures), memo key and what the work is given."""

    label: str
    key: str
    item: I


@dataclass(frozen=True)
class ChatBatch(Generic[I, R]):
    """A batch of items as one Ray task: the worker makes its own client (no LLM cache: results go back
    to the driver's memo) and waits on the shared ``gate`` instead of its own rate caps. The API key
    travels with the task's arguments."""

    work: ChatWork[I, R]
    llm: LLMSettings
    gate: Gate | None = None

    def __call__(self, items: list[I]) -> list[tuple[Outcome[R], Usage]]:
        return asyncio.run(self._run(items))

    async def _run(self, items: list[I]) -> list[tuple[Outcome[R], Usage]]:
        from graphrag_lite.models.openai_chat import OpenAIChat

        llm = self.llm
        if self.gate is not None:
            llm = llm.model_copy(update={"requests_per_minute": None, "tokens_per_minute": None})
        meter = UsageMeter()
        chat = OpenAIChat(llm, None, meter)
        chat.gate = self.gate

        async def one(index: int, item: I) -> tuple[Outcome[R], Usage]:
            with item_usage(meter, str(index)) as spent:
                outcome = await self.work(chat, item)
            return outcome, spent

        try:
            return list(await asyncio.gather(*(one(i, item) for i, item in enumerate(items))))
        finally:
            await chat.aclose()


def _run_batches(
    runner: ItemRunner,
    entries: Sequence[Entry[I]],
    job: ChatBatch[I, R],
    executor: Executor,
    batch_size: int,
    encode: Callable[[R], Any],
    decode: Callable[[Entry[I], Any], R],
) -> list[R]:
    """Memo hits at once; the misses in batches on ``executor``, each memoised (and the memo checkpointed)
    as its batch comes back, so a killed run repeats only batches that had not."""
    results: dict[int, R] = {}
    todo: list[int] = []
    for i, entry in enumerate(entries):
        previous = runner.previous(entry.key)
        if previous is None:
            todo.append(i)
            continue
        results[i] = decode(entry, previous)
        runner.tick()
    batches = [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]
    for index, outcomes in executor.map(job, [[entries[i].item for i in batch] for batch in batches]):
        for i, (outcome, spent) in zip(batches[index], outcomes, strict=True):
            runner.meter.record(spent)
            runner.settle(entries[i].label, entries[i].key, outcome, spent, encode)
            results[i] = outcome.value
            runner.tick()
        runner.memo.checkpoint()
    return [results[i] for i in range(len(entries))]


async def run_items(
    runner: ItemRunner,
    entries: Sequence[Entry[I]],
    work: ChatWork[I, R],
    chat: ChatModel,
    settings: Settings,
    executor: Executor | None,
    *,
    encode: Callable[[R], Any],
    decode: Callable[[Entry[I], Any], R],
) -> list[R]:
    """Every entry's result, in entry order: from the memo, or from ``work`` here (concurrently) or on
    the Ray ``executor`` (in batches of ``executor.batch_size``)."""
    if executor is not None and executor.name != "local":
        llm = settings.llm
        job = ChatBatch(work, llm, executor.gate(llm.requests_per_minute, llm.tokens_per_minute))
        size = settings.executor.batch_size
        return await asyncio.to_thread(_run_batches, runner, entries, job, executor, size, encode, decode)

    async def one(entry: Entry[I]) -> R:
        async def compute() -> Outcome[R]:
            return await work(chat, entry.item)

        return await runner.run(
            entry.label, entry.key, compute, encode=encode, decode=lambda value: decode(entry, value)
        )

    return list(await asyncio.gather(*(one(entry) for entry in entries)))
