"""The output tables as Parquet files with explicit schemas, one per record type of :mod:`.records`.

Each column carries its description in the Parquet field metadata, so ``pyarrow.parquet.read_schema``
documents a file on its own. Lists are stored as ``list<string>``, ``Document.metadata`` as
``map<string, string>`` (keys sorted) and ``CommunityReport.findings`` as
``list<struct<summary, explanation>>``, which pandas, DuckDB and Polars all read natively.

Writes are atomic (temporary file + rename) and deterministic: the same records give byte-identical files,
which the workflow runner relies on when it hashes a step's input tables.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from graphrag_lite.errors import IndexNotFoundError, StorageError
from graphrag_lite.store.atomic import atomic_write
from graphrag_lite.store.layout import project_root, table_path
from graphrag_lite.store.records import (
    Community,
    CommunityReport,
    Document,
    Entity,
    Finding,
    Relationship,
    TextUnit,
    UnitContext,
)

if TYPE_CHECKING:
    import pandas as pd
    from fsspec import AbstractFileSystem

RECORD_TYPES: dict[str, type] = {
    "documents": Document,
    "text_units": TextUnit,
    "entities": Entity,
    "relationships": Relationship,
    "communities": Community,
    "community_reports": CommunityReport,
    "unit_contexts": UnitContext,
}

_IDS = pa.list_(pa.string())
_OFFSETS = pa.list_(pa.int64())
_FINDING = pa.struct(
    [pa.field("summary", pa.string(), nullable=False), pa.field("explanation", pa.string(), nullable=False)]
)


def _col(name: str, kind: pa.DataType, description: str, *, nullable: bool = False) -> pa.Field:
    return pa.field(name, kind, nullable=nullable, metadata={"description": description})


SCHEMAS: dict[str, pa.Schema] = {
    "documents": pa.schema(
        [
            _col(
                "id", pa.string(), "Deterministic id: hash of the content (and id column, when configured)."
            ),
            _col("title", pa.string(), "Document title (file name or the configured title column)."),
            _col("source", pa.string(), "Path relative to the input folder, plus ':row' for csv/jsonl rows."),
            _col("text", pa.string(), "Full text of the document."),
            _col("content_hash", pa.string(), "sha256 of the text; detects edits on incremental update."),
            _col(
                "metadata", pa.map_(pa.string(), pa.string()), "Extra columns/fields of the input, by name."
            ),
            _col("text_unit_ids", _IDS, "Ids of the text units cut from this document, in order."),
            _col(
                "page_starts",
                _OFFSETS,
                "Char offset in text where each page starts (PDF, PPTX); empty: none.",
            ),
            _col("section_starts", _OFFSETS, "Char offset in text where each section (heading) starts."),
            _col("section_paths", _IDS, "Heading path of each section, 'Results > Costs'."),
        ]
    ),
    "text_units": pa.schema(
        [
            _col("id", pa.string(), "Deterministic id: hash of document id, chunk index and text."),
            _col("document_id", pa.string(), "The document of this chunk (chunks never cross documents)."),
            _col("chunk_index", pa.int64(), "Position of the chunk in its document, from 0."),
            _col("text", pa.string(), "The chunk text."),
            _col("n_tokens", pa.int64(), "Token count of the text with the configured encoding."),
            _col("entity_ids", _IDS, "Entities extracted from this chunk."),
            _col("relationship_ids", _IDS, "Relationships extracted from this chunk."),
            _col("start_char", pa.int64(), "Where the chunk starts in its document's text (char offset)."),
            _col("end_char", pa.int64(), "Where it ends (exclusive)."),
            _col("page_start", pa.int64(), "First page it spans, from 1 (0: the document has no pages)."),
            _col("page_end", pa.int64(), "Last page it spans."),
            _col("section", pa.string(), "Heading path of the section it starts in ('' before any heading)."),
        ]
    ),
    "entities": pa.schema(
        [
            _col("id", pa.string(), "Deterministic id: hash of the normalised title."),
            _col("title", pa.string(), "Canonical name; relationships refer to entities by this title."),
            _col("type", pa.string(), "Entity type (person, organization, geo, event, ...)."),
            _col("description", pa.string(), "Merged (and, with an LLM, summarised) description."),
            _col("aliases", _IDS, "Other names merged into this entity by alias resolution."),
            _col(
                "other_types", _IDS, "Types other extractions gave this entity (kept, not silently dropped)."
            ),
            _col("text_unit_ids", _IDS, "Text units that mention the entity."),
            _col("frequency", pa.int64(), "Number of text units that mention the entity."),
            _col("degree", pa.int64(), "Number of relationships (graph degree)."),
        ]
    ),
    "relationships": pa.schema(
        [
            _col("id", pa.string(), "Deterministic id: hash of the two normalised titles, sorted."),
            _col("source", pa.string(), "Title of one endpoint (source < target, the edge is undirected)."),
            _col("target", pa.string(), "Title of the other endpoint."),
            _col("description", pa.string(), "Merged description of how the two are related."),
            _col(
                "weight",
                pa.float64(),
                "Strength: sum of extraction weights, or (fast method) co-occurrences scaled by association.",
            ),
            _col("text_unit_ids", _IDS, "Text units the relationship was extracted from."),
            _col("combined_degree", pa.int64(), "degree(source) + degree(target); ranks edges in contexts."),
        ]
    ),
    "communities": pa.schema(
        [
            _col("id", pa.string(), "Deterministic id: level plus a hash of the member entity ids."),
            _col("level", pa.int64(), "Hierarchy level, 0 = coarsest."),
            _col("parent", pa.string(), "Parent community one level up; null at level 0.", nullable=True),
            _col("children", _IDS, "Ids of the sub-communities one level down."),
            _col("entity_ids", _IDS, "Member entities."),
            _col("relationship_ids", _IDS, "Relationships with both endpoints inside the community."),
            _col("text_unit_ids", _IDS, "Text units that mention a member entity."),
            _col("size", pa.int64(), "Number of member entities."),
        ]
    ),
    "community_reports": pa.schema(
        [
            _col("id", pa.string(), "Report id: 'cr-' plus the community id."),
            _col("community_id", pa.string(), "The community the report describes."),
            _col("level", pa.int64(), "Level of that community."),
            _col("title", pa.string(), "Short title naming the community's key entities."),
            _col("summary", pa.string(), "Executive summary."),
            _col("findings", pa.list_(_FINDING), "Key findings, each a summary and an explanation."),
            _col("rating", pa.float64(), "Importance / impact rating 0-10."),
            _col("rating_explanation", pa.string(), "Why the rating was given."),
            _col("full_content", pa.string(), "The whole report as text (what is embedded and shown)."),
            _col("method", pa.string(), "'llm' or 'extractive'."),
            _col("status", pa.string(), "'ok' or 'failed'."),
            _col(
                "context_source",
                pa.string(),
                "'entities' or 'sub_reports': what the report was written from.",
            ),
        ]
    ),
    "unit_contexts": pa.schema(
        [
            _col("id", pa.string(), "Id of the text unit."),
            _col("context", pa.string(), "LLM sentence situating the unit in its document (search only)."),
        ]
    ),
}

REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(f.name for f in schema if not f.nullable) for name, schema in SCHEMAS.items()
}

_PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "write_statistics": True}


# -- conversions between records and Arrow values ------------------------------------------------------


def _metadata_to_arrow(value: dict[str, str]) -> list[tuple[str, str]]:
    return sorted(value.items())


def _metadata_from_arrow(value: list[tuple[str, str]] | None) -> dict[str, str]:
    return dict(value or [])


def _findings_to_arrow(value: list[Finding]) -> list[dict[str, str]]:
    return [f if isinstance(f, dict) else {"summary": f.summary, "explanation": f.explanation} for f in value]


def _findings_from_arrow(value: list[dict[str, str]] | None) -> list[Finding]:
    return [Finding(summary=f["summary"], explanation=f["explanation"]) for f in value or []]


_TO_ARROW: dict[tuple[str, str], Callable[[Any], Any]] = {
    ("documents", "metadata"): _metadata_to_arrow,
    ("community_reports", "findings"): _findings_to_arrow,
}
_FROM_ARROW: dict[tuple[str, str], Callable[[Any], Any]] = {
    ("documents", "metadata"): _metadata_from_arrow,
    ("community_reports", "findings"): _findings_from_arrow,
}


def _check_name(name: str) -> pa.Schema:
    if name not in SCHEMAS:
        raise StorageError(f"Unknown table '{name}'. Known tables: {', '.join(SCHEMAS)}.")
    return SCHEMAS[name]


def _check_no_nulls(name: str, table: pa.Table) -> None:
    for column in REQUIRED_COLUMNS[name]:
        values = table.column(column)
        if values.null_count:
            row = next(i for i, v in enumerate(values.is_null().to_pylist()) if v)
            ident = table.column("id")[row].as_py()
            raise StorageError(
                f"Table '{name}': column '{column}' is null in row {row} (id {ident!r}); this column is "
                "required. This is a bug in the step that produced the rows."
            )


def records_to_table(name: str, records: Sequence[Any]) -> pa.Table:
    """Arrow table of ``records`` (the dataclass of table ``name``) with the table's exact schema."""
    schema = _check_name(name)
    record_type = RECORD_TYPES[name]
    for index, record in enumerate(records):
        if not isinstance(record, record_type):
            raise StorageError(
                f"Table '{name}' holds {record_type.__name__} records, but row {index} is "
                f"{type(record).__name__}."
            )
    arrays = []
    for column in schema:
        convert = _TO_ARROW.get((name, column.name))
        values = [getattr(r, column.name) for r in records]
        if convert is not None:
            values = [None if v is None else convert(v) for v in values]
        try:
            arrays.append(pa.array(values, type=column.type))
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise StorageError(f"Cannot store column '{column.name}' of table '{name}': {exc}.") from exc
    table = pa.Table.from_arrays(arrays, schema=schema)
    _check_no_nulls(name, table)
    return table


# Columns added after the first release, and the value an index written before them reads as.
ADDED_COLUMNS: dict[tuple[str, str], Any] = {
    ("documents", "page_starts"): [],
    ("documents", "section_starts"): [],
    ("documents", "section_paths"): [],
    ("text_units", "start_char"): 0,
    ("text_units", "end_char"): 0,
    ("text_units", "page_start"): 0,
    ("text_units", "page_end"): 0,
    ("text_units", "section"): "",
}


def _conform(name: str, table: pa.Table, source: str) -> pa.Table:
    """``table`` with exactly the schema's columns, in order and with its types (or a clear error)."""
    schema = SCHEMAS[name]
    for column in schema:
        if column.name not in table.column_names and (name, column.name) in ADDED_COLUMNS:
            default = ADDED_COLUMNS[(name, column.name)]
            table = table.append_column(column, pa.array([default] * table.num_rows, type=column.type))
    missing = [f.name for f in schema if f.name not in table.column_names]
    if missing:
        raise StorageError(
            f"{source} lacks column(s) {', '.join(missing)} of table '{name}' (written by another version "
            "or tool?)."
        )
    try:
        return table.select(schema.names).cast(schema)
    except (pa.ArrowException, ValueError) as exc:
        raise StorageError(f"{source} does not match the schema of table '{name}': {exc}.") from exc


# -- files --------------------------------------------------------------------------------------------


def table_exists(output_dir: Path | str, name: str) -> bool:
    return table_path(output_dir, name).is_file()


def write_table(output_dir: Path | str, name: str, data: Sequence[Any] | pa.Table) -> Path:
    """Write records (or an Arrow table with the right columns) to ``output_dir/<name>.parquet`` atomically.

    Rows are written in the order given; sorting them is the caller's job. Returns the file's path.
    """
    if isinstance(data, pa.Table):
        _check_name(name)
        table = _conform(name, data, f"The Arrow table given for '{name}'")
        _check_no_nulls(name, table)
    else:
        table = records_to_table(name, data)
    path = table_path(output_dir, name)

    def write(handle: IO[bytes]) -> None:
        pq.write_table(table, handle, **_PARQUET_OPTIONS)

    atomic_write(path, write)
    return path


def read_arrow(
    output_dir: Path | str, name: str, *, filesystem: AbstractFileSystem | None = None
) -> pa.Table:
    """The table as Arrow with its exact schema. Missing: IndexNotFoundError; unreadable: StorageError.

    With ``filesystem`` (an fsspec filesystem), ``output_dir`` is a path in it (an object-store version)."""
    _check_name(name)
    if filesystem is not None:
        where = f"{str(output_dir).rstrip('/')}/{name}.parquet"
        shown = filesystem.unstrip_protocol(where)
        if not filesystem.exists(where):
            raise IndexNotFoundError(f"{shown} not found: the published index lacks table '{name}'.")
        advice = "publish the index again (`graphrag-lite index --force` with storage.base_dir set)"
        source: Path | str = where
    else:
        directory = Path(output_dir)
        path = table_path(directory, name)
        shown, source = str(path), path
        root = project_root(directory)
        if not path.is_file():
            raise IndexNotFoundError(f"{path} not found: run `graphrag-lite index --root {root}` first.")
        advice = f"re-run `graphrag-lite index --root {root} --force` to rebuild it"
    try:
        table = pq.read_table(source, filesystem=filesystem)
    except (pa.ArrowException, OSError) as exc:
        raise StorageError(f"{shown} is not a readable Parquet file ({exc}): {advice}.") from exc
    try:
        return _conform(name, table, shown)
    except StorageError as exc:
        raise StorageError(f"{exc} To fix it, {advice}.") from exc


def read_table(output_dir: Path | str, name: str) -> pd.DataFrame:
    """The table as a pandas DataFrame (list columns hold numpy arrays, as pandas does)."""
    frame: pd.DataFrame = read_arrow(output_dir, name).to_pandas()
    return frame


def arrow_to_records(name: str, table: pa.Table) -> list[Any]:
    """Records of an Arrow table that already has the schema of ``name`` (lists come back as lists)."""
    record_type = RECORD_TYPES[name]
    columns = table.to_pydict()
    names = [f.name for f in fields(record_type)]
    for column in names:
        convert = _FROM_ARROW.get((name, column))
        if convert is not None:
            columns[column] = [convert(v) for v in columns[column]]
    return [record_type(*row) for row in zip(*(columns[c] for c in names), strict=True)]


def read_records(output_dir: Path | str, name: str) -> list[Any]:
    """The table as a list of its record dataclass, in file order."""
    return arrow_to_records(name, read_arrow(output_dir, name))
