"""The one way to open an index: its tables, graph, vectors and run state, with errors that say what to run.

Query (``IndexData``), export, viz, ``stats`` and ``update`` all read through :class:`IndexReader`, so a
missing or half-built index is reported the same way everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphrag_lite.errors import ConfigError, IndexNotFoundError
from graphrag_lite.store.atomic import read_json
from graphrag_lite.store.layout import VECTOR_TABLES, IndexLayout, project_root
from graphrag_lite.store.objectstore import ObjectStoreIndex, is_remote

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from fsspec import AbstractFileSystem

    from graphrag_lite.store.vectors import VectorStore


class IndexReader:
    """Read access to the index in ``output_dir`` (nothing is loaded until asked for).

    ``output_dir`` may be an object-store URI (``storage.base_dir``): the reader then opens the version its
    manifest names when the reader is made, and reads only that version's files (store/objectstore.py).
    """

    def __init__(self, output_dir: Path | str, root: Path | None = None) -> None:
        self.fs: AbstractFileSystem | None = None
        self.version: str | None = None
        if is_remote(output_dir):
            store = ObjectStoreIndex(str(output_dir))
            manifest = store.require()
            self.fs, self.version = store.fs, manifest.version
            self._base = store.version_path(manifest.version)
            self.output: Path | str = store.version_uri(manifest.version)
            self.root = root if root is not None else Path(".")
        else:
            self.output = Path(output_dir)
            self._base = str(self.output)
            self.root = root if root is not None else project_root(self.output)
        # relative paths of every file, joined to the local folder or the version's store path
        self.layout = IndexLayout(Path("."))

    def _where(self, relative: Path) -> str:
        return self._base if relative == Path(".") else f"{self._base}/{relative.as_posix()}"

    def _exists(self, relative: Path) -> bool:
        if self.fs is not None:
            return bool(self.fs.exists(self._where(relative)))
        return Path(self._where(relative)).is_file()

    def _text(self, relative: Path) -> str | None:
        """A small file's text, None when it does not exist."""
        try:
            if self.fs is not None:
                return bytes(self.fs.cat_file(self._where(relative))).decode("utf-8")
            return Path(self._where(relative)).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def has(self, name: str) -> bool:
        return self._exists(self.layout.table(name))

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
        from graphrag_lite.store.tables import arrow_to_records

        return arrow_to_records(name.rsplit("/", 1)[-1], self.arrow(name))

    def arrow(self, name: str) -> pa.Table:
        from graphrag_lite.store.layout import split_table
        from graphrag_lite.store.tables import read_arrow

        directory, base = split_table(Path("."), name)
        return read_arrow(self._where(directory), base, filesystem=self.fs)

    def records_if_exists(self, name: str) -> list[Any]:
        return self.records(name) if self.has(name) else []

    def frame(self, name: str) -> pd.DataFrame:
        frame: pd.DataFrame = self.arrow(name).to_pandas()
        return frame

    def stats(self) -> dict[str, Any]:
        """The workflow state (``stats.json``); empty before the first run."""
        if self.fs is None:
            state: dict[str, Any] = read_json(self._where(self.layout.stats), {})
            return state
        text = self._text(self.layout.stats)
        return {} if text is None else dict(json.loads(text))

    def vectors(self, model: str | None = None) -> VectorStore:
        """The vector store, once the embed step has finished (it writes its completion marker last).
        With ``model``: only if the index was embedded by that model (question and index vectors must
        come from one model)."""
        from graphrag_lite.store.vectors import VectorStore

        db_dir = self._where(self.layout.lancedb)
        stored = self._text(self.layout.embedding_model)
        if model is not None and stored is not None and stored != model:
            raise ConfigError(
                f"The index in {self.output} was embedded with '{stored}', but embeddings.model is "
                f"'{model}'. Run `graphrag-lite index --root {self.root}` to re-embed it (only the embed "
                "step runs), or set embeddings.model back in settings.yaml."
            )
        if not self._exists(self.layout.vectors_complete):
            raise IndexNotFoundError(
                f"The index is incomplete: its embeddings in {db_dir} are missing or were interrupted. Run "
                f"`graphrag-lite index --root {self.root}` again (it resumes and only redoes the embeddings)."
            )
        store = VectorStore(db_dir if self.fs is None else f"{self.output}/{self.layout.lancedb.as_posix()}")
        missing = [table for table in VECTOR_TABLES if not store.has_table(table)]
        if missing:  # the embed step writes all three before its marker: something removed them since
            raise IndexNotFoundError(
                f"The index is damaged: vector table(s) {', '.join(missing)} are missing from {db_dir}. "
                f"Delete that folder and run `graphrag-lite index --root {self.root}` (it redoes only the "
                "embeddings)."
            )
        return store
