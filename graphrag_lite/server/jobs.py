"""Index jobs the server runs in the background: one at a time, each with its own progress record.

A job indexes (no index yet) or updates the project in a worker thread with its own ``GraphRAG``, so the
event loop keeps answering queries meanwhile. Queries answer from the index loaded before the job
started; when the job ends the server forgets it and the next query reads the new tables.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from graphrag_lite.api.facade import GraphRAG
from graphrag_lite.errors import GraphRAGError
from graphrag_lite.store.reader import IndexReader
from graphrag_lite.workflows.progress import ProgressCallback

log = logging.getLogger(__name__)
JobStatus = Literal["running", "done", "failed"]


@dataclass
class Job:
    """What ``GET /jobs/{id}`` shows."""

    id: str
    kind: Literal["index", "update"]
    files: list[str]
    status: JobStatus = "running"
    step: str | None = None
    step_index: int = 0
    steps: int = 0
    counting: str | None = None  # what ``done`` / ``total`` count in the current step
    done: int = 0
    total: int = 0
    started: float = field(default_factory=time.time)
    finished: float | None = None
    error: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class JobProgress:
    """A :class:`~graphrag_lite.workflows.progress.ProgressSink` that writes into a :class:`Job`."""

    def __init__(self, job: Job) -> None:
        self.job = job

    def step_started(self, name: str, index: int, count: int) -> None:
        self.job.step, self.job.step_index, self.job.steps = name, index, count
        self.job.done = self.job.total = 0

    def callback(self, label: str) -> ProgressCallback:
        self.job.counting = label

        def report(done: int, total: int) -> None:
            self.job.done, self.job.total = done, total

        return report

    def step_finished(self, name: str, summary: str) -> None:
        self.job.summary[name] = summary

    def close(self) -> None:
        return None


class JobBusyError(GraphRAGError):
    """An index job is already running."""


class Jobs:
    """The server's index jobs, by id; at most one runs at a time."""

    def __init__(self, rag: GraphRAG, root: Path) -> None:
        self.rag = rag
        self.root = root
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> Job | None:
        return next((j for j in self.jobs.values() if j.status == "running"), None)

    def reserve(self) -> None:
        """Raise JobBusyError while a job runs (checked before an upload writes anything)."""
        busy = self.running
        if busy is not None:
            raise JobBusyError(
                f"Index job {busy.id} is still running; try again when GET /jobs/{busy.id} says done."
            )

    async def start(self, files: list[str]) -> Job:
        """Start indexing (or updating) the project in the background; the job to poll."""
        with self._lock:
            self.reserve()
            has_index = IndexReader(self.rag.settings.index_location, self.root).has("entities")
            job = Job(uuid.uuid4().hex[:12], "update" if has_index else "index", files)
            self.jobs[job.id] = job
        if has_index:
            await self.rag.aindex_data()  # queries keep answering from this until the job ends
        task = asyncio.create_task(self._run(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def _run(self, job: Job) -> None:
        try:
            await asyncio.to_thread(self._work, job)
            job.status = "done"
        except GraphRAGError as exc:
            job.status, job.error = "failed", str(exc)
        except Exception as exc:  # a job must end with a status, whatever went wrong
            log.exception("index job %s failed", job.id)
            job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            job.finished = time.time()
            self.rag.refresh()

    def _work(self, job: Job) -> None:
        progress = JobProgress(job)
        with GraphRAG(self.root) as worker:
            if job.kind == "update":
                report = worker.update(progress=progress)
                job.summary["documents"] = {k: len(v) for k, v in report.documents.items()}
            else:
                worker.index(progress=progress)

    async def wait(self) -> None:
        """Let a running job finish (server shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
