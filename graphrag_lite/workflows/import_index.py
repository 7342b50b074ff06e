"""``graphrag-lite import``: make a Microsoft GraphRAG project's index a graphrag-lite project, as it is.

The tables are mapped by :mod:`graphrag_lite.index.importers.msgraphrag` (no LLM call). This module writes
the new project: tables, GraphRAG's ids beside ours (``output/graphrag_ids.parquet``), vectors (theirs when
the configured embedding model is the one they used, else embedded again here), ``settings.yaml`` from
theirs (endpoints and model names; a key stays a ``${VAR}`` reference and is never copied), their prompts
for reference, and their ``input/``. Everything is written to a temporary folder next to the target and
moved in at the end, so a failed import leaves the target as it was.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from graphrag_lite.config.loader import load_settings
from graphrag_lite.config.settings import Settings
from graphrag_lite.errors import ConfigError
from graphrag_lite.index.importers.msgraphrag import (
    GraphRAGImportError,
    ImportResult,
    output_folder,
    read_graphrag_output,
)
from graphrag_lite.models.base import Embedder
from graphrag_lite.store.atomic import atomic_write_json
from graphrag_lite.store.layout import IndexLayout
from graphrag_lite.store.tables import write_table

log = logging.getLogger(__name__)

IMPORTED_WORKFLOW = "graphrag-import"  # stats.json's workflow for an imported index
IDS_TABLE = "graphrag_ids.parquet"
# Their LanceDB table -> (our vector table, how their ids map to ours)
THEIR_VECTORS = {
    "entity_description": "entities",
    "community_full_content": "community_reports",
    "text_unit_text": "text_units",
}
_REFERENCE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")


@dataclass
class ImportReport:
    """What an import read, wrote and dropped; printed by the CLI and kept in stats.json."""

    source: str
    root: str
    read: dict[str, int]
    written: dict[str, int]
    vectors: str  # "reused ..." or "embedded ..."
    dropped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def _project_root(source: Path) -> Path:
    return source if (source / "settings.yaml").is_file() else source.parent


def _their_settings(source: Path) -> dict[str, Any]:
    path = _project_root(source) / "settings.yaml"
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise GraphRAGImportError(
            f"{path} is not valid YAML ({exc}); fix it or import the output folder alone."
        ) from exc
    return data if isinstance(data, dict) else {}


def _model_section(theirs: dict[str, Any], kind: str) -> dict[str, Any]:
    """Their chat (``completion``) or embedding model settings, from the 3.x, 2.x or 1.x layout."""
    sections = {
        "completion": ("completion_models", "default_completion_model", "default_chat_model", "llm"),
        "embedding": ("embedding_models", "default_embedding_model", "default_embedding_model", "embeddings"),
    }[kind]
    group, name3, name2, legacy = sections
    for candidate in (
        (theirs.get(group) or {}).get(name3),
        (theirs.get("models") or {}).get(name2),
        (theirs.get(legacy) or {}).get("llm") if legacy == "embeddings" else theirs.get(legacy),
    ):
        if isinstance(candidate, dict):
            return candidate
    return {}


def translate_settings(theirs: dict[str, Any], offline: bool) -> tuple[dict[str, Any], list[str]]:
    """Our settings.yaml from theirs, and notes on what was not carried over. Keys are never copied."""
    notes: list[str] = []
    ours: dict[str, Any] = {"method": "standard"}
    chat, embed = _model_section(theirs, "completion"), _model_section(theirs, "embedding")

    def key_of(section: dict[str, Any], what: str) -> str | None:
        key = section.get("api_key")
        if not key:
            return None
        if isinstance(key, str) and _REFERENCE.match(key.strip()):
            return key.strip()
        notes.append(
            f"their {what} api_key is written in clear in settings.yaml: not copied (set GRAPHRAG_API_KEY)"
        )
        return "${GRAPHRAG_API_KEY}"

    if chat and not offline:
        llm = {"model": chat.get("model"), "api_base": chat.get("api_base"), "api_key": key_of(chat, "chat")}
        ours["llm"] = {k: v for k, v in llm.items() if v}
    if embed and not offline:
        embeddings = {
            "provider": "openai",
            "model": embed.get("model"),
            "api_base": embed.get("api_base"),
            "api_key": key_of(embed, "embedding"),
        }
        ours["embeddings"] = {k: v for k, v in embeddings.items() if v}
    chunking = theirs.get("chunking") or theirs.get("chunks") or {}
    if chunking.get("size"):
        ours["chunks"] = {"size": int(chunking["size"]), "overlap": int(chunking.get("overlap") or 0)}
    extract = theirs.get("extract_graph") or theirs.get("entity_extraction") or {}
    if extract.get("entity_types"):
        ours["extraction"] = {"entity_types": list(extract["entity_types"])}
    if (theirs.get("extract_claims") or theirs.get("claim_extraction") or {}).get("enabled"):
        notes.append("claim extraction (extract_claims) has no counterpart here yet: not carried over")
    if offline:
        notes.append("--offline: no LLM settings written; vectors are embedded with the local model")
    return ours, notes


def _write_ids(output: Path, rows: list[dict[str, Any]]) -> None:
    table = pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [
                pa.field("table", pa.string(), nullable=False),
                pa.field("id", pa.string(), nullable=False),
                pa.field("graphrag_id", pa.string(), nullable=False),
                pa.field("human_readable_id", pa.int64(), nullable=False),
            ]
        ),
    )
    pq.write_table(table, output / IDS_TABLE, compression="zstd")


def read_graphrag_ids(output: Path) -> dict[str, tuple[str, int]]:
    """Our id -> (GraphRAG id, human_readable_id) for an imported index; empty for any other."""
    path = Path(output) / IDS_TABLE
    if not path.is_file():
        return {}
    rows = pq.read_table(path).to_pylist()
    return {str(r["id"]): (str(r["graphrag_id"]), int(r["human_readable_id"])) for r in rows}


def _their_vectors(source: Path, result: ImportResult) -> dict[str, dict[str, list[float]]] | None:
    """Their vectors keyed by our ids, or None when they cannot be reused (say why in the log)."""
    db_dir = output_folder(source) / "lancedb"  # beside the tables the import read
    if not db_dir.is_dir():
        return None
    import lancedb

    their_ids = {(row["table"], row["graphrag_id"]): row["id"] for row in result.id_rows}
    found: dict[str, dict[str, list[float]]] = {}
    db = lancedb.connect(str(db_dir))
    names = set(db.list_tables().tables)
    for name, ours in THEIR_VECTORS.items():
        if name not in names:
            log.info("their vector table %s is missing: %s will be embedded here", name, ours)
            return None
        data = db.open_table(name).to_arrow().select(["id", "vector"]).to_pylist()
        table = {}
        for row in data:
            key = their_ids.get((ours, str(row["id"])))
            if key is None and ours == "community_reports":  # 1.x keyed reports by community number
                key = result.community_report_ids.get(str(row["id"]))
            if key is not None:
                table[key] = list(row["vector"])
        found[ours] = table
    return found


def import_index(
    source: Path,
    root: Path,
    *,
    offline: bool = False,
    force: bool = False,
    embedder_factory: Callable[[Settings], Embedder] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import the GraphRAG project or output folder ``source`` into the project ``root``."""
    started = time.perf_counter()
    source, root = Path(source).resolve(), Path(root).resolve()
    result = read_graphrag_output(source)  # every table read and joined before anything is written
    if (root / "output").exists() and any((root / "output").iterdir()) and not force:
        raise ConfigError(
            f"{root / 'output'} already holds an index. Import into a new folder, or pass --force to "
            "replace it."
        )
    theirs = _their_settings(source)
    ours, notes = translate_settings(theirs, offline)
    staging = root.parent / f".{root.name}.import-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        theirs_model = _model_section(theirs, "embedding").get("model")
        report = _write_project(
            source, staging, result, ours, theirs_model, offline, embedder_factory, on_progress
        )
        report.notes = result.notes + notes + report.notes
        report.seconds = round(time.perf_counter() - started, 2)
        report.source, report.root = str(source), str(root)
        atomic_write_json(
            staging / "output" / "stats.json",
            {"workflow": IMPORTED_WORKFLOW, "steps": {}, "imported": report.as_dict()},
        )
        root.mkdir(parents=True, exist_ok=True)
        for child in sorted(staging.iterdir()):  # move in: settings, prompts, input, output
            target = root / child.name
            if target.exists():
                if child.name == "settings.yaml" and not force:
                    (root / "settings.imported.yaml").unlink(missing_ok=True)
                    child.rename(root / "settings.imported.yaml")
                    report.notes.append(
                        "settings.yaml exists: the translated settings are in settings.imported.yaml"
                    )
                    continue
                shutil.rmtree(target) if target.is_dir() else target.unlink()
            child.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def _write_project(
    source: Path,
    staging: Path,
    result: ImportResult,
    ours: dict[str, Any],
    theirs_model: str | None,
    offline: bool,
    embedder_factory: Callable[[Settings], Embedder] | None,
    on_progress: Callable[[int, int], None] | None,
) -> ImportReport:
    output = staging / "output"
    output.mkdir(parents=True)
    (staging / "settings.yaml").write_text(
        "# Translated from a Microsoft GraphRAG project by `graphrag-lite import`.\n"
        "# See docs/migrating-from-graphrag.md.\n" + yaml.safe_dump(ours, sort_keys=False),
        encoding="utf-8",
    )
    project = _project_root(source)
    if (project / "prompts").is_dir():  # kept for reference: their placeholders differ from ours
        shutil.copytree(project / "prompts", staging / "prompts" / "graphrag")
    if (project / "input").is_dir() and project != source / "output":
        shutil.copytree(project / "input", staging / "input", symlinks=True)
    tables: dict[str, list[Any]] = {
        "documents": result.documents,
        "text_units": result.text_units,
        "entities": result.entities,
        "relationships": result.relationships,
        "communities": result.communities,
        "community_reports": result.reports,
    }
    for name, records in tables.items():
        write_table(output, name, records)
    _write_ids(output, result.id_rows)
    settings = load_settings(staging)
    if offline:
        settings.llm.api_key = None
        settings.llm.api_base = None
    vectors = _vectors(source, theirs_model, result, settings, output, embedder_factory, on_progress)
    written = {name: len(records) for name, records in tables.items()}
    return ImportReport("", "", result.read, written, vectors, result.dropped)


def _vectors(
    source: Path,
    theirs_model: str | None,
    result: ImportResult,
    settings: Settings,
    output: Path,
    embedder_factory: Callable[[Settings], Embedder] | None,
    on_progress: Callable[[int, int], None] | None,
) -> str:
    """Reuse their vectors when the configured model is theirs; else embed here. Says which happened."""
    import asyncio

    import numpy as np

    from graphrag_lite.index.embed import embed_index, vector_rows
    from graphrag_lite.store.vectors import VectorStore

    layout = IndexLayout(output)
    model = settings.embeddings.model
    same_model = settings.embeddings.provider == "openai" and model == theirs_model
    reused = _their_vectors(source, result) if same_model else None
    titles = {d.id: d.title for d in result.documents}
    report_text = settings.embeddings.report_text
    rows = vector_rows(titles, {}, result.text_units, result.entities, result.reports, report_text)
    if reused is not None and all(len(reused[table]) == len(rows[table].ids) for table in rows):
        store = VectorStore(layout.lancedb)
        for table, found in rows.items():
            matrix = np.array([reused[table][i] for i in found.ids], dtype=np.float32)
            store.create(table, found.ids, found.texts, matrix, extra=found.extra, overwrite=True)
        layout.embedding_model.write_text(model, encoding="utf-8")
        layout.vectors_complete.write_text("imported", encoding="utf-8")
        dim = len(next(iter(reused["entities"].values()))) if reused["entities"] else 0
        return f"reused GraphRAG's vectors ({model}, {dim} dimensions): nothing embedded"
    if embedder_factory is None:
        raise ConfigError("No embedder to embed the imported index with.")
    count = sum(len(found.ids) for found in rows.values())
    log.warning("embedding %d texts with %s (GraphRAG's vectors were made by %s)", count, model, theirs_model)
    asyncio.run(
        embed_index(
            layout.lancedb,
            titles,
            {},
            result.text_units,
            result.entities,
            result.reports,
            embedder_factory(settings),
            batch_size=settings.embeddings.batch_size,
            on_progress=on_progress,
            report_text=settings.embeddings.report_text,
        )
    )
    why = f"GraphRAG used {theirs_model}" if theirs_model else "GraphRAG's embedding model is unknown"
    return f"embedded {count} texts with {model} ({why})"
