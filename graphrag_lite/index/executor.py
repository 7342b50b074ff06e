"""Where the per-item work of a step runs: in this process (``local``, the default) or as tasks on a Ray
cluster (``ray``: ``graphrag-lite index --executor ray [--ray-address ADDR]``, ``pip install
"graphrag-lite[ray]"``).

An executor maps a *pure* function over batches of items and hands back each batch's results as it
finishes, so the step puts them in its memo at once. The Ray executor keeps at most ``max_in_flight``
batches submitted (back-pressure: a big corpus never queues everything at once) and lets Ray re-run a batch
whose worker died (``max_retries``); batches that had finished are never run again.

Today the offline NLP extraction (spaCy) runs through the executor; merging, aliases, edges, Leiden and
the rest stay on the driver. docs/scale-out.md says what is distributed and what is not yet.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

from graphrag_lite.config.settings import ExecutorSettings
from graphrag_lite.errors import ConfigError, WorkflowError

log = logging.getLogger(__name__)

A = TypeVar("A")
B = TypeVar("B")
RETRIES = 3  # re-runs of a batch whose worker died (a crash of the code itself is not retried)


class Executor(Protocol):
    name: str

    def map(
        self, fn: Callable[[list[A]], list[B]], batches: Sequence[list[A]]
    ) -> Iterator[tuple[int, list[B]]]:
        """``fn`` over every batch; yields (batch index, results) as batches finish, in any order."""
        ...


class LocalExecutor:
    """In this process, one batch after the other."""

    name = "local"

    def map(
        self, fn: Callable[[list[A]], list[B]], batches: Sequence[list[A]]
    ) -> Iterator[tuple[int, list[B]]]:
        for index, batch in enumerate(batches):
            yield index, fn(batch)


class RayExecutor:
    """Batches as Ray tasks, at most ``max_in_flight`` submitted at a time. Joins the cluster at
    ``address`` (or ``RAY_ADDRESS``), else starts a local Ray on this machine."""

    name = "ray"

    def __init__(self, address: str | None = None, max_in_flight: int = 8) -> None:
        self.address = address
        self.max_in_flight = max(1, max_in_flight)

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
        task = ray.remote(max_retries=RETRIES, retry_exceptions=False)(fn)
        pending: dict[Any, int] = {}
        following = iter(enumerate(batches))
        while True:
            while len(pending) < self.max_in_flight and (item := next(following, None)) is not None:
                index, batch = item
                pending[task.remote(batch)] = index
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


def executor_for(settings: ExecutorSettings) -> Executor:
    if settings.kind == "ray":
        return RayExecutor(settings.ray_address, settings.max_in_flight)
    return LocalExecutor()
