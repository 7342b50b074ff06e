"""Embed text units, entities and community reports into LanceDB.

Entities are embedded as ``title: description`` and reports by their full content, so a query can match
either by name or by what they are about.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from graphrag_lite.models.base import Embedder
from graphrag_lite.store.records import CommunityReport, Entity, TextUnit
from graphrag_lite.store.vectors import VectorStore

COMPLETE_MARKER = ".complete"


def entity_embedding_text(entity: Entity) -> str:
    return f"{entity.title}: {entity.description}".strip()


async def _embed_batches(
    embedder: Embedder, texts: list[str], batch: int, advance: Callable[[int], None]
) -> np.ndarray:
    parts: list[np.ndarray] = []
    for start in range(0, len(texts), batch):
        chunk = texts[start : start + batch]
        parts.append(np.asarray(await embedder.embed(chunk), dtype=np.float32))
        advance(len(chunk))
    if not parts:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    return np.vstack(parts)


async def embed_index(
    db_dir: Path,
    text_units: list[TextUnit],
    entities: list[Entity],
    reports: list[CommunityReport],
    embedder: Embedder,
    *,
    batch_size: int = 64,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """(Re)build the three vector tables; returns rows per table. Writes a completion marker last."""
    store = VectorStore(db_dir)
    marker = db_dir / COMPLETE_MARKER
    if marker.exists():
        marker.unlink()
    sources: dict[str, tuple[list[str], list[str], dict[str, list[object]]]] = {
        "text_units": (
            [u.id for u in text_units],
            [u.text for u in text_units],
            {"document_id": [u.document_id for u in text_units]},
        ),
        "entities": (
            [e.id for e in entities],
            [entity_embedding_text(e) for e in entities],
            {"title": [e.title for e in entities], "type": [e.type for e in entities]},
        ),
        "community_reports": (
            [r.id for r in reports],
            [r.full_content or r.summary for r in reports],
            {"community_id": [r.community_id for r in reports], "level": [r.level for r in reports]},
        ),
    }
    total = sum(len(ids) for ids, _, _ in sources.values())
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if on_progress:
            on_progress(done, total)

    counts: dict[str, int] = {}
    digest = hashlib.sha256(embedder.model.encode())
    for table, (ids, texts, extra) in sources.items():
        vectors = await _embed_batches(embedder, texts, batch_size, advance)
        store.create(table, ids, texts, vectors, extra=extra, overwrite=True)
        counts[table] = len(ids)
        for item_id, text in zip(ids, texts, strict=True):
            digest.update(item_id.encode())
            digest.update(hashlib.sha256(text.encode()).digest())
    marker.write_text(digest.hexdigest())
    return counts
