"""Run a workflow step by step, skipping steps whose inputs and settings did not change.

State lives in ``output/stats.json``: per step its key (hash of input tables, settings and prompts), row
counts, duration and LLM usage. Tables are written atomically after a step finishes, and stats.json after
every step, so a run killed at any point resumes at the first unfinished step; finished LLM work inside that
step comes back from the LLM cache. A step that recorded failed items (chunks or reports that failed after
retries) is never skipped, so the next run retries exactly those items.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphrag_lite.config.prompts import prompt_path
from graphrag_lite.config.settings import Settings
from graphrag_lite.errors import WorkflowError
from graphrag_lite.models.base import ChatModel, Embedder, UsageMeter, usage_scope
from graphrag_lite.store.atomic import atomic_write_json, read_json
from graphrag_lite.store.memo import ItemMemo
from graphrag_lite.store.tables import read_records, table_exists, table_path, write_table
from graphrag_lite.workflows.progress import LoggingProgress, ProgressCallback, ProgressSink
from graphrag_lite.workflows.spec import INPUT, VECTORS, StepSpec, WorkflowSpec

STATS_FILE = "stats.json"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class StepContext:
    """What a step function gets: settings, models, table access, progress, and a place for its stats."""

    settings: Settings
    chat: ChatModel | None
    meter: UsageMeter
    embedder_factory: Callable[[], Embedder]
    progress: ProgressSink
    step: StepSpec
    memo: ItemMemo = field(default_factory=ItemMemo)
    mode: str = "index"  # "index" or "update" (an update keeps community ids stable, see create_communities)
    stats: dict[str, Any] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)
    _embedder: Embedder | None = None

    @property
    def output_dir(self) -> Path:
        return self.settings.output_path

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = self.embedder_factory()
        return self._embedder

    def read(self, table: str) -> list[Any]:
        directory, name = split_table(self.output_dir, table)
        return read_records(directory, name)

    def read_if_exists(self, table: str) -> list[Any]:
        """The records of a table the previous run wrote, or [] (an update compares against them)."""
        directory, name = split_table(self.output_dir, table)
        return read_records(directory, name) if table_exists(directory, name) else []

    def on_progress(self, label: str | None = None) -> ProgressCallback:
        return self.progress.callback(label or self.step.name)

    def fail(self, item: str, reason: str) -> None:
        """Record an item that failed after retries (a chunk, a report...)."""
        self.failures.append({"item": item, "reason": reason})


StepFunction = Callable[[StepContext], Awaitable[dict[str, Any]]]


def split_table(output_dir: Path, table: str) -> tuple[Path, str]:
    """``work/entities`` -> (output/work, "entities"); ``entities`` -> (output, "entities")."""
    if "/" in table:
        folder, name = table.rsplit("/", 1)
        return output_dir / folder, name
    return output_dir, table


@dataclass
class StepReport:
    name: str
    skipped: bool
    duration_s: float
    rows: dict[str, int]
    usage: dict[str, int]
    failures: list[dict[str, str]]
    stats: dict[str, Any]


@dataclass
class RunReport:
    workflow: str
    steps: list[StepReport]
    duration_s: float
    stats_path: Path

    def usage(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for step in self.steps:
            if not step.skipped:
                for key, value in step.usage.items():
                    total[key] = total.get(key, 0) + value
        return total


class WorkflowRunner:
    """Executes a :class:`WorkflowSpec` with a registry of step functions."""

    def __init__(
        self,
        settings: Settings,
        spec: WorkflowSpec,
        steps: dict[str, StepFunction],
        *,
        chat: ChatModel | None,
        meter: UsageMeter,
        embedder_factory: Callable[[], Embedder],
        progress: ProgressSink | None = None,
    ) -> None:
        missing = [s.name for s in spec.steps if s.name not in steps]
        if missing:
            raise WorkflowError(
                f"Workflow '{spec.name}' names unknown steps: {', '.join(missing)}. Known steps: "
                f"{', '.join(sorted(steps))}."
            )
        self.settings = settings
        self.spec = spec
        self.steps = steps
        self.chat = chat
        self.meter = meter
        self.embedder_factory = embedder_factory
        self.progress = progress or LoggingProgress()

    # -- hashing ---------------------------------------------------------------------------------------
    def _input_hash(self) -> str:
        root = self.settings.input_path
        digest = hashlib.sha256()
        if root.is_dir():
            for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
                digest.update(os.fsencode(path.relative_to(root)))  # names need not be UTF-8
                try:
                    digest.update(_sha(path.read_bytes()).encode())
                except OSError:
                    digest.update(b"unreadable")
        return digest.hexdigest()

    def _table_hash(self, table: str) -> str:
        if table == INPUT:
            return self._input_hash()
        if table == VECTORS:
            marker = self.settings.output_path / "lancedb" / ".complete"
            return marker.read_text() if marker.is_file() else "missing"
        directory, name = split_table(self.settings.output_path, table)
        path = table_path(directory, name)
        return _sha(path.read_bytes()) if path.is_file() else "missing"

    def _setting(self, dotted: str) -> Any:
        node: Any = self.settings
        for part in dotted.split("."):
            node = getattr(node, "global_" if part == "global" else part)
        if hasattr(node, "model_dump"):
            node = node.model_dump(mode="json")
        return node

    def _config_key(self, step: StepSpec) -> str:
        """Hash of the step's settings and prompts: what its per-item results depend on besides the item."""
        settings = {name: self._setting(name) for name in step.settings}
        prompts = {}
        for prompt in step.prompts:
            path = prompt_path(prompt, self.settings.root)
            prompts[prompt] = _sha(path.read_bytes())
        blob = json.dumps(
            {"step": step.name, "settings": settings, "prompts": prompts}, sort_keys=True, default=str
        )
        return _sha(blob.encode())

    def _step_key(self, step: StepSpec, config_key: str) -> tuple[str, dict[str, str]]:
        inputs = {table: self._table_hash(table) for table in step.reads}
        blob = json.dumps({"config": config_key, "inputs": inputs}, sort_keys=True)
        return _sha(blob.encode()), inputs

    def _memo_path(self, step: StepSpec) -> Path:
        return self.settings.output_path / "work" / "memo" / f"{step.name}.parquet"

    def _outputs_present(self, step: StepSpec) -> bool:
        for table in step.writes:
            if table == VECTORS:
                if not (self.settings.output_path / "lancedb" / ".complete").is_file():
                    return False
                continue
            directory, name = split_table(self.settings.output_path, table)
            if not table_exists(directory, name):
                return False
        return True

    # -- running ---------------------------------------------------------------------------------------
    async def run(self, *, force: bool = False, mode: str = "index") -> RunReport:
        """Run every step whose key changed. ``force`` re-runs all steps without reusing per-item results."""
        output = self.settings.output_path
        output.mkdir(parents=True, exist_ok=True)
        stats_path = output / STATS_FILE
        state: dict[str, Any] = read_json(stats_path, {})
        if state.get("workflow") != self.spec.name:
            state = {"workflow": self.spec.name, "steps": {}}
        state.setdefault("steps", {})
        reports: list[StepReport] = []
        started = time.perf_counter()
        count = len(self.spec.steps)
        try:
            for index, step in enumerate(self.spec.steps, start=1):
                config_key = self._config_key(step)
                key, inputs = self._step_key(step, config_key)
                previous = state["steps"].get(step.name, {})
                if (
                    not force
                    and previous.get("key") == key
                    and not previous.get("failures")
                    and self._outputs_present(step)
                ):
                    reports.append(
                        StepReport(
                            step.name, True, 0.0, previous.get("rows", {}), {}, [], previous.get("stats", {})
                        )
                    )
                    self.progress.step_started(step.name, index, count)
                    self.progress.step_finished(step.name, "unchanged, skipped")
                    continue
                memo = ItemMemo() if force else ItemMemo.load(self._memo_path(step), config_key)
                report = await self._run_step(step, index, count, memo, mode, config_key)
                state["steps"][step.name] = {
                    "key": key,
                    "inputs": inputs,
                    "rows": report.rows,
                    "duration_s": round(report.duration_s, 3),
                    **report.usage,
                    "failures": report.failures,
                    "stats": report.stats,
                    "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                }
                # Steps after a re-run step must re-check their keys; later entries stay until replaced.
                state["last_run"] = {"duration_s": round(time.perf_counter() - started, 3)}
                atomic_write_json(stats_path, state)
                reports.append(report)
        finally:
            self.progress.close()
        totals: dict[str, int] = {}
        for entry in state["steps"].values():
            for k in ("llm_calls", "prompt_tokens", "completion_tokens", "cache_hits", "retries"):
                totals[k] = totals.get(k, 0) + int(entry.get(k, 0))
        state["totals"] = totals
        state["last_run"] = {"duration_s": round(time.perf_counter() - started, 3)}
        atomic_write_json(stats_path, state)
        return RunReport(self.spec.name, reports, time.perf_counter() - started, stats_path)

    async def _run_step(
        self, step: StepSpec, index: int, count: int, memo: ItemMemo, mode: str, config_key: str
    ) -> StepReport:
        ctx = StepContext(
            self.settings, self.chat, self.meter, self.embedder_factory, self.progress, step, memo, mode
        )
        self.progress.step_started(step.name, index, count)
        before = self.meter.get(step.name)
        started = time.perf_counter()
        with usage_scope(step.name):
            outputs = await self.steps[step.name](ctx)
        if memo.reused or memo.computed:
            # Saved before the tables: a kill in between leaves results the re-run reuses.
            memo.save(self._memo_path(step), config_key)
            ctx.stats["memo"] = memo.stats()
        rows: dict[str, int] = {}
        for table in step.writes:
            if table == VECTORS:
                rows.update({f"vectors/{k}": int(n) for k, n in outputs.get(VECTORS, {}).items()})
                continue
            if table not in outputs:
                raise WorkflowError(f"Step '{step.name}' did not produce table '{table}'.")
            directory, name = split_table(self.settings.output_path, table)
            write_table(directory, name, outputs[table])
            rows[table] = len(outputs[table])
        duration = time.perf_counter() - started
        after = self.meter.get(step.name)
        usage = {
            "llm_calls": after.llm_calls - before.llm_calls,
            "prompt_tokens": after.prompt_tokens - before.prompt_tokens,
            "completion_tokens": after.completion_tokens - before.completion_tokens,
            "cache_hits": after.cache_hits - before.cache_hits,
            "retries": after.retries - before.retries,
        }
        summary = ", ".join(f"{t} {n}" for t, n in rows.items())
        if usage["llm_calls"] or usage["cache_hits"]:
            summary += f" | llm {usage['llm_calls']} calls ({usage['cache_hits']} cached)"
        if ctx.failures:
            summary += f" | {len(ctx.failures)} failed"
        self.progress.step_finished(step.name, summary)
        return StepReport(step.name, False, duration, rows, usage, ctx.failures, ctx.stats)
