"""Where a query's time goes: wall time per phase (load, embed, LLM, ...), for ``--verbose`` and the JSON.

A phase's time is the wall time during which at least one piece of work of that phase was running, so
eight LLM calls in flight at once count once, not eight times. Phases are collected per query through a
context variable: tasks started inside the query add to it, and code outside any query pays nothing.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from graphrag_lite.models.base import Embedder

_CURRENT: contextvars.ContextVar[Timings | None] = contextvars.ContextVar(
    "graphrag_lite_timings", default=None
)


@dataclass
class Timings:
    """Seconds per phase, overlapping work within a phase counted once."""

    seconds: dict[str, float] = field(default_factory=dict)
    _active: dict[str, int] = field(default_factory=dict)
    _since: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start(self, phase: str) -> None:
        with self._lock:
            if self._active.get(phase, 0) == 0:
                self._since[phase] = time.perf_counter()
            self._active[phase] = self._active.get(phase, 0) + 1

    def stop(self, phase: str) -> None:
        with self._lock:
            self._active[phase] -= 1
            if self._active[phase] == 0:
                elapsed = time.perf_counter() - self._since.pop(phase)
                self.seconds[phase] = self.seconds.get(phase, 0.0) + elapsed

    def rounded(self) -> dict[str, float]:
        return {phase: round(value, 4) for phase, value in self.seconds.items()}


@contextlib.contextmanager
def collecting() -> Iterator[Timings]:
    """Collect the phases of the work done inside (one query)."""
    timings = Timings()
    token = _CURRENT.set(timings)
    try:
        yield timings
    finally:
        _CURRENT.reset(token)


@contextlib.contextmanager
def timed(phase: str) -> Iterator[None]:
    """Count the time inside as ``phase`` of the query being collected, if any."""
    timings = _CURRENT.get()
    if timings is None:
        yield
        return
    timings.start(phase)
    try:
        yield
    finally:
        timings.stop(phase)


class TimedEmbedder:
    """An embedder whose calls count as the ``embed`` phase (the first one includes loading the model)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.model = inner.model

    @property
    def dim(self) -> int:
        return self.inner.dim

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        with timed("embed"):
            return await self.inner.embed(texts)
