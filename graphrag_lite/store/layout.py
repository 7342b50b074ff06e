"""Where an index lives on disk: every path and table name, in one place.

``output/`` holds the six tables (``<name>.parquet``), ``stats.json`` (the workflow state) and ``lancedb/``
(vectors; its ``.complete`` marker is written last by the embed step). ``output/work/`` holds intermediate
tables and the per-step item memos (``work/memo/<step>.parquet``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

TABLE_NAMES: tuple[str, ...] = (
    "documents",
    "text_units",
    "entities",
    "relationships",
    "communities",
    "community_reports",
)
# Tables an index may lack: indexes built before they existed still open, and read them as empty.
OPTIONAL_TABLES: tuple[str, ...] = ("unit_contexts",)
ALL_TABLES = TABLE_NAMES + OPTIONAL_TABLES
# vector table -> the Parquet table whose rows it embeds (same ids)
VECTOR_TABLES: dict[str, str] = {
    "text_units": "text_units",
    "entities": "entities",
    "community_reports": "community_reports",
}
STATS_FILE = "stats.json"
LANCEDB_DIR = "lancedb"
COMPLETE_MARKER = ".complete"
EMBEDDING_MODEL_FILE = ".embedding_model"
WORK_DIR = "work"


def table_path(directory: Path | str, name: str) -> Path:
    return Path(directory) / f"{name}.parquet"


def split_table(output_dir: Path, table: str) -> tuple[Path, str]:
    """``work/entities`` -> (output/work, "entities"); ``entities`` -> (output, "entities")."""
    if "/" in table:
        folder, name = table.rsplit("/", 1)
        return output_dir / folder, name
    return output_dir, table


def project_root(output_dir: Path) -> Path:
    """Best guess of the project root for messages: the folder above holding settings.yaml."""
    for candidate in (output_dir.parent, output_dir.parent.parent):
        if (candidate / "settings.yaml").is_file():
            return candidate
    return output_dir.parent


@dataclass(frozen=True)
class IndexLayout:
    """The paths of one index (its ``output`` folder)."""

    output: Path

    def table(self, name: str) -> Path:
        """A table file; ``work/<name>`` names an intermediate table."""
        directory, base = split_table(self.output, name)
        return table_path(directory, base)

    @property
    def stats(self) -> Path:
        return self.output / STATS_FILE

    @property
    def lancedb(self) -> Path:
        return self.output / LANCEDB_DIR

    @property
    def vectors_complete(self) -> Path:
        """Written last by the embed step: vectors without it are missing or half-written."""
        return self.lancedb / COMPLETE_MARKER

    @property
    def embedding_model(self) -> Path:
        return self.lancedb / EMBEDDING_MODEL_FILE

    def memo(self, step: str) -> Path:
        return self.output / WORK_DIR / "memo" / f"{step}.parquet"
