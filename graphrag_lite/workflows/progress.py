"""Progress reporting for long steps. The CLI shows rich bars; the API stays quiet unless asked."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TextIO

from graphrag_lite.models.base import UsageMeter

ProgressCallback = Callable[[int, int], None]  # (done, total)

if TYPE_CHECKING:
    from rich.progress import ProgressColumn, TaskID

logger = logging.getLogger(__name__)

# A log record flagged with this attribute is repeated in the CLI's end-of-run summary, so the CLI's log
# handler drops it (API users, who have no summary, still get the warning).
SHOWN_IN_SUMMARY = "graphrag_lite_shown_in_summary"


def not_in_summary(record: logging.LogRecord) -> bool:
    """Log filter for the CLI: False for records its summary shows anyway."""
    return not getattr(record, SHOWN_IN_SUMMARY, False)


class ProgressSink(Protocol):
    def step_started(self, name: str, index: int, count: int) -> None: ...

    def callback(self, label: str) -> ProgressCallback: ...

    def step_finished(self, name: str, summary: str) -> None: ...

    def close(self) -> None: ...


class LoggingProgress:
    """Writes step starts and ends to the log; used by the Python API."""

    def step_started(self, name: str, index: int, count: int) -> None:
        logger.info("step %d/%d: %s", index, count, name)

    def callback(self, label: str) -> ProgressCallback:
        def report(done: int, total: int) -> None:
            if total and (done == total or done % max(1, total // 10) == 0):
                logger.debug("%s: %d/%d", label, done, total)

        return report

    def step_finished(self, name: str, summary: str) -> None:
        logger.info("step %s: %s", name, summary)

    def close(self) -> None:
        return None


class LineProgress:
    """Plain lines on stderr for logs, CI and ``nohup``, where a live bar would print nothing until the end:
    each step's start, every 10 % of its items with the elapsed time, and its summary."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self._started = time.perf_counter()

    def _say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def step_started(self, name: str, index: int, count: int) -> None:
        self._started = time.perf_counter()
        self._say(f"step {index}/{count}: {name}")

    def callback(self, label: str) -> ProgressCallback:
        shown = -1

        def report(done: int, total: int) -> None:
            nonlocal shown
            tenth = done * 10 // total if total else 0
            if tenth > shown:
                shown = tenth
                elapsed = time.perf_counter() - self._started
                self._say(f"  {label}: {done}/{total} ({elapsed:.0f} s)")

        return report

    def step_finished(self, name: str, summary: str) -> None:
        self._say(f"  {name}: {summary} ({time.perf_counter() - self._started:.1f} s)")

    def close(self) -> None:
        return None


def cli_progress(meter: UsageMeter) -> ProgressSink:
    """Live bars on a terminal, plain lines otherwise."""
    return RichProgress(meter) if sys.stderr.isatty() else LineProgress()


def _rate_column() -> ProgressColumn:
    """Items per second (text units, texts embedded, reports), once rich has measured a rate."""
    from rich.progress import ProgressColumn, Task
    from rich.text import Text

    class RateColumn(ProgressColumn):  # defined on first use: rich is imported only for live bars
        def render(self, task: Task) -> Text:
            return Text(f"{task.speed:,.1f}/s" if task.speed else "", style="progress.data.speed")

    return RateColumn()


class RichProgress:
    """A rich progress bar per step: done / total, ETA, and LLM calls and tokens spent so far."""

    def __init__(self, meter: UsageMeter) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = Console(stderr=True)
        self.meter = meter
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _rate_column(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[usage]}"),
            console=self.console,
            transient=False,
        )
        self._progress.start()
        self._tasks: dict[str, TaskID] = {}

    def _usage(self) -> str:
        total = self.meter.total()
        if not (total.llm_calls or total.cache_hits):
            return ""
        return (
            f"llm {total.llm_calls} calls, {total.prompt_tokens + total.completion_tokens:,} tok"
            f" ({total.cache_hits} cached)"
        )

    def step_started(self, name: str, index: int, count: int) -> None:
        self._tasks[name] = self._progress.add_task(f"{index}/{count} {name}", total=None, usage="")

    def callback(self, label: str) -> ProgressCallback:
        matches = [tid for name, tid in self._tasks.items() if label.startswith(name)]
        if not matches:
            matches = [self._progress.add_task(label, total=None, usage="")]
            self._tasks[label] = matches[0]
        tid = matches[-1]

        def report(done: int, total: int) -> None:
            self._progress.update(tid, completed=done, total=total, usage=self._usage())

        return report

    def step_finished(self, name: str, summary: str) -> None:
        tid = self._tasks.get(name)
        if tid is not None:
            task = next(t for t in self._progress.tasks if t.id == tid)
            total = task.total if task.total is not None else 1
            self._progress.update(tid, completed=total, total=total, usage=summary)

    def close(self) -> None:
        self._progress.stop()
