"""Referential integrity of an index: every id a table refers to exists, and LanceDB mirrors the tables.

An incremental update deletes documents, text units, entities and communities; a reference left pointing at
one of them would surface later as a missing citation or a query error. :func:`dangling_references` lists
every such reference, so tests (and a cautious user) can check an index after any number of updates.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from graphrag_lite.store.layout import TABLE_NAMES, VECTOR_TABLES, IndexLayout
from graphrag_lite.store.tables import read_records, table_exists
from graphrag_lite.store.vectors import VectorStore


def _missing(where: str, refs: Iterable[str | None], known: set[str]) -> list[str]:
    return [f"{where} -> {ref}" for ref in refs if ref is not None and ref not in known]


def dangling_references(output_dir: Path) -> list[str]:
    """Human-readable problems ("entities[<id>].text_unit_ids -> <missing id>"); empty when consistent."""
    tables = {
        name: read_records(output_dir, name) if table_exists(output_dir, name) else [] for name in TABLE_NAMES
    }
    ids = {name: {r.id for r in records} for name, records in tables.items()}
    titles = {e.title for e in tables["entities"]}
    problems: list[str] = []
    for doc in tables["documents"]:
        problems += _missing(f"documents[{doc.id}].text_unit_ids", doc.text_unit_ids, ids["text_units"])
    for unit in tables["text_units"]:
        where = f"text_units[{unit.id}]"
        problems += _missing(f"{where}.document_id", [unit.document_id], ids["documents"])
        problems += _missing(f"{where}.entity_ids", unit.entity_ids, ids["entities"])
        problems += _missing(f"{where}.relationship_ids", unit.relationship_ids, ids["relationships"])
    for entity in tables["entities"]:
        problems += _missing(f"entities[{entity.id}].text_unit_ids", entity.text_unit_ids, ids["text_units"])
    for rel in tables["relationships"]:
        where = f"relationships[{rel.id}]"
        problems += _missing(f"{where}.source/target", [rel.source, rel.target], titles)
        problems += _missing(f"{where}.text_unit_ids", rel.text_unit_ids, ids["text_units"])
    for community in tables["communities"]:
        where = f"communities[{community.id}]"
        problems += _missing(f"{where}.parent", [community.parent], ids["communities"])
        problems += _missing(f"{where}.children", community.children, ids["communities"])
        problems += _missing(f"{where}.entity_ids", community.entity_ids, ids["entities"])
        problems += _missing(f"{where}.relationship_ids", community.relationship_ids, ids["relationships"])
        problems += _missing(f"{where}.text_unit_ids", community.text_unit_ids, ids["text_units"])
    for report in tables["community_reports"]:
        where = f"community_reports[{report.id}].community_id"
        problems += _missing(where, [report.community_id], ids["communities"])
    problems += _vector_problems(IndexLayout(output_dir).lancedb, ids)
    return problems


def _vector_problems(db_dir: Path, ids: dict[str, set[str]]) -> list[str]:
    store = VectorStore(db_dir)
    problems: list[str] = []
    for vector_table, table in VECTOR_TABLES.items():
        if not store.has_table(vector_table):
            if ids[table]:
                problems.append(f"lancedb: table {vector_table} is missing")
            continue
        stored = store.ids(vector_table)
        problems += [f"lancedb {vector_table} -> {i} (no such record)" for i in sorted(stored - ids[table])]
        problems += [f"lancedb {vector_table}: no vector for {i}" for i in sorted(ids[table] - stored)]
    return problems
