"""Vector tables in embedded LanceDB (``output/lancedb``): cosine search, filters and native full-text search.

Every table has the columns ``id`` (unique), ``text``, ``vector`` (float32, fixed size) plus any extra
columns the caller gives (for example ``type`` of an entity, usable in ``where`` filters). Search is exact
(no ANN index: at the sizes graphrag_lite targets a flat scan of 10k x 384 takes about 10 ms), so results
are deterministic; equal scores are ordered by id. A BM25 full-text index on ``text`` is (re)built on every
write, so :meth:`VectorStore.full_text_search` always sees all rows.

``lancedb`` is imported lazily: importing this module stays cheap.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from graphrag_lite.errors import StorageError

RESERVED_COLUMNS = ("id", "text", "vector")
# Old table versions are deleted after writes once they are this old, so re-indexing does not grow the
# folder forever while a reader that opened a version a moment ago can still finish.
KEEP_OLD_VERSIONS = timedelta(minutes=1)
_DELETE_BATCH = 500
_TIE_PAD = 16  # extra rows fetched so ties at the k-th score are broken by id, not by scan order
# Up to this many rows, a local table is searched as a numpy matrix read with pylance: exact, like LanceDB's
# flat search, and a question never pays LanceDB's import (about 0.7 s) or its query planning.
EXACT_MAX_ROWS = 200_000


@dataclass
class _Matrix:
    """One table in memory for exact search: unit-length vectors (zero rows stay zero), ids, the rest."""

    version: int
    ids: list[str]
    texts: list[str]
    extra: dict[str, list[Any]]
    unit: np.ndarray
    live: np.ndarray  # rows with a non-zero vector (a zero vector never matches)


@dataclass
class VectorHit:
    """One search result. ``score`` is cosine similarity (vector search) or BM25 (full-text); higher wins."""

    id: str
    text: str
    score: float
    extra: dict[str, Any] = field(default_factory=dict)


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _checked_rows(
    ids: Sequence[str], texts: Sequence[str], vectors: np.ndarray, extra: dict[str, list[Any]] | None
) -> np.ndarray:
    """The vectors as float32 rows, once ids, texts, vectors and extra columns agree and are usable."""
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim != 2:
        raise StorageError(f"Vectors must be a 2-d array (rows, dim); got shape {matrix.shape}.")
    columns = {"ids": len(ids), "texts": len(texts), "vectors": matrix.shape[0]}
    columns.update({f"extra '{k}'": len(v) for k, v in (extra or {}).items()})
    if len(set(columns.values())) > 1:
        raise StorageError(f"Vector rows disagree in length: {columns}.")
    if len(set(ids)) != len(ids):
        dupes = sorted(i for i, n in Counter(ids).items() if n > 1)[:5]
        raise StorageError(f"Duplicate ids in vector rows: {dupes}. Ids must be unique per table.")
    if not np.isfinite(matrix).all():
        raise StorageError("Vectors contain NaN or infinity; check the embedding model's output.")
    return matrix


class VectorStore:
    """Named vector tables under ``db_dir`` (created on first write). ``db_dir`` may be an object-store URI
    (``s3://...``): LanceDB then reads it with its own object-store client, credentials from the
    environment."""

    def __init__(self, db_dir: Path | str) -> None:
        self.remote = isinstance(db_dir, str) and "://" in db_dir
        self.db_dir: Path | str = db_dir if self.remote else Path(db_dir)
        self._db: Any = None
        self._matrices: dict[str, _Matrix] = {}

    # -- connection -------------------------------------------------------------------------------------
    def _connect(self) -> Any:
        if self._db is None:
            import lancedb

            if isinstance(self.db_dir, Path):
                self.db_dir.mkdir(parents=True, exist_ok=True)
            # Consistency interval 0: every read sees the latest version, even one written by another
            # VectorStore or process (costs well under a millisecond per query).
            # A published version never changes: no re-check against the store.
            interval = None if self.remote else timedelta(0)
            self._db = lancedb.connect(self.db_dir, read_consistency_interval=interval)
        return self._db

    def _open(self, table: str) -> Any:
        if not self.has_table(table):
            raise StorageError(
                f"Vector table '{table}' not found in {self.db_dir}: run `graphrag-lite index` (its embed "
                "step writes it)."
            )
        return self._connect().open_table(table)

    def has_table(self, table: str) -> bool:
        return table in self.tables()

    def tables(self) -> list[str]:
        """Names of the tables, sorted (an empty list when the folder does not exist yet)."""
        if isinstance(self.db_dir, Path):  # LanceDB keeps table T in the folder T.lance
            if not self.db_dir.is_dir():
                return []
            return sorted(p.name[: -len(".lance")] for p in self.db_dir.glob("*.lance") if p.is_dir())
        names: list[str] = []
        token: str | None = None
        while True:
            page = self._connect().list_tables(page_token=token)
            names.extend(page.tables)
            token = page.page_token
            if not token:
                return sorted(names)

    # -- writing ----------------------------------------------------------------------------------------
    def _arrow(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        vectors: np.ndarray,
        extra: dict[str, list[Any]] | None,
        schema: pa.Schema | None = None,
    ) -> pa.Table:
        matrix = _checked_rows(ids, texts, vectors, extra)
        dim = matrix.shape[1]
        if schema is not None:
            want = schema.field("vector").type.list_size
            if dim != want:
                raise StorageError(
                    f"Vectors have {dim} dimensions but the table has {want} (the embedding model changed?). "
                    "Rebuild the embeddings: `graphrag-lite index --force`."
                )
        data: dict[str, pa.Array] = {
            "id": pa.array(list(ids), type=pa.string()),
            "text": pa.array(list(texts), type=pa.string()),
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), dim),
        }
        for name, values in (extra or {}).items():
            if name in RESERVED_COLUMNS or name.startswith("_"):
                raise StorageError(f"Extra column name '{name}' is reserved; choose another name.")
            kind = schema.field(name).type if schema is not None and name in schema.names else None
            if kind is None and not values:
                kind = pa.string()  # an empty column still needs a concrete type
            try:
                data[name] = pa.array(list(values), type=kind)
            except (pa.ArrowException, TypeError, ValueError) as exc:
                raise StorageError(f"Cannot store extra column '{name}': {exc}.") from exc
        table = pa.table(data)
        if schema is not None:
            if set(table.column_names) != set(schema.names):
                raise StorageError(
                    f"Columns {sorted(table.column_names)} do not match the table's {sorted(schema.names)}."
                )
            table = table.select(schema.names)
        return table

    def _index_and_tidy(self, tbl: Any) -> None:
        from lancedb.index import FTS

        tbl.create_index("text", config=FTS(), replace=True)
        tbl.optimize(cleanup_older_than=KEEP_OLD_VERSIONS)

    def create(
        self,
        table: str,
        ids: Sequence[str],
        texts: Sequence[str],
        vectors: np.ndarray,
        extra: dict[str, list[Any]] | None = None,
        overwrite: bool = True,
    ) -> None:
        """Create (or replace, when ``overwrite``) a table holding these rows, with its full-text index."""
        data = self._arrow(ids, texts, vectors, extra)
        exists = self.has_table(table)
        if exists and not overwrite:
            raise StorageError(f"Vector table '{table}' already exists in {self.db_dir}; use upsert().")
        tbl = self._connect().create_table(table, data, mode="overwrite" if exists else "create")
        self._index_and_tidy(tbl)

    def upsert(
        self,
        table: str,
        ids: Sequence[str],
        texts: Sequence[str],
        vectors: np.ndarray,
        extra: dict[str, list[Any]] | None = None,
    ) -> None:
        """Insert new ids and replace existing ones (creates the table when it does not exist)."""
        if not self.has_table(table):
            self.create(table, ids, texts, vectors, extra)
            return
        tbl = self._open(table)
        data = self._arrow(ids, texts, vectors, extra, schema=tbl.schema)
        if data.num_rows == 0:
            return
        tbl.merge_insert("id").when_matched_update_all().when_not_matched_insert_all().execute(data)
        self._index_and_tidy(tbl)

    def delete(self, table: str, ids: Sequence[str] | set[str]) -> None:
        """Delete rows by id; unknown ids are ignored."""
        if not ids or not self.has_table(table):
            return
        tbl = self._open(table)
        ordered = sorted(ids)
        for start in range(0, len(ordered), _DELETE_BATCH):
            batch = ordered[start : start + _DELETE_BATCH]
            tbl.delete(f"id IN ({', '.join(_sql_string(i) for i in batch)})")
        self._index_and_tidy(tbl)

    def drop(self, table: str) -> None:
        if self.has_table(table):
            self._connect().drop_table(table)

    # -- reading ----------------------------------------------------------------------------------------
    def ids(self, table: str) -> set[str]:
        tbl = self._open(table)
        return set(tbl.to_lance().to_table(columns=["id"]).column("id").to_pylist())

    def columns(self, table: str, names: Sequence[str]) -> pa.Table:
        """Some columns of every row (e.g. ids and texts, to tell which rows changed)."""
        return self._open(table).to_lance().to_table(columns=list(names))

    def count(self, table: str) -> int:
        return int(self._open(table).count_rows())

    def dim(self, table: str) -> int:
        return int(self._open(table).schema.field("vector").type.list_size)

    def _result_columns(self, tbl: Any) -> list[str]:
        return [name for name in tbl.schema.names if name != "vector"]

    def _hits(self, rows: pa.Table, score_of: Any) -> list[VectorHit]:
        hits = []
        for row in rows.to_pylist():
            score = float(score_of(row))
            extra = {k: v for k, v in row.items() if k not in RESERVED_COLUMNS and not k.startswith("_")}
            hits.append(VectorHit(id=row["id"], text=row["text"], score=score, extra=extra))
        hits.sort(key=lambda h: (-h.score, h.id))
        return hits

    def _ranked(self, run: Any, k: int, score_of: Any) -> list[VectorHit]:
        """Top ``k`` by score, ties by id: widen the fetch until the k-th score is not tied at the edge."""
        limit = k + _TIE_PAD
        while True:
            hits = self._hits(run(limit), score_of)
            if len(hits) < limit or hits[k - 1].score != hits[-1].score:
                return hits[:k]
            limit *= 4

    def search(
        self, table: str, vector: np.ndarray | Sequence[float], k: int = 10, where: str | None = None
    ) -> list[VectorHit]:
        """The ``k`` rows most similar to ``vector`` (cosine), optionally filtered by a SQL ``where``.

        Cosine is undefined for an all-zero vector: such rows never match, and a zero query returns [].
        """
        if k <= 0:
            return []
        if where is None:
            matrix = self._matrix(table)
            if matrix is not None:
                return self._exact_search(table, matrix, vector, k)
        tbl = self._open(table)
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        want = tbl.schema.field("vector").type.list_size
        if query.shape[0] != want:
            raise StorageError(
                f"Query vector has {query.shape[0]} dimensions but table '{table}' has {want}: embed queries "
                "with the model the index was built with."
            )
        columns = [*self._result_columns(tbl), "_distance"]

        def run(limit: int) -> pa.Table:
            builder = tbl.search(query, vector_column_name="vector").distance_type("cosine")
            if where:
                builder = builder.where(where, prefilter=True)
            return builder.select(columns).limit(limit).to_arrow()

        try:
            return self._ranked(run, k, lambda row: min(1.0, max(-1.0, 1.0 - row["_distance"])))
        except StorageError:
            raise
        except Exception as exc:  # LanceDB raises plain ValueError/RuntimeError for bad filters
            raise StorageError(f"Vector search in '{table}' failed (where={where!r}): {exc}") from exc

    def _matrix(self, table: str) -> _Matrix | None:
        """The table as a matrix, read again only when its version changed; None for remote or big tables."""
        if not isinstance(self.db_dir, Path):
            return None
        path = self.db_dir / f"{table}.lance"
        if not path.is_dir():
            raise StorageError(
                f"Vector table '{table}' not found in {self.db_dir}: run `graphrag-lite index` (its embed "
                "step writes it)."
            )
        import lance

        dataset = lance.dataset(str(path))
        cached = self._matrices.get(table)
        if cached is not None and cached.version == dataset.version:
            return cached
        if dataset.count_rows() > EXACT_MAX_ROWS:
            return None
        data = dataset.to_table()
        vectors = data.column("vector").combine_chunks()
        dim = vectors.type.list_size
        matrix = vectors.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(-1, dim)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        unit = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
        columns = {name: data.column(name).to_pylist() for name in data.column_names if name != "vector"}
        extra = {k: v for k, v in columns.items() if k not in RESERVED_COLUMNS and not k.startswith("_")}
        live = np.flatnonzero(norms.reshape(-1) > 0)
        found = _Matrix(dataset.version, columns["id"], columns["text"], extra, unit, live)
        self._matrices[table] = found
        return found

    def _exact_search(
        self, table: str, matrix: _Matrix, vector: np.ndarray | Sequence[float], k: int
    ) -> list[VectorHit]:
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        if query.shape[0] != matrix.unit.shape[1]:
            raise StorageError(
                f"Query vector has {query.shape[0]} dimensions but table '{table}' has "
                f"{matrix.unit.shape[1]}: embed queries with the model the index was built with."
            )
        norm = float(np.linalg.norm(query))
        if norm == 0 or not matrix.ids:
            return []
        scores = np.clip(matrix.unit @ (query / norm), -1.0, 1.0)
        live = matrix.live
        take = min(len(live), k + _TIE_PAD)
        best = live[np.argpartition(-scores[live], take - 1)[:take]] if take < len(live) else live
        cut = float(np.sort(scores[best])[::-1][min(k, len(best)) - 1])
        tied = live[scores[live] >= cut]  # every row tied with the k-th score, so ties break by id
        hits = [
            VectorHit(
                id=matrix.ids[i],
                text=matrix.texts[i],
                score=float(scores[i]),
                extra={name: values[i] for name, values in matrix.extra.items()},
            )
            for i in tied
        ]
        hits.sort(key=lambda h: (-h.score, h.id))
        return hits[:k]

    def full_text_search(
        self, table: str, query: str, k: int = 10, where: str | None = None
    ) -> list[VectorHit]:
        """The ``k`` rows whose ``text`` best matches ``query`` by BM25 (LanceDB native full-text search).

        The query is matched as plain words (no query syntax); stop words are ignored, so a query of only
        stop words returns nothing.
        """
        if k <= 0 or not query.strip():
            return []
        tbl = self._open(table)
        columns = [*self._result_columns(tbl), "_score"]

        def run(limit: int) -> pa.Table:
            builder = tbl.search(query, query_type="fts", fts_columns="text")
            if where:
                builder = builder.where(where, prefilter=True)
            return builder.select(columns).limit(limit).to_arrow()

        try:
            return self._ranked(run, k, lambda row: row["_score"])
        except Exception as exc:
            raise StorageError(f"Full-text search in '{table}' failed (where={where!r}): {exc}") from exc
