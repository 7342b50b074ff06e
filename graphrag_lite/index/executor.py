"""Where the per-item work of a step runs: in this process (``local``, the default) or as tasks on a Ray
cluster (``ray``: ``graphrag-lite index --executor ray [--ray-address ADDR]``, ``pip install
"graphrag-lite[ray]"``).

An executor maps a *pure* function over batches of items and hands back each batch's results as it
finishes, so the step puts them in its memo at once. The Ray executor keeps at most ``max_in_flight``
batches submitted (back-pressure: a big corpus never queues everything at once) and lets Ray re-run a batch
whose worker died (``max_retries``); batches that had finished are never run again.

The offline NLP extraction (spaCy), the LLM extraction, description summaries, community reports and
the embeddings run through the executor; merging, aliases, edges, Leiden and the rest stay on the driver.
Ray workers calling the LLM share one :class:`RateLimiter` actor, so the endpoint's rate limit holds for
the whole cluster. docs/scale-out.md says what is distributed and what is not.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

from graphrag_lite.config.settings import ExecutorSettings
from graphrag_lite.errors import ConfigError, WorkflowError

log = logging.getLogger(__name__)

A = TypeVar("A")
B = TypeVar("B")
RETRIES = 3  # re-runs of a batch whose worker died (a crash of the code itself is not retried)


class Gate(Protocol):
    """Awaited before every LLM request with its prompt tokens: waits until the shared limit allows it."""

    async def __call__(self, tokens: int) -> None: ...


class RateLimiter:
    """Requests and prompt tokens per minute for a whole cluster (a Ray actor; plain object locally).

    Each request *reserves* the next free moment of both budgets and is told how long to wait for it:
    requests are spaced evenly (no bursts), so N workers together never pass the endpoint's limit. The
    actor answers at once; the waiting happens in the worker."""

    def __init__(
        self,
        requests_per_minute: int | None,
        tokens_per_minute: int | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rpm, self.tpm, self.clock = requests_per_minute, tokens_per_minute, clock
        self._next_request = self._next_tokens = 0.0
        self.granted = 0

    def reserve(self, tokens: int) -> float:
        """Seconds the caller must wait before sending a request of ``tokens`` prompt tokens."""
        now = self.clock()
        start = now
        if self.rpm:
            start = max(start, self._next_request)
        if self.tpm:
            start = max(start, self._next_tokens)
        if self.rpm:
            self._next_request = start + 60.0 / self.rpm
        if self.tpm:
            self._next_tokens = start + 60.0 * min(max(tokens, 1), self.tpm) / self.tpm
        self.granted += 1
        return start - now

    def count(self) -> int:
        return self.granted


class ActorGate:
    """A :class:`Gate` over a Ray ``RateLimiter`` actor (picklable: it holds only the actor handle)."""

    def __init__(self, actor: Any) -> None:
        self.actor = actor

    async def __call__(self, tokens: int) -> None:
        delay = await self.actor.reserve.remote(tokens)
        if delay > 0:
            await asyncio.sleep(delay)


class Executor(Protocol):
    name: str

    def map(
        self, fn: Callable[[list[A]], list[B]], batches: Sequence[list[A]]
    ) -> Iterator[tuple[int, list[B]]]:
        """``fn`` over every batch; yields (batch index, results) as batches finish, in any order."""
        ...

    def gate(self, requests_per_minute: int | None, tokens_per_minute: int | None) -> Gate | None:
        """The rate limit shared by every worker (None: the chat model's own limits suffice)."""
        ...


class LocalExecutor:
    """In this process, one batch after the other."""

    name = "local"

    def map(
        self, fn: Callable[[list[A]], list[B]], batches: Sequence[list[A]]
    ) -> Iterator[tuple[int, list[B]]]:
        for index, batch in enumerate(batches):
            yield index, fn(batch)

    def gate(self, requests_per_minute: int | None, tokens_per_minute: int | None) -> Gate | None:  # noqa: ARG002
        return None  # one process: the chat model's own limiter holds the rate


class RayExecutor:
    """Batches as Ray tasks, at most ``max_in_flight`` submitted at a time. Joins the cluster at
    ``address`` (or ``RAY_ADDRESS``), else starts a local Ray on this machine."""

    name = "ray"

    def __init__(self, address: str | None = None, max_in_flight: int = 8) -> None:
        self.address = address
        self.max_in_flight = max(1, max_in_flight)

    def gate(self, requests_per_minute: int | None, tokens_per_minute: int | None) -> Gate | None:
        """One rate limiter for every worker of this run (None when the endpoint has no limit set)."""
        if not (requests_per_minute or tokens_per_minute):
            return None
        ray = self._ray()
        actor = ray.remote(num_cpus=0)(RateLimiter).remote(requests_per_minute, tokens_per_minute)
        return ActorGate(actor)

    def _ray(self) -> Any:
        try:
            import ray
        except ImportError as exc:
            raise ConfigError(
                'The ray executor needs Ray: pip install "graphrag-lite[ray]" (or use --executor local).'
            ) from exc
        if not ray.is_initialized():
            ray.init(
                address=self.address,
                include_dashboard=False,
                logging_level=logging.WARNING,
                log_to_driver=False,
                ignore_reinit_error=True,
            )
        return ray

    def map(
        self, fn: Callable[[list[A]], list[B]], batches: Sequence[list[A]]
    ) -> Iterator[tuple[int, list[B]]]:
        if not batches:
            return
        ray = self._ray()
        task = ray.remote(max_retries=RETRIES, retry_exceptions=False)(_apply)
        shared = ray.put(fn)  # sent to the object store once, not with every batch
        pending: dict[Any, int] = {}
        following = iter(enumerate(batches))
        while True:
            while len(pending) < self.max_in_flight and (item := next(following, None)) is not None:
                index, batch = item
                pending[task.remote(shared, batch)] = index
            if not pending:
                return
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                index = pending.pop(ref)
                try:
                    yield index, ray.get(ref)
                except ray.exceptions.RayError as exc:
                    raise WorkflowError(
                        f"Batch {index + 1} of {len(batches)} failed on the Ray cluster: {exc}. Finished "
                        "batches are kept; run the same command again to go on."
                    ) from exc


def _apply(fn: Callable[[list[A]], list[B]], batch: list[A]) -> list[B]:
    """The Ray task: any callable (a function or a job object such as UnitBatchJob) over one batch."""
    return fn(batch)


def executor_for(settings: ExecutorSettings) -> Executor:
    if settings.kind == "ray":
        return RayExecutor(settings.ray_address, settings.max_in_flight)
    return LocalExecutor()
