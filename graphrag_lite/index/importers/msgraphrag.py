"""Read a Microsoft GraphRAG output folder (1.x-3.x Parquet tables) and map it onto this project's records.

Nothing is recomputed and no model is called: documents, text units, entities, relationships, the community
hierarchy and the reports are taken as they are. Records get this project's deterministic ids (so the rest
of the engine treats them like its own); GraphRAG's ids and ``human_readable_id``s are kept beside them in the
``graphrag_ids`` table, so a user can cross-check any citation with what GraphRAG printed.

Supported layouts: 2.x and 3.x (``entities.parquet``, ``communities.parquet`` ...) and 1.x
(``create_final_entities.parquet`` ...). What cannot be mapped is said, never silently dropped: claims
(``covariates``) are not supported yet and are counted as dropped.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from graphrag_lite.errors import InputError
from graphrag_lite.store import ids
from graphrag_lite.store.records import (
    Community,
    CommunityReport,
    Document,
    Entity,
    Finding,
    Relationship,
    TextUnit,
)

log = logging.getLogger(__name__)

SUPPORTED = "Microsoft GraphRAG 1.x, 2.x and 3.x"
# Our table -> their file names, newest first.
FILES: dict[str, tuple[str, ...]] = {
    "documents": ("documents", "create_final_documents"),
    "text_units": ("text_units", "create_final_text_units"),
    "entities": ("entities", "create_final_entities"),
    "relationships": ("relationships", "create_final_relationships"),
    "communities": ("communities", "create_final_communities"),
    "community_reports": ("community_reports", "create_final_community_reports"),
}
OPTIONAL_FILES = {"covariates": ("covariates", "create_final_covariates")}
# Columns an import cannot do without, per table (others are optional and filled in).
REQUIRED: dict[str, tuple[str, ...]] = {
    "documents": ("id", "title", "text"),
    "text_units": ("id", "text", "document_id"),
    "entities": ("id", "title", "description"),
    "relationships": ("id", "source", "target", "description"),
    "communities": ("community", "level", "entity_ids"),
    "community_reports": ("community", "level", "title", "summary", "full_content"),
}


class GraphRAGImportError(InputError):
    """The source is not a GraphRAG output this importer can read; the message names what is wrong."""


@dataclass
class ImportResult:
    """The mapped records, GraphRAG's ids beside ours, and what was read, mapped and dropped."""

    documents: list[Document]
    text_units: list[TextUnit]
    entities: list[Entity]
    relationships: list[Relationship]
    communities: list[Community]
    reports: list[CommunityReport]
    id_rows: list[dict[str, Any]]  # table, id (ours), graphrag_id, human_readable_id
    read: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)  # what -> why
    notes: list[str] = field(default_factory=list)
    report_ids: dict[str, str] = field(default_factory=dict)  # their report id -> ours (vectors join on it)
    community_report_ids: dict[str, str] = field(default_factory=dict)  # their community number -> our report


def output_folder(source: Path) -> Path:
    """The folder holding the tables: ``source`` itself or its ``output/`` (a project root)."""
    for folder in (source, source / "output"):
        if any(
            (folder / f"{names[0]}.parquet").is_file() or (folder / f"{names[1]}.parquet").is_file()
            for names in FILES.values()
        ):
            return folder
    if not source.exists():
        raise GraphRAGImportError(f"{source} does not exist.")
    raise GraphRAGImportError(
        f"{source} is not a GraphRAG output folder: none of its tables (entities.parquet, "
        "community_reports.parquet, ...) is there or in its output/ folder. Point at the project root or its "
        "output folder."
    )


def _read(folder: Path, table: str, names: tuple[str, ...], required: bool = True) -> list[dict[str, Any]]:
    for name in names:
        path = folder / f"{name}.parquet"
        if path.is_file():
            break
    else:
        if not required:
            return []
        raise GraphRAGImportError(
            f"{folder} has no {names[0]}.parquet (nor {names[1]}.parquet): the GraphRAG output is missing "
            f"its {table} table. Was the index run to the end? (`graphrag index` writes it.)"
        )
    try:
        data = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise GraphRAGImportError(
            f"{path} is not a readable Parquet file ({exc}): the output may be half-written. Run "
            "`graphrag index` to the end, or copy the folder again."
        ) from exc
    missing = [c for c in REQUIRED.get(table, ()) if c not in data.column_names]
    if missing:
        raise GraphRAGImportError(
            f"{path} has no column {', '.join(repr(c) for c in missing)} (it has: "
            f"{', '.join(data.column_names)}). This importer reads {SUPPORTED} outputs."
        )
    return list(data.to_pylist())


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):  # some versions wrote lists as JSON text
        try:
            parsed = json.loads(value)
        except ValueError:
            return [value]
        return list(parsed) if isinstance(parsed, list) else [parsed]
    return list(value)


def _hrid(row: dict[str, Any]) -> int:
    value = row.get("human_readable_id")
    try:
        return int(value) if value is not None else -1
    except (TypeError, ValueError):
        return -1


def _join(what: str, missing: list[str], table: str) -> None:
    if missing:
        raise GraphRAGImportError(
            f"{len(missing)} {what} id(s) in {table} do not exist (for example {missing[0]}): the tables do "
            "not join, so the output is half-written or mixes two runs. Run `graphrag index` again."
        )


class _Mapper:
    """Their ids -> ours, table by table, and the rows of the ``graphrag_ids`` table."""

    def __init__(self) -> None:
        self.ids: dict[str, dict[str, str]] = defaultdict(dict)  # table -> their id -> ours
        self.rows: list[dict[str, Any]] = []

    def keep(self, table: str, ours: str, row: dict[str, Any], theirs: str | None = None) -> None:
        graphrag_id = str(row["id"]) if theirs is None else theirs
        self.ids[table][graphrag_id] = ours
        hrid = _hrid(row)
        self.rows.append({"table": table, "id": ours, "graphrag_id": graphrag_id, "human_readable_id": hrid})

    def each(self, table: str, values: Any, where: str, *, strict: bool = True) -> list[str]:
        """Our ids for a list of theirs; with ``strict``, an id that does not exist is an error."""
        known = self.ids[table]
        found = [str(v) for v in _list(values)]
        if strict:
            _join(table.rstrip("s").replace("_", " "), [v for v in found if v not in known], where)
        return list(dict.fromkeys(known[v] for v in found if v in known))


def _documents(rows: list[dict[str, Any]], mapper: _Mapper) -> list[Document]:
    documents: list[Document] = []
    for row in sorted(rows, key=_hrid):
        text = str(row["text"] or "")
        sha = ids.content_hash(text)
        ours = ids.document_id(sha)
        title = str(row["title"] or ours)
        documents.append(Document(ours, title, title, text, sha, {"graphrag_id": str(row["id"])}))
        mapper.keep("documents", ours, row)
    return documents


def _text_units(rows: list[dict[str, Any]], documents: list[Document], mapper: _Mapper) -> list[TextUnit]:
    """Numbered per document in GraphRAG's order and located in the document's text."""
    doc_ids = mapper.ids["documents"]
    unknown = [str(r["document_id"]) for r in rows if str(r["document_id"]) not in doc_ids]
    _join("document", unknown, "text_units")
    by_doc: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in sorted(rows, key=_hrid):
        by_doc[doc_ids[str(row["document_id"])]].append(row)
    units: list[TextUnit] = []
    for doc in documents:
        cursor = 0
        for index, row in enumerate(by_doc.get(doc.id, [])):
            text = str(row["text"] or "")
            ours = ids.text_unit_id(doc.id, index, text)
            start = doc.text.find(text, max(0, cursor - len(text)))
            start = start if start >= 0 else cursor
            cursor = start + len(text)
            tokens = int(row.get("n_tokens") or 0)
            units.append(TextUnit(ours, doc.id, index, text, tokens, start_char=start, end_char=cursor))
            doc.text_unit_ids.append(ours)
            mapper.keep("text_units", ours, row)
    return units


def _entities(rows: list[dict[str, Any]], mapper: _Mapper) -> list[Entity]:
    """Keyed by normalised title here: two of theirs that differ only in case or spacing become one."""
    entities: dict[str, Entity] = {}
    for row in sorted(rows, key=_hrid):
        title = str(row["title"] or "").strip()
        if not title:
            continue
        ours = ids.entity_id(title)
        mapper.keep("entities", ours, row)
        units = mapper.each("text_units", row.get("text_unit_ids"), "entities")
        if ours in entities:
            same = entities[ours]
            same.text_unit_ids = list(dict.fromkeys(same.text_unit_ids + units))
            continue
        kind = str(row.get("type") or "").lower()
        frequency, degree = int(row.get("frequency") or 0), int(row.get("degree") or 0)
        description = str(row["description"] or "")
        entities[ours] = Entity(ours, title, kind, description, [], [], units, frequency, degree)
    return list(entities.values())


def _relationships(
    rows: list[dict[str, Any]], entities: list[Entity], mapper: _Mapper
) -> tuple[list[Relationship], int]:
    """Undirected here: A->B and B->A become one edge (weights added, descriptions joined)."""
    titles = {ids.normalize_title(e.title) for e in entities}
    ends = [
        f"{r['source']} -- {r['target']}"
        for r in rows
        if not {ids.normalize_title(str(r["source"])), ids.normalize_title(str(r["target"]))} <= titles
    ]
    _join("entity title", ends, "relationships")
    edges: dict[str, Relationship] = {}
    joined = 0
    for row in sorted(rows, key=_hrid):
        a, b = sorted((str(row["source"]), str(row["target"])), key=lambda t: (ids.normalize_title(t), t))
        ours = ids.relationship_id(a, b)
        mapper.keep("relationships", ours, row)
        units = mapper.each("text_units", row.get("text_unit_ids"), "relationships")
        weight, description = float(row.get("weight") or 1.0), str(row["description"] or "")
        if ours in edges:
            joined += 1
            edge = edges[ours]
            edge.weight += weight
            edge.description = f"{edge.description}\n{description}"
            edge.text_unit_ids = list(dict.fromkeys(edge.text_unit_ids + units))
            continue
        degree = int(row.get("combined_degree") or 0)
        edges[ours] = Relationship(ours, a, b, description, weight, units, degree)
    return list(edges.values()), joined


def read_graphrag_output(source: Path) -> ImportResult:
    """Read and map every table of the GraphRAG output at ``source`` (a project root or its output)."""
    folder = output_folder(source)
    rows = {table: _read(folder, table, names) for table, names in FILES.items()}
    covariates = _read(folder, "covariates", OPTIONAL_FILES["covariates"], required=False)
    mapper = _Mapper()
    documents = _documents(rows["documents"], mapper)
    units = _text_units(rows["text_units"], documents, mapper)
    entities = _entities(rows["entities"], mapper)
    relationships, joined = _relationships(rows["relationships"], entities, mapper)
    by_id = {u.id: u for u in units}
    for row in rows["text_units"]:
        unit = by_id[mapper.ids["text_units"][str(row["id"])]]
        unit.entity_ids = mapper.each("entities", row.get("entity_ids"), "text_units", strict=False)
        links = row.get("relationship_ids")
        unit.relationship_ids = mapper.each("relationships", links, "text_units", strict=False)
    communities, numbers = _communities(rows["communities"], mapper)
    reports, by_number = _reports(rows["community_reports"], numbers, mapper)
    result = ImportResult(
        documents,
        units,
        entities,
        relationships,
        communities,
        reports,
        mapper.rows,
        read={table: len(table_rows) for table, table_rows in rows.items()},
        report_ids=dict(mapper.ids["community_reports"]),
        community_report_ids=by_number,
    )
    if covariates:
        result.read["covariates"] = len(covariates)
        result.dropped[f"{len(covariates)} claims (covariates)"] = "claims are not supported here yet"
    if joined:
        result.notes.append(f"{joined} relationship(s) given in both directions were joined into one edge")
    merged = len(rows["entities"]) - len(entities)
    if merged:
        result.notes.append(f"{merged} entities whose titles differ only in case or spacing were joined")
    return result


def _communities(rows: list[dict[str, Any]], mapper: _Mapper) -> tuple[list[Community], dict[int, str]]:
    """The hierarchy as it is: our ids from level and members, parent and children from theirs."""
    numbers: dict[int, str] = {}
    members: dict[int, list[str]] = {}
    for row in rows:
        number = int(row["community"])
        members[number] = mapper.each("entities", row["entity_ids"], "communities", strict=False)
        numbers[number] = ids.community_id(int(row["level"]), members[number] or [str(number)])
    communities: list[Community] = []
    for row in sorted(rows, key=lambda r: (int(r["level"]), int(r["community"]))):
        number = int(row["community"])
        parent = row.get("parent")
        parent_id = numbers.get(int(parent)) if parent is not None and int(parent) >= 0 else None
        children = [numbers[int(c)] for c in _list(row.get("children")) if int(c) in numbers]
        community = Community(
            numbers[number],
            int(row["level"]),
            parent_id,
            children,
            members[number],
            mapper.each("relationships", row.get("relationship_ids"), "communities", strict=False),
            mapper.each("text_units", row.get("text_unit_ids"), "communities"),
            len(members[number]),
        )
        communities.append(community)
        mapper.keep("communities", community.id, row, str(row.get("id") or number))
    return communities, numbers


def _findings(value: Any) -> list[Finding]:
    out: list[Finding] = []
    for item in _list(value):
        if isinstance(item, dict):
            out.append(Finding(str(item.get("summary") or ""), str(item.get("explanation") or "")))
    return out


def _reports(
    rows: list[dict[str, Any]], numbers: dict[int, str], mapper: _Mapper
) -> tuple[list[CommunityReport], dict[str, str]]:
    """Reports as they are (not rewritten); also their community number -> our report id."""
    reports: list[CommunityReport] = []
    by_number: dict[str, str] = {}
    unknown = [str(r["community"]) for r in rows if int(r["community"]) not in numbers]
    _join("community", unknown, "community_reports")
    for row in sorted(rows, key=lambda r: (int(r["level"]), int(r["community"]))):
        community_id = numbers[int(row["community"])]
        ours = ids.report_id(community_id)
        report = CommunityReport(
            ours,
            community_id,
            int(row["level"]),
            str(row["title"] or ""),
            str(row["summary"] or ""),
            _findings(row.get("findings")),
            float(row.get("rank") or row.get("rating") or 0.0),
            str(row.get("rating_explanation") or row.get("rank_explanation") or ""),
            str(row["full_content"] or ""),
            method="llm",
        )
        reports.append(report)
        by_number[str(row["community"])] = ours
        mapper.keep("community_reports", ours, row, str(row.get("id") or row["community"]))
    return reports, by_number
