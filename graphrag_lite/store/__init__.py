"""Storage: records, ids, Parquet tables, atomic writes, LanceDB vectors and the networkx graph.

Names are re-exported lazily (PEP 562): ``import graphrag_lite.store.records`` must not pull in pandas,
pyarrow and networkx (about a second of start-up for every CLI command).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graphrag_lite.store.atomic import (
        atomic_write,
        atomic_write_bytes,
        atomic_write_json,
        atomic_write_text,
        read_json,
    )
    from graphrag_lite.store.graph import build_graph, compute_degrees, export_graphml, graphml_ready
    from graphrag_lite.store.records import (
        Community,
        CommunityReport,
        Document,
        Entity,
        Finding,
        Relationship,
        TextUnit,
    )
    from graphrag_lite.store.tables import (
        RECORD_TYPES,
        REQUIRED_COLUMNS,
        SCHEMAS,
        TABLE_NAMES,
        read_arrow,
        read_records,
        read_table,
        records_to_table,
        table_exists,
        table_path,
        write_table,
    )
    from graphrag_lite.store.vectors import VectorHit, VectorStore

__all__ = [
    "RECORD_TYPES",
    "REQUIRED_COLUMNS",
    "SCHEMAS",
    "TABLE_NAMES",
    "Community",
    "CommunityReport",
    "Document",
    "Entity",
    "Finding",
    "Relationship",
    "TextUnit",
    "VectorHit",
    "VectorStore",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "build_graph",
    "compute_degrees",
    "export_graphml",
    "graphml_ready",
    "read_arrow",
    "read_json",
    "read_records",
    "read_table",
    "records_to_table",
    "table_exists",
    "table_path",
    "write_table",
]

_MODULES: dict[str, tuple[str, ...]] = {
    "atomic": ("atomic_write", "atomic_write_bytes", "atomic_write_json", "atomic_write_text", "read_json"),
    "graph": ("build_graph", "compute_degrees", "export_graphml", "graphml_ready"),
    "records": ("Community", "CommunityReport", "Document", "Entity", "Finding", "Relationship", "TextUnit"),
    "tables": (
        "RECORD_TYPES",
        "REQUIRED_COLUMNS",
        "SCHEMAS",
        "TABLE_NAMES",
        "read_arrow",
        "read_records",
        "read_table",
        "records_to_table",
        "table_exists",
        "table_path",
        "write_table",
    ),
    "vectors": ("VectorHit", "VectorStore"),
}
_MODULE_OF = {name: module for module, names in _MODULES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'graphrag_lite.store' has no attribute '{name}'")
    value = getattr(import_module(f"graphrag_lite.store.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
