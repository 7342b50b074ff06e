"""A persistent key-value cache in SQLite for LLM replies and embeddings.

SQLite (WAL mode) is append-friendly: one row per reply, written in place, safe for several threads and
processes at once. Every call is small, so a single connection behind a lock is enough; the async methods
run it in a worker thread so the event loop never waits on disk.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from graphrag_lite.errors import StorageError

CacheValue = str | bytes

# Request parameters that identify the caller or the endpoint, never the answer: kept out of cache keys.
_NOT_IN_KEY = frozenset(
    {"api_key", "api_base", "base_url", "azure_endpoint", "authorization", "headers", "organization", "user"}
)
_KEY_VERSION = "chat-v1"
_SQL_BATCH = 500  # keys per SELECT ... IN (...) (below SQLite's variable limit)


def chat_cache_key(model: str, messages: Sequence[Mapping[str, str]], params: Mapping[str, object]) -> str:
    """sha256 of a canonical JSON of model, messages and every generation parameter that changes the reply.

    Parameters set to None are dropped (so "unset" and "None" hit the same row); keys, URLs and headers
    are never part of the key, so rotating an API key keeps the cache.
    """
    turns = [{"role": str(m.get("role", "")), "content": str(m.get("content", ""))} for m in messages]
    payload = {
        "v": _KEY_VERSION,
        "model": model,
        "messages": turns,
        "params": {k: v for k, v in params.items() if v is not None and k.lower() not in _NOT_IN_KEY},
    }
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def embedding_cache_key(model: str, text: str) -> str:
    """``model:sha256(text)``: the same text embedded by another model is another row."""
    return f"{model}:{hashlib.sha256(text.encode('utf-8')).hexdigest()}"


class SQLiteCache:
    """Persistent ``key -> str | bytes`` store with hit/miss counters.

    ``enabled=False`` makes every lookup a miss and every write a no-op (the file is not even created).
    Async ``get``/``set``/``get_many``/``set_many`` for the async core; ``*_many_sync`` twins for threads.
    """

    def __init__(self, path: str | Path, *, enabled: bool = True, table: str = "entries") -> None:
        if not table.isidentifier():
            raise ValueError(f"Cache table name must be an identifier, got {table!r}.")
        self.path = Path(path)
        self.enabled = enabled
        self.table = table
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    # -- connection -------------------------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        """Open on first use (under the lock)."""
        if self._conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {self.table} "
                    "(key TEXT PRIMARY KEY, value BLOB NOT NULL, created REAL NOT NULL)"
                )
            except sqlite3.Error as exc:
                raise StorageError(
                    f"Cannot open the cache {self.path}: {exc}. Check the folder is writable, delete a "
                    "corrupt file, or set cache.enabled: false in settings.yaml."
                ) from exc
            self._conn = conn
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- sync API ---------------------------------------------------------------------------------------
    def get_many_sync(self, keys: Sequence[str]) -> dict[str, CacheValue]:
        """The cached values of ``keys`` that are present; counts one hit or miss per distinct key."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, CacheValue] = {}
        with self._lock:
            if self.enabled and wanted:
                conn = self._connection()
                for start in range(0, len(wanted), _SQL_BATCH):
                    batch = wanted[start : start + _SQL_BATCH]
                    marks = ",".join("?" * len(batch))
                    rows = conn.execute(f"SELECT key, value FROM {self.table} WHERE key IN ({marks})", batch)
                    found.update((str(k), v) for k, v in rows)
            self.hits += len(found)
            self.misses += len(wanted) - len(found)
        return found

    def set_many_sync(self, items: Iterable[tuple[str, CacheValue]]) -> None:
        if not self.enabled:
            return
        rows = [(key, value, time.time()) for key, value in items]
        if not rows:
            return
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN")
            try:
                conn.executemany(f"INSERT OR REPLACE INTO {self.table} VALUES (?, ?, ?)", rows)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def __len__(self) -> int:
        if not self.enabled or not self.path.exists():
            return 0
        with self._lock:
            return int(self._connection().execute(f"SELECT COUNT(*) FROM {self.table}").fetchone()[0])

    # -- async API --------------------------------------------------------------------------------------
    async def get(self, key: str) -> CacheValue | None:
        return (await self.get_many([key])).get(key)

    async def set(self, key: str, value: CacheValue) -> None:
        await self.set_many([(key, value)])

    async def get_many(self, keys: Sequence[str]) -> dict[str, CacheValue]:
        if not self.enabled:
            return self.get_many_sync(keys)  # counts the misses, touches no file
        return await asyncio.to_thread(self.get_many_sync, keys)

    async def set_many(self, items: Iterable[tuple[str, CacheValue]]) -> None:
        if self.enabled:
            await asyncio.to_thread(self.set_many_sync, list(items))

    def delete_sync(self, keys: Sequence[str]) -> None:
        """Drop ``keys`` (absent ones are ignored)."""
        if not self.enabled or not keys:
            return
        with self._lock:
            conn = self._connection()
            conn.executemany(f"DELETE FROM {self.table} WHERE key = ?", [(key,) for key in keys])

    async def delete(self, keys: Sequence[str]) -> None:
        if self.enabled and keys:
            await asyncio.to_thread(self.delete_sync, list(keys))
