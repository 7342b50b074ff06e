"""Results of per-item work from a step's previous run, keyed by what the item is made of.

Before extracting a text unit, summarising a list of descriptions or writing a community report, a step asks
its memo: an item whose content (and the step's settings and prompts, the memo's *salt*) did not change
gets its previous result back without any model call. This is what makes ``update`` — and an ``index``
re-run after the input changed — redo only new or changed items. Only entries used or made in a run are
saved, so results of deleted documents do not linger; failed items are never put, so the next run retries
exactly those. Each entry remembers the LLM requests it cost, so a run can tell what a full re-index would
have spent.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from graphrag_lite.store.atomic import atomic_write

_SCHEMA = pa.schema(
    [
        pa.field("key", pa.string(), nullable=False),
        pa.field("value", pa.string(), nullable=False),
        pa.field("calls", pa.int64(), nullable=False),
    ]
)
_SALT = b"graphrag_lite.memo.salt"


def memo_key(*parts: object) -> str:
    """A key for the content of one item: sha256 of its parts as canonical JSON."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass
class _Entry:
    value: str  # JSON
    calls: int  # LLM requests (sent or answered from the cache) the item cost when it was made


class ItemMemo:
    """Previous results by key (read side) and this run's results (write side)."""

    def __init__(self, previous: dict[str, _Entry] | None = None) -> None:
        self._previous = previous or {}
        self._kept: dict[str, _Entry] = {}
        self.reused = 0
        self.computed = 0
        self.calls_saved = 0
        self._sink: tuple[Path, str] | None = None
        self._interval_s = 0.0
        self._last_checkpoint = 0.0

    def checkpoint_to(self, path: Path, salt: str, interval_s: float = 10.0) -> None:
        """Let :meth:`checkpoint` save to ``path`` at most every ``interval_s`` seconds."""
        self._sink, self._interval_s = (path, salt), interval_s
        self._last_checkpoint = time.monotonic()

    def checkpoint(self, *, now: bool = False) -> bool:
        """Save mid-step (when due, or ``now``), so a run killed later resumes with what was done so far:
        previous entries not used yet are kept too, since the rest of the step may still use them."""
        if self._sink is None or not (now or time.monotonic() - self._last_checkpoint >= self._interval_s):
            return False
        merged = {**self._previous, **self._kept}
        self._write(self._sink[0], self._sink[1], merged)
        self._last_checkpoint = time.monotonic()
        return True

    def get(self, key: str) -> Any | None:
        """The previous result for ``key`` (decoded JSON), or None; a hit is kept for the next run."""
        entry = self._kept.get(key) or self._previous.get(key)
        if entry is None:
            return None
        if key not in self._kept:
            self._kept[key] = entry
            self.reused += 1
            self.calls_saved += entry.calls
        return json.loads(entry.value)

    def put(self, key: str, value: Any, calls: int = 0) -> None:
        """Remember a result made in this run (JSON-serialisable), with the LLM requests it cost."""
        self._kept[key] = _Entry(json.dumps(value, sort_keys=True, ensure_ascii=False), calls)
        self.computed += 1

    def stats(self) -> dict[str, int]:
        return {"reused": self.reused, "computed": self.computed, "llm_calls_saved": self.calls_saved}

    # -- persistence -----------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: Path, salt: str) -> ItemMemo:
        """The memo saved at ``path``; empty when absent, unreadable or made with another salt."""
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowException):
            return cls()
        metadata = table.schema.metadata or {}
        if metadata.get(_SALT, b"").decode() != salt:
            return cls()
        rows = table.to_pydict()
        return cls(
            {
                key: _Entry(value, calls)
                for key, value, calls in zip(rows["key"], rows["value"], rows["calls"], strict=True)
            }
        )

    def save(self, path: Path, salt: str) -> None:
        """Write this run's entries (used or made), sorted by key so equal memos give equal files."""
        self._write(path, salt, self._kept)

    @staticmethod
    def _write(path: Path, salt: str, entries: dict[str, _Entry]) -> None:
        keys = sorted(entries)
        table = pa.table(
            {
                "key": keys,
                "value": [entries[k].value for k in keys],
                "calls": [entries[k].calls for k in keys],
            },
            schema=_SCHEMA.with_metadata({_SALT: salt.encode()}),
        )

        def write(handle: IO[bytes]) -> None:
            pq.write_table(table, handle, compression="zstd")

        atomic_write(path, write)
