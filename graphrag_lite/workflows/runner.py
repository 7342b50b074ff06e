"""Run a workflow step by step, skipping steps whose inputs and settings did not change.

Each step function declares, with :func:`step`, the settings and prompts its results depend on; the step key
hashes their values, so the list lives next to the code that reads them and cannot drift from it. State lives
in ``output/stats.json``: per step its key (hash of input tables, declared settings and prompts), row
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
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from graphrag_lite.config.prompts import prompt_path
from graphrag_lite.config.settings import Settings
from graphrag_lite.errors import CapReached, EndpointDownError, GraphRAGError, WorkflowError
from graphrag_lite.models.base import ChatModel, Embedder, UsageMeter, usage_scope
from graphrag_lite.models.budget import SpendingCap, capped
from graphrag_lite.models.memory import peak_rss_mb, release_memory, reset_peak
from graphrag_lite.store.atomic import atomic_write_json, read_json
from graphrag_lite.store.layout import STATS_FILE, IndexLayout, split_table
from graphrag_lite.store.memo import ItemMemo
from graphrag_lite.store.tables import read_arrow, read_records, table_exists, write_table
from graphrag_lite.workflows.progress import LoggingProgress, ProgressCallback, ProgressSink
from graphrag_lite.workflows.spec import INPUT, VECTORS, StepSpec, WorkflowSpec


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
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = self.embedder_factory()
        return self._embedder

    def read(self, table: str) -> list[Any]:
        return read_records(*split_table(self.settings.output_path, table))

    def read_table(self, table: str) -> pa.Table:
        """A table as Arrow, for steps that must not make a record per row (millions of edges)."""
        return read_arrow(*split_table(self.settings.output_path, table))

    def read_if_exists(self, table: str) -> list[Any]:
        """The records of a table the previous run wrote, or [] (an update compares against them)."""
        where = split_table(self.settings.output_path, table)
        return read_records(*where) if table_exists(*where) else []

    def on_progress(self) -> ProgressCallback:
        return self.progress.callback(self.step.name)

    def fail(self, item: str, reason: str) -> None:
        """Record an item that failed after retries (a chunk, a report...)."""
        self.failures.append({"item": item, "reason": reason})


StepFunction = Callable[[StepContext], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Step:
    """A step function and what its results depend on besides its input tables.

    ``settings`` are dotted names of :class:`Settings`: a field (``chunks.encoding``), a whole section
    (``communities``) or a property (``resolved_method``, ``llm.configured``). ``prompts`` are prompt names.
    """

    run: StepFunction
    settings: tuple[str, ...] = ()
    prompts: tuple[str, ...] = ()


def step(*settings: str, prompts: tuple[str, ...] = ()) -> Callable[[StepFunction], Step]:
    """Declare the settings and prompts a step function reads: a change to any of them re-runs the step."""

    def declare(run: StepFunction) -> Step:
        return Step(run, settings, prompts)

    return declare


def setting_value(settings: Settings, dotted: str) -> Any:
    """The JSON-able value of a dotted settings name (``query.global`` reads the ``global_`` field)."""
    node: Any = settings
    for part in dotted.split("."):
        node = getattr(node, "global_" if part == "global" else part)
    return node.model_dump(mode="json") if hasattr(node, "model_dump") else node


@dataclass
class StepReport:
    name: str
    skipped: bool
    duration_s: float
    rows: dict[str, int]
    usage: dict[str, int]
    failures: list[dict[str, str]]
    stats: dict[str, Any]
    cost: float | None = None  # money for the step's LLM tokens, with llm.price


@dataclass
class RunReport:
    workflow: str
    steps: list[StepReport]
    duration_s: float
    stats_path: Path
    estimate: dict[str, Any] | None = None  # the forecast made before the run (workflows/estimate.py)

    def usage(self) -> dict[str, int]:
        return _sum(step.usage for step in self.steps if not step.skipped)

    @property
    def cost(self) -> float | None:
        costs = [s.cost for s in self.steps if not s.skipped and s.cost is not None]
        return sum(costs) if costs else None


USAGE_KEYS = (
    "llm_calls",
    "prompt_tokens",
    "cached_prompt_tokens",
    "completion_tokens",
    "cache_hits",
    "retries",
)


def _sum(usages: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Per usage key, the total over ``usages`` (step reports or stats.json entries)."""
    rows = list(usages)
    return {key: sum(int(row.get(key, 0)) for row in rows) for key in USAGE_KEYS}


class WorkflowRunner:
    """Executes a :class:`WorkflowSpec` with a registry of step functions."""

    def __init__(
        self,
        settings: Settings,
        spec: WorkflowSpec,
        steps: Mapping[str, Step],
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

    def _table_file(self, table: str) -> Path:
        """The file of a table; for the vectors, the marker LanceDB gets once all its tables are written."""
        if table == VECTORS:
            return IndexLayout(self.settings.output_path).vectors_complete
        return IndexLayout(self.settings.output_path).table(table)

    def _table_hash(self, table: str) -> str:
        if table == INPUT:
            return self._input_hash()
        path = self._table_file(table)
        if not path.is_file():
            return "missing"
        return path.read_text() if table == VECTORS else _sha(path.read_bytes())

    def config_key(self, spec: StepSpec) -> str:
        """Hash of the step's declared settings and prompts: what its results depend on besides its inputs."""
        declared = self.steps[spec.name]
        settings = {name: setting_value(self.settings, name) for name in declared.settings}
        root = self.settings.root
        prompts = {name: _sha(prompt_path(name, root).read_bytes()) for name in declared.prompts}
        blob = json.dumps(
            {"step": spec.name, "settings": settings, "prompts": prompts}, sort_keys=True, default=str
        )
        return _sha(blob.encode())

    def _step_key(self, step: StepSpec, config_key: str) -> tuple[str, dict[str, str]]:
        inputs = {table: self._table_hash(table) for table in step.reads}
        blob = json.dumps({"config": config_key, "inputs": inputs}, sort_keys=True)
        return _sha(blob.encode()), inputs

    def _memo_path(self, step: StepSpec) -> Path:
        return IndexLayout(self.settings.output_path).memo(step.name)

    def _outputs_present(self, step: StepSpec) -> bool:
        return all(self._table_file(table).is_file() for table in step.writes)

    # -- running ---------------------------------------------------------------------------------------
    async def run(
        self, *, force: bool = False, mode: str = "index", estimate: dict[str, Any] | None = None
    ) -> RunReport:
        """Run every step whose key changed. ``force`` re-runs all steps without reusing per-item results;
        ``estimate`` (the run's cost forecast) is kept in stats.json next to what the run spent. The run's
        LLM calls stay within llm.max_cost / llm.max_prompt_tokens (models/budget.py)."""
        cap = SpendingCap.for_run(self.settings.llm)
        with capped(cap):
            return await self._run(force, mode, estimate, cap)

    async def _run(
        self, force: bool, mode: str, estimate: dict[str, Any] | None, cap: SpendingCap | None
    ) -> RunReport:
        output = self.settings.output_path
        output.mkdir(parents=True, exist_ok=True)
        stats_path = output / STATS_FILE
        state: dict[str, Any] = read_json(stats_path, {})
        if state.get("workflow") != self.spec.name:
            state = {"workflow": self.spec.name, "steps": {}}
        state.setdefault("steps", {})
        if estimate is not None:
            state["estimate"] = estimate
        reports: list[StepReport] = []
        started = time.perf_counter()
        count = len(self.spec.steps)
        try:
            for index, step in enumerate(self.spec.steps, start=1):
                config_key = self.config_key(step)
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
                memo.checkpoint_to(self._memo_path(step), config_key)
                try:
                    report = await self._run_step(step, index, count, memo, mode, config_key)
                except GraphRAGError as exc:  # e.g. "0 entities": every request was refused
                    _stop_at_cap(cap, step.name, -1, [s.name for s in self.spec.steps[index:]], exc)
                    raise
                state["steps"][step.name] = {
                    "key": key,
                    "inputs": inputs,
                    "rows": report.rows,
                    "duration_s": round(report.duration_s, 3),
                    **report.usage,
                    **({"cost": round(report.cost, 6)} if report.cost is not None else {}),
                    "failures": report.failures,
                    "stats": report.stats,
                    "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                }
                # Steps after a re-run step must re-check their keys; later entries stay until replaced.
                state["last_run"] = {"duration_s": round(time.perf_counter() - started, 3)}
                atomic_write_json(stats_path, state)
                reports.append(report)
                _stop_at_cap(cap, step.name, len(report.failures), [s.name for s in self.spec.steps[index:]])
        finally:
            self.progress.close()
        state["totals"] = _sum(state["steps"].values())
        state["last_run"] = {"duration_s": round(time.perf_counter() - started, 3)}
        atomic_write_json(stats_path, state)
        return RunReport(self.spec.name, reports, time.perf_counter() - started, stats_path, estimate)

    def _stop_if_down(self, memo: ItemMemo) -> None:
        """When the LLM's circuit breaker opened during the step, keep what the step finished (its memo) and
        stop the run with the diagnosis, rather than writing a step's tables made of failures."""
        down = getattr(self.chat, "down", None)
        if isinstance(down, EndpointDownError):
            memo.checkpoint(now=True)
            raise down

    async def _run_step(
        self, step: StepSpec, index: int, count: int, memo: ItemMemo, mode: str, config_key: str
    ) -> StepReport:
        ctx = StepContext(
            self.settings, self.chat, self.meter, self.embedder_factory, self.progress, step, memo, mode
        )
        self.progress.step_started(step.name, index, count)
        release_memory()  # the last step's leftovers must not count against this one
        measured = reset_peak()
        before = self.meter.get(step.name)
        started = time.perf_counter()
        with usage_scope(step.name):
            try:
                outputs = await self.steps[step.name].run(ctx)
            except GraphRAGError:
                self._stop_if_down(memo)  # the real cause, not the step's "0 entities"
                raise
        self._stop_if_down(memo)
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
            write_table(*split_table(self.settings.output_path, table), outputs[table])
            rows[table] = len(outputs[table])
        duration = time.perf_counter() - started
        peak = peak_rss_mb() if measured else None
        if peak is not None:
            ctx.stats["peak_rss_mb"] = peak
        spent = self.meter.get(step.name)
        spent.add(before, sign=-1)
        usage = {key: getattr(spent, key) for key in USAGE_KEYS}
        summary = ", ".join(f"{t} {n}" for t, n in rows.items())
        if usage["llm_calls"] or usage["cache_hits"]:
            summary += f" | llm {usage['llm_calls']} calls ({usage['cache_hits']} cached)"
        if ctx.failures:
            summary += f" | {len(ctx.failures)} failed"
        self.progress.step_finished(step.name, summary)
        price = self.settings.llm.price
        cost = None
        if price.is_set and (usage["llm_calls"] or usage["cache_hits"]):
            cost = price.cost(
                usage["prompt_tokens"], usage["completion_tokens"], usage["cached_prompt_tokens"]
            )
        return StepReport(step.name, False, duration, rows, usage, ctx.failures, ctx.stats, cost)


def _stop_at_cap(
    cap: SpendingCap | None, step: str, failed: int, not_run: list[str], cause: BaseException | None = None
) -> None:
    """After a step whose requests the spending cap refused: stop the run (its tables and stats are
    written, its refused items recorded as failed, so the next run sends exactly those; ``failed``
    -1: the step itself could not finish)."""
    if cap is None or not cap.reached:
        return
    unsent = f"{failed} item(s) of {step} are unfinished" if failed >= 0 else f"{step} could not finish"
    raise CapReached(
        f"The run stopped at its spending cap during step {step}: {cap.describe()}. {unsent}; steps "
        f"not run: {', '.join(not_run) or 'none'}. Everything finished is "
        "kept (tables, LLM cache, item memos): run the same command again with a higher llm.max_cost or "
        "llm.max_prompt_tokens (or none) to go on; finished requests are not sent again."
    ) from cause
