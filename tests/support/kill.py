"""Kill ``graphrag-lite index`` with SIGKILL at a chosen step, rerun it, and check what the kills left behind.

The harness needs no hook in the engine. It watches two things the engine produces anyway:

* ``output/stats.json``: the runner writes it after every finished step, so "every step before X is listed"
  means X has started (X is the first step the resumed run does not skip);
* the test server's request log: the reply module that answered a request names the step that sent it
  (extraction, description summaries, community reports, embeddings).

A kill aimed at X fires once X has started and, for a step that calls the server, once ``after_requests``
of its requests were answered in this run. Where the kill really landed is read back from stats.json: the
first step it does not list. A fast step (clustering) may end before the kill arrives; the attempt then
reports the later step, and the caller decides what to do.

    harness = KillResumeHarness(root, server)
    attempt = harness.run(KillPoint("extract_graph", after_requests=3))
    assert attempt.landed == "extract_graph"
    final = harness.run()  # to the end
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from graphrag_lite.config.settings import Settings
from graphrag_lite.models.cache import chat_cache_key, embedding_cache_key
from graphrag_lite.models.factory import CHAT_CACHE_FILE, EMBEDDING_CACHE_FILE
from graphrag_lite.store.layout import COMPLETE_MARKER
from graphrag_lite.store.vectors import VectorStore
from graphrag_lite.workflows.runner import STATS_FILE
from graphrag_lite.workflows.spec import load_workflow
from support.replies.extraction import EXTRACT_MARKER, GLEAN_MARKER, SUMMARY_MARKER
from support.replies.reports import REPORT_MARKER
from support.server import EMBEDDINGS_KIND, LogEntry, TestLLMServer

Predicate = Callable[[LogEntry], bool]


def _kind(module: str, marker: str) -> str:
    """The server's log kind for a reply module and marker (``module:marker[:40]``)."""
    return f"{module}:{marker[:40]}"


def _any_step(entry: LogEntry) -> bool:
    return any(sends(entry) for sends in STEP_REQUESTS.values())


# Which server requests each step of the standard workflow sends.
STEP_REQUESTS: dict[str, Predicate] = {
    "extract_graph": lambda e: (
        e.kind in (_kind("extraction", EXTRACT_MARKER), _kind("extraction", GLEAN_MARKER))
    ),
    "summarize_descriptions": lambda e: e.kind == _kind("extraction", SUMMARY_MARKER),
    "community_reports": lambda e: e.kind == _kind("reports", REPORT_MARKER),
    "embed": lambda e: e.kind == EMBEDDINGS_KIND,
}


ANYWHERE = "*"  # a KillPoint step: any step, counting every request the run sends


@dataclass(frozen=True)
class KillPoint:
    """Kill once ``step`` has started and ``after_requests`` of its server requests were answered; with
    step ``ANYWHERE``, once ``after_requests`` requests of any step were (how ``update`` runs are killed:
    their stats.json lists every step from the start)."""

    step: str
    after_requests: int = 0


@dataclass
class Attempt:
    """One run of ``graphrag-lite index``: where it was meant to die, where it did, and what it sent."""

    target: str | None  # the step aimed at; None = run to the end
    landed: str | None  # the step in progress when killed (first step stats.json lacks); None = finished
    returncode: int
    seconds: float
    requests: list[LogEntry]  # server requests of this run, in arrival order
    chat_keys_before: set[str]  # chat cache keys present when the run started
    embedding_keys_before: set[str]
    killed_at: float | None = None
    finished_steps: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)  # Parquet files present after the run
    vectors_complete: bool = False  # LanceDB's completion marker was present after the run
    temp_files: list[str] = field(default_factory=list)  # leftovers of interrupted atomic writes
    stderr_tail: str = ""

    @property
    def killed(self) -> bool:
        return self.killed_at is not None

    def answered(self, step: str) -> int:
        """Requests of ``step`` answered (HTTP 200) in this run."""
        wanted = STEP_REQUESTS.get(step)
        return 0 if wanted is None else sum(1 for e in self.requests if wanted(e) and e.status == 200)


class KillResumeHarness:
    """Runs the CLI on ``root`` against ``server`` in a subprocess, killing it where asked."""

    def __init__(
        self,
        root: Path,
        server: TestLLMServer,
        *,
        method: str = "standard",
        env: dict[str, str] | None = None,
        poll_s: float = 0.002,
    ) -> None:
        self.root = Path(root)
        self.server = server
        self.method = method
        self.env = {**os.environ, **(env or {})}
        self.poll_s = poll_s
        self.steps = [s.name for s in load_workflow(method).steps]
        self.attempts: list[Attempt] = []

    # -- paths and state ---------------------------------------------------------------------------
    @property
    def output(self) -> Path:
        return self.root / "output"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    def command(self, verb: str = "index") -> list[str]:
        """``graphrag-lite index`` (or ``update``) for this project, run with the current interpreter."""
        cli = [sys.executable, "-m", "graphrag_lite.cli.main"]
        if verb == "update":
            return [*cli, "update", "--root", str(self.root)]
        return [*cli, "index", "--root", str(self.root), "--method", self.method]

    @property
    def settings(self) -> Settings:
        """The project's settings, as the CLI loads them (for rebuilding cache keys)."""
        from graphrag_lite.config.loader import load_settings

        return load_settings(self.root)

    def finished_steps(self) -> list[str]:
        """Steps stats.json lists as done, in workflow order."""
        state = read_stats(self.output)
        done = state.get("steps", {}) if isinstance(state, dict) else {}
        return [s for s in self.steps if s in done]

    def current_step(self) -> str | None:
        """The first step stats.json does not list (where a resumed run starts); None when all are done."""
        done = set(self.finished_steps())
        return next((s for s in self.steps if s not in done), None)

    # -- running -----------------------------------------------------------------------------------
    def run(
        self, point: KillPoint | None = None, *, timeout_s: float = 120.0, verb: str = "index"
    ) -> Attempt:
        """Run the CLI once; SIGKILL it at ``point`` (or let it finish when None)."""
        if point is not None and point.step not in (*self.steps, ANYWHERE):
            raise ValueError(f"Unknown step {point.step!r}; the workflow has {self.steps}.")
        chat_before = cache_keys(self.cache / CHAT_CACHE_FILE, "chat")
        embedding_before = cache_keys(self.cache / EMBEDDING_CACHE_FILE, "embeddings")
        log_start = len(self.server.log)
        err_path = self.root / f"stderr-{len(self.attempts) + 1}.txt"
        started = time.monotonic()
        killed_at: float | None = None
        with err_path.open("wb") as err:
            proc = subprocess.Popen(self.command(verb), env=self.env, stdout=subprocess.DEVNULL, stderr=err)
            try:
                if point is not None:
                    killed_at = self._kill_at(proc, point, log_start, started + timeout_s)
                proc.wait(timeout=max(1.0, started + timeout_s - time.monotonic()))
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        seconds = time.monotonic() - started
        requests = self.server.log[log_start:]
        attempt = Attempt(
            target=point.step if point else None,
            landed=self.current_step() if killed_at is not None else None,
            returncode=proc.returncode,
            seconds=seconds,
            requests=requests,
            chat_keys_before=chat_before,
            embedding_keys_before=embedding_before,
            killed_at=killed_at,
            finished_steps=self.finished_steps(),
            tables=sorted(file_digests(self.output)) if self.output.is_dir() else [],
            vectors_complete=(self.output / "lancedb" / COMPLETE_MARKER).is_file(),
            temp_files=[str(p.relative_to(self.output)) for p in temp_files(self.output)],
            stderr_tail=err_path.read_text(errors="replace")[-2000:],
        )
        self.attempts.append(attempt)
        return attempt

    def _kill_at(
        self, proc: subprocess.Popen[bytes], point: KillPoint, log_start: int, deadline: float
    ) -> float | None:
        """Poll until ``point`` is reached, then SIGKILL; the wall-clock time of the kill (None: none)."""
        anywhere = point.step == ANYWHERE
        before = [] if anywhere else self.steps[: self.steps.index(point.step)]
        wanted = _any_step if anywhere else STEP_REQUESTS.get(point.step)
        stats = self.output / STATS_FILE
        seen: tuple[int, int, int] | None = None  # stats.json's inode, mtime and size when last read
        started = False
        while proc.poll() is None and time.monotonic() < deadline:
            if not started:
                try:
                    info = stats.stat()
                    stamp: tuple[int, int, int] | None = (info.st_ino, info.st_mtime_ns, info.st_size)
                except FileNotFoundError:
                    stamp = None
                if stamp != seen or not before:
                    seen = stamp
                    started = set(before) <= set(self.finished_steps())
            if started:
                answered = 0
                if wanted is not None and point.after_requests:
                    answered = sum(1 for e in self.server.log[log_start:] if wanted(e) and e.status == 200)
                if answered >= point.after_requests:
                    proc.send_signal(signal.SIGKILL)
                    killed = time.time()
                    proc.wait()
                    return killed
            time.sleep(self.poll_s)
        return None


# -- inspecting what a run left ----------------------------------------------------------------------


def read_stats(output: Path) -> dict[str, Any]:
    """stats.json, or {} when absent. A partial (unparseable) file raises: atomic writes must prevent it."""
    path = output / STATS_FILE
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def temp_files(output: Path) -> list[Path]:
    """Temporary files of atomic writes (``.name.XXXX.tmp``) under ``output``, outside LanceDB's folder."""
    if not output.is_dir():
        return []
    return sorted(
        p for p in output.rglob(".*.tmp") if p.is_file() and "lancedb" not in p.relative_to(output).parts
    )


def unreadable_files(output: Path) -> list[str]:
    """Files under their real name that do not open: every ``*.parquet`` and ``stats.json``."""
    bad: list[str] = []
    if not output.is_dir():
        return bad
    for path in sorted(output.rglob("*.parquet")):
        if "lancedb" in path.relative_to(output).parts:
            continue
        try:
            pq.read_table(path)
        except Exception as exc:
            bad.append(f"{path.relative_to(output)}: {type(exc).__name__}: {exc}")
    try:
        read_stats(output)
    except ValueError as exc:
        bad.append(f"{STATS_FILE}: {exc}")
    return bad


def cache_keys(path: Path, table: str) -> set[str]:
    """Keys stored in one of the project's SQLite caches (empty when the file does not exist yet)."""
    if not path.is_file():
        return set()
    conn = sqlite3.connect(path, timeout=30.0)
    try:
        return {str(row[0]) for row in conn.execute(f"SELECT key FROM {table}")}
    except sqlite3.OperationalError:  # created but no table yet
        return set()
    finally:
        conn.close()


def request_cache_keys(entry: LogEntry, settings: Settings) -> list[str]:
    """The cache keys the engine stores this request's reply under (chat: one; embeddings: one per text).

    Chat keys are rebuilt from the logged messages with the project's temperature and max_tokens (the
    engine sends its defaults for every indexing call).
    """
    if entry.kind == EMBEDDINGS_KIND:
        return [embedding_cache_key(entry.model, text) for text in entry.inputs]
    params = {
        "temperature": settings.llm.temperature,
        "max_tokens": settings.llm.max_tokens,
        "json_mode": entry.json_mode,
    }
    return [chat_cache_key(entry.model, entry.messages, params)]


def resent_after_cached(attempt: Attempt, settings: Settings) -> list[str]:
    """Requests this run sent although their reply was already in the cache when it started."""
    resent = []
    for entry in attempt.requests:
        before = attempt.embedding_keys_before if entry.kind == EMBEDDINGS_KIND else attempt.chat_keys_before
        hits = [k for k in request_cache_keys(entry, settings) if k in before]
        if hits:
            resent.append(f"{entry.kind} ({len(hits)} cached item(s))")
    return resent


def file_digests(output: Path) -> dict[str, str]:
    """sha256 of every Parquet table under ``output`` (work/ included, LanceDB excluded), by relative path."""
    found = {}
    for path in sorted(output.rglob("*.parquet")):
        rel = path.relative_to(output)
        if "lancedb" not in rel.parts:
            found[str(rel)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def vector_rows(db_dir: Path) -> dict[str, dict[str, list[Any]]]:
    """Every LanceDB table's rows as columns, sorted by id (order-insensitive comparison)."""
    import lancedb

    db = lancedb.connect(str(db_dir))
    tables = {}
    for name in VectorStore(db_dir).tables():
        data = db.open_table(name).to_arrow()
        data = data.sort_by("id")
        tables[name] = {c: data.column(c).to_pylist() for c in sorted(data.column_names)}
    return tables
