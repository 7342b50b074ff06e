"""The per-item loop of every LLM step (extraction, summaries, reports): memo, usage, progress, failures.

An item (a text unit, an entity's descriptions, a community) is first looked up in the step's memo by a key
made of its content; only a miss costs model calls, measured per item with ``item_usage`` so the memo can
record what a result cost. Only successes are memoised, so the next run retries exactly the failures.
Progress counts every finished item: reused, made or failed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from graphrag_lite.models.base import UsageMeter, item_usage
from graphrag_lite.store.memo import ItemMemo

T = TypeVar("T")
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
            previous = self.memo.get(key)
            if previous is not None:
                self.reused += 1
                return decode(previous)
            with item_usage(self.meter, item) as spent:
                outcome = await compute()
            if outcome.failure is None:
                self.memo.put(key, encode(outcome.value), calls=spent.llm_calls + spent.cache_hits)
                self.memo.checkpoint()
            else:
                self.failures[item] = outcome.failure
            return outcome.value
        finally:
            self.tick()

    def tick(self) -> None:
        """Count one finished item (``run`` does it; a step calls it for items it handles itself)."""
        self.done += 1
        if self.on_progress is not None:
            self.on_progress(self.done, self.total)

    def failed(self, order: Iterable[str]) -> list[tuple[str, str]]:
        """(item id, reason) of the failed items, in the given order (completion order is not stable)."""
        return [(item, self.failures[item]) for item in order if item in self.failures]
