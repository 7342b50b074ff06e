"""The one way to open an index: its tables, graph, vectors and run state, with errors that say what to run.

Query (``IndexData``), export, viz, ``stats`` and ``update`` all read through :class:`IndexReader`, so a
missing or half-built index is reported the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphrag_lite.errors import ConfigError, IndexNotFoundError
from graphrag_lite.store.atomic import read_json
from graphrag_lite.store.layout import VECTOR_TABLES, IndexLayout, project_root

if TYPE_CHECKING:
    import pandas as pd

    from graphrag_lite.store.vectors import VectorStore


class IndexReader:
    """Read access to the index in ``output_dir`` (nothing is loaded until asked for)."""

    def __init__(self, output_dir: Path | str, root: Path | None = None) -> None:
        self.layout = IndexLayout(Path(output_dir))
        self.output = self.layout.output
        self.root = root if root is not None else project_root(self.output)

    def has(self, name: str) -> bool:
        return self.layout.table(name).is_file()

    def require(self, names: Sequence[str], what: str = "index") -> None:
        """Raise IndexNotFoundError (saying what to run) unless every table in ``names`` exists."""
        missing = [name for name in names if not self.has(name)]
        if len(missing) == len(names):
            raise IndexNotFoundError(
                f"No {what} found in {self.output}. Build it first: `graphrag-lite index --root {self.root}`."
            )
        if missing:
            raise IndexNotFoundError(
                f"The {what} in {self.output} is incomplete (missing: {', '.join(missing)}): run "
                f"`graphrag-lite index --root {self.root}` again (it resumes where it stopped)."
            )

    def records(self, name: str) -> list[Any]:
        """The table's records (its dataclass of :mod:`.records`); ``work/<name>`` for intermediate ones."""
        from graphrag_lite.store.layout import split_table
        from graphrag_lite.store.tables import read_records

        return read_records(*split_table(self.output, name))

    def records_if_exists(self, name: str) -> list[Any]:
        return self.records(name) if self.has(name) else []

    def frame(self, name: str) -> pd.DataFrame:
        from graphrag_lite.store.tables import read_table

        return read_table(self.output, name)

    def stats(self) -> dict[str, Any]:
        """The workflow state (``stats.json``); empty before the first run."""
        state: dict[str, Any] = read_json(self.layout.stats, {})
        return state

    def vectors(self, model: str | None = None) -> VectorStore:
        """The vector store, once the embed step has finished (it writes its completion marker last).
        With ``model``: only if the index was embedded by that model (question and index vectors must
        come from one model)."""
        from graphrag_lite.store.vectors import VectorStore

        db_dir = self.layout.lancedb
        stored = self.layout.embedding_model
        if model is not None and stored.is_file() and stored.read_text(encoding="utf-8") != model:
            raise ConfigError(
                f"The index in {self.output} was embedded with '{stored.read_text(encoding='utf-8')}', but "
                f"embeddings.model is '{model}'. Run `graphrag-lite index --root {self.root}` to re-embed it "
                "(only the embed step runs), or set embeddings.model back in settings.yaml."
            )
        if not self.layout.vectors_complete.is_file():
            raise IndexNotFoundError(
                f"The index is incomplete: its embeddings in {db_dir} are missing or were interrupted. Run "
                f"`graphrag-lite index --root {self.root}` again (it resumes and only redoes the embeddings)."
            )
        store = VectorStore(db_dir)
        missing = [table for table in VECTOR_TABLES if not store.has_table(table)]
        if missing:  # the embed step writes all three before its marker: something removed them since
            raise IndexNotFoundError(
                f"The index is damaged: vector table(s) {', '.join(missing)} are missing from {db_dir}. "
                f"Delete that folder and run `graphrag-lite index --root {self.root}` (it redoes only the "
                "embeddings)."
            )
        return store
