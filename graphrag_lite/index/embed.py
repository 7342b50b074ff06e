"""Embed text units, entities and community reports into LanceDB.

Text units are embedded as title + context + text (``unit_search_texts``), entities as ``title: description``
and reports by their full content, so a query can match either by name or by what they are about. The tables
are updated in place: only new or changed rows are embedded, rows of deleted records are removed.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from graphrag_lite.models.base import Embedder, expect_bulk
from graphrag_lite.models.memory import Trimmer
from graphrag_lite.store import layout
from graphrag_lite.store.atomic import atomic_write_text
from graphrag_lite.store.records import CommunityReport, Entity, TextUnit, unit_search_texts
from graphrag_lite.store.vectors import VectorStore

if TYPE_CHECKING:
    from graphrag_lite.config.settings import Settings
    from graphrag_lite.index.executor import Executor

CALLS_PER_TASK = 8  # embedding calls (of ``batch_size`` texts) per Ray task
_WORKER_EMBEDDERS: dict[str, Embedder] = {}  # per Ray worker process: the model is loaded once


@dataclass(frozen=True)
class EmbedJob:
    """Embedding calls in a Ray worker: each item is the texts of one call, each result their vectors."""

    settings: Settings
    expected: int = 0  # texts in the whole embed step: the workers pick the runtime the driver would

    def __call__(self, calls: list[list[str]]) -> list[np.ndarray]:
        from graphrag_lite.models.factory import uncached_embedder

        key = self.settings.embeddings.model_dump_json()
        if key not in _WORKER_EMBEDDERS:
            _WORKER_EMBEDDERS[key] = uncached_embedder(self.settings)
        embedder = _WORKER_EMBEDDERS[key]
        expect_bulk(embedder, self.expected)

        async def run() -> list[np.ndarray]:
            return [np.asarray(await embedder.embed(texts), dtype=np.float32) for texts in calls]

        return asyncio.run(run())


async def _embed_batches(
    embedder: Embedder,
    texts: list[str],
    batch: int,
    advance: Callable[[int], None],
    remote: tuple[Executor, EmbedJob] | None = None,
) -> np.ndarray:
    """Vectors of ``texts`` in order, embedded shortest first: a batch of similar lengths pads little.
    With ``remote``, the same calls run as Ray tasks of ``CALLS_PER_TASK`` calls each."""
    order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), i))
    chunks = [order[start : start + batch] for start in range(0, len(order), batch)]
    parts: list[np.ndarray] = [np.zeros((0, 0), dtype=np.float32)] * len(chunks)
    if remote is not None:
        executor, job = remote
        tasks = [
            list(range(i, min(i + CALLS_PER_TASK, len(chunks))))
            for i in range(0, len(chunks), CALLS_PER_TASK)
        ]
        payload = [[[texts[i] for i in chunks[c]] for c in task] for task in tasks]
        for index, results in await asyncio.to_thread(lambda: list(executor.map(job, payload))):
            for c, part in zip(tasks[index], results, strict=True):
                parts[c] = part
                advance(len(chunks[c]))
    else:
        trim = Trimmer()
        for c, chunk in enumerate(chunks):
            parts[c] = np.asarray(await embedder.embed([texts[i] for i in chunk]), dtype=np.float32)
            advance(len(chunk))
            trim()
    if not parts:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    vectors = np.empty_like(np.vstack(parts))
    vectors[order] = np.vstack(parts)
    return vectors


async def embed_index(
    db_dir: Path,
    titles: dict[str, str],
    contexts: dict[str, str],
    text_units: list[TextUnit],
    entities: list[Entity],
    reports: list[CommunityReport],
    embedder: Embedder,
    *,
    batch_size: int = 64,
    on_progress: Callable[[int, int], None] | None = None,
    report_text: str = "full",
    remote: tuple[Executor, EmbedJob] | None = None,
) -> dict[str, dict[str, int]]:
    """Bring the three vector tables in line with the records; returns per table rows, embedded, deleted.
    Text units are embedded with their document's title (``titles``: document id -> title) and their
    context sentence, if they have one (``contexts``: unit id -> context).

    Rows whose id, text and columns are already stored (by the same embedding model) are kept; new or
    changed rows are embedded and upserted, rows of records that are gone are deleted. A completion marker
    is written last, so a half-done run is never taken for a finished one.
    """
    store = VectorStore(db_dir)
    marker = db_dir / layout.COMPLETE_MARKER
    if marker.exists():
        marker.unlink()
    model_file = db_dir / layout.EMBEDDING_MODEL_FILE  # another model means a rebuild
    same_model = model_file.is_file() and model_file.read_text(encoding="utf-8") == embedder.model
    if not same_model:  # rebuilding: a kill half-way must not leave vectors of two models behind
        model_file.unlink(missing_ok=True)
    sources = vector_rows(titles, contexts, text_units, entities, reports, report_text)
    plans = {
        table: _plan(store, table, rows)
        if same_model and store.has_table(table)
        else _Plan(rows, set(), True)
        for table, rows in sources.items()
    }
    total = sum(len(plan.todo.ids) for plan in plans.values())
    expect_bulk(embedder, total)
    if remote is not None:
        remote = (remote[0], replace(remote[1], expected=total))
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if on_progress:
            on_progress(done, total)

    counts: dict[str, dict[str, int]] = {}
    digest = hashlib.sha256(embedder.model.encode())
    for table, plan in plans.items():
        todo = plan.todo
        vectors = await _embed_batches(embedder, todo.texts, batch_size, advance, remote)
        if plan.rebuild:
            store.create(table, todo.ids, todo.texts, vectors, extra=todo.extra, overwrite=True)
        else:
            store.delete(table, plan.delete)
            if todo.ids:
                store.upsert(table, todo.ids, todo.texts, vectors, extra=todo.extra)
        rows = sources[table]
        counts[table] = {"rows": len(rows.ids), "embedded": len(todo.ids), "deleted": len(plan.delete)}
        for item_id, text in zip(rows.ids, rows.texts, strict=True):
            digest.update(item_id.encode())
            digest.update(hashlib.sha256(text.encode()).digest())
    atomic_write_text(model_file, embedder.model)
    atomic_write_text(marker, digest.hexdigest())
    return counts


def vector_rows(
    titles: dict[str, str],
    contexts: dict[str, str],
    text_units: list[TextUnit],
    entities: list[Entity],
    reports: list[CommunityReport],
    report_text: str = "full",
) -> dict[str, _Rows]:
    """Per vector table: the ids, the texts embedded for them and the extra columns (one place, so every
    writer of vectors stores the texts the embed step compares against)."""
    return {
        "text_units": _Rows(
            [u.id for u in text_units],
            unit_search_texts(text_units, titles, contexts),
            {"document_id": [u.document_id for u in text_units]},
        ),
        "entities": _Rows(
            [e.id for e in entities],
            [f"{e.title}: {e.description}".strip() for e in entities],
            {"title": [e.title for e in entities], "type": [e.type for e in entities]},
        ),
        "community_reports": _Rows(
            [r.id for r in reports],
            [_report_text(r, report_text) for r in reports],
            {"community_id": [r.community_id for r in reports], "level": [r.level for r in reports]},
        ),
    }


def _report_text(report: CommunityReport, what: str) -> str:
    """A report's full text, or (``summary``) its title and summary: the part a question mostly matches."""
    if what == "summary":
        return f"{report.title}\n{report.summary}".strip()
    return report.full_content or report.summary


@dataclass
class _Rows:
    ids: list[str]
    texts: list[str]
    extra: dict[str, list[Any]]

    def row(self, i: int) -> tuple[Any, ...]:
        return (self.texts[i], *(values[i] for values in self.extra.values()))

    def subset(self, keep: list[int]) -> _Rows:
        return _Rows(
            [self.ids[i] for i in keep],
            [self.texts[i] for i in keep],
            {name: [values[i] for i in keep] for name, values in self.extra.items()},
        )


@dataclass
class _Plan:
    todo: _Rows  # rows to embed and write
    delete: set[str]  # ids to delete
    rebuild: bool  # replace the table instead of upserting


def _plan(store: VectorStore, table: str, rows: _Rows) -> _Plan:
    """Which rows are new or changed, and which stored ids are gone."""
    stored = store.columns(table, ["id", "text", *rows.extra]).to_pydict()
    current = {
        stored["id"][i]: (stored["text"][i], *(stored[name][i] for name in rows.extra))
        for i in range(len(stored["id"]))
    }
    changed = [i for i, item_id in enumerate(rows.ids) if current.get(item_id) != rows.row(i)]
    return _Plan(rows.subset(changed), set(current) - set(rows.ids), False)
