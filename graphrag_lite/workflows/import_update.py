"""``update`` of an index imported from Microsoft GraphRAG: added, changed and deleted files of ``input/``
go through this project's pipeline and are merged into the imported graph, whose hierarchy is kept.

GraphRAG keeps merged entities, not per-chunk extraction records, so the regular update (which re-merges
every chunk's records) cannot run on an import. Instead:

1. documents are compared with the imported ones by source path and text (a byte-order mark aside);
2. text units of new and changed documents are extracted (with the LLM when one is configured, else spaCy
   offline) and merged into the imported entities and relationships by title; units of changed and deleted
   documents are removed, and records left with no text unit go with them;
3. the imported communities are kept: a new entity joins, level by level, the community holding most of its
   neighbours; new entities with no neighbour in any community form new level-0 communities (one per
   connected group of two or more);
4. only communities whose members or members' records changed get a new report; every other report stays
   byte-for-byte GraphRAG's;
5. vectors are updated for new and changed rows only.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import networkx as nx

from graphrag_lite.config.settings import Settings
from graphrag_lite.models.base import ChatModel, Embedder
from graphrag_lite.store.atomic import atomic_write_json, read_json
from graphrag_lite.store.ids import community_id, entity_id, report_id
from graphrag_lite.store.layout import STATS_FILE, TABLE_NAMES, IndexLayout
from graphrag_lite.store.reader import IndexReader
from graphrag_lite.store.records import Community, CommunityReport, Document, Entity, Relationship, TextUnit
from graphrag_lite.store.tables import write_table
from graphrag_lite.workflows.runner import RunReport
from graphrag_lite.workflows.update import UpdateReport, document_changes, table_changes

log = logging.getLogger(__name__)


def _same_text(a: str, b: str) -> bool:
    return a.lstrip("\ufeff") == b.lstrip("\ufeff")


def _unchanged(imported: Document, loaded: Document, settings: Settings) -> bool:
    """Whether an input file still holds the text GraphRAG indexed. Our loader may clean text GraphRAG kept
    (a Project Gutenberg header, a byte-order mark), so the file's raw text counts too."""
    if _same_text(imported.text, loaded.text):
        return True
    path = settings.input_path / loaded.source
    try:
        raw = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError:
        return False
    return _same_text(imported.text.replace("\r\n", "\n"), raw.replace("\r\n", "\n"))


def _evidence(record: Entity | Relationship) -> tuple[Any, ...]:
    """What a report is written from (degrees aside: they move with edges elsewhere)."""
    if isinstance(record, Entity):
        return (record.title, record.type, record.description, tuple(record.text_unit_ids))
    return (record.source, record.target, record.description, record.weight, tuple(record.text_unit_ids))


async def _extract(
    units: list[TextUnit], settings: Settings, chat: ChatModel | None
) -> tuple[list[Entity], list[Relationship]]:
    """Entities and relationships of new text units, by this project's pipeline."""
    if not units:
        return [], []
    if chat is not None:
        from graphrag_lite.index.extract.llm import extract_graph
        from graphrag_lite.index.graph.merge import merge_graph
        from graphrag_lite.index.graph.summarize import summarize_descriptions

        raw = await extract_graph(units, chat, settings, settings.root)
        merged = merge_graph(
            raw.entities, raw.relationships, units, resolve=settings.extraction.resolve_aliases
        )
        await summarize_descriptions(merged.entities, merged.relationships, chat, settings, settings.root)
        return merged.entities, merged.relationships
    from graphrag_lite.index.extract.nlp import extract_graph_nlp
    from graphrag_lite.index.graph.prune import prune_graph

    found = extract_graph_nlp(units, settings)
    pruned = prune_graph(found.entities, found.relationships, settings, units)
    return pruned.entities, pruned.relationships


def _merge(old: Iterable[Any], new: Iterable[Any], gone_units: set[str]) -> list[Any]:
    """Old records without the removed text units (dropped when none is left), then the new ones merged in
    by id: text units added, a new description appended."""
    merged: dict[str, Any] = {}
    for record in old:
        units = [u for u in record.text_unit_ids if u not in gone_units]
        if units:
            merged[record.id] = replace(record, text_unit_ids=units)
    for record in new:
        if record.id not in merged:
            merged[record.id] = record
            continue
        kept = merged[record.id]
        kept.text_unit_ids = list(dict.fromkeys(kept.text_unit_ids + record.text_unit_ids))
        if record.description and record.description not in kept.description:
            kept.description = f"{kept.description}\n{record.description}".strip()
        if isinstance(kept, Relationship):
            kept.weight += record.weight
    for record in merged.values():
        if isinstance(record, Entity):
            record.frequency = len(record.text_unit_ids)
    return list(merged.values())


def _place_new_entities(
    communities: list[Community], new_ids: list[str], graph: nx.Graph
) -> tuple[list[Community], int]:
    """New entities join, level by level, the community holding most of their neighbours; the rest form new
    level-0 communities (one per connected group of two or more). Returns the communities and how many were
    made."""
    by_level: dict[int, list[Community]] = defaultdict(list)
    for community in communities:
        by_level[community.level].append(community)
    members = {c.id: set(c.entity_ids) for c in communities}
    homeless: list[str] = []
    for entity in new_ids:
        neighbours = set(graph.neighbors(entity)) if entity in graph else set()
        parent: str | None = None
        for level in sorted(by_level):
            candidates = [c for c in by_level[level] if level == min(by_level) or c.parent == parent]
            scored = [(len(neighbours & members[c.id]), c.id) for c in candidates]
            best = max(scored, default=(0, ""))
            if best[0] == 0:
                break
            chosen = next(c for c in candidates if c.id == best[1])
            chosen.entity_ids.append(entity)
            members[chosen.id].add(entity)
            parent = chosen.id
        if parent is None:
            homeless.append(entity)
    made = 0
    for group in nx.connected_components(graph.subgraph(homeless)):
        if len(group) < 2:
            continue
        ids = sorted(group)
        communities.append(Community(community_id(0, ids), 0, None, [], ids))
        made += 1
    return communities, made


def _refresh(
    community: Community,
    relationships: list[Relationship],
    ends: list[tuple[str, str]],
    incident: dict[str, list[int]],
    entities: dict[str, Entity],
) -> None:
    """Relationships inside (in table order), text units and size, from the current members. ``ends`` /
    ``incident``: each relationship's endpoint ids and each entity's relationships, made once."""
    inside = set(community.entity_ids)
    within = {i for e in inside for i in incident.get(e, ()) if ends[i][0] in inside and ends[i][1] in inside}
    community.relationship_ids = [relationships[i].id for i in sorted(within)]
    community.text_unit_ids = list(
        dict.fromkeys(u for e in community.entity_ids if e in entities for u in entities[e].text_unit_ids)
    )
    community.size = len(community.entity_ids)


async def update_imported(settings: Settings, chat: ChatModel | None, embedder: Embedder) -> UpdateReport:
    """Bring an imported index in line with ``input/`` (see the module notes)."""
    from graphrag_lite.index.embed import embed_index
    from graphrag_lite.index.graph.linking import link_text_units
    from graphrag_lite.store.graph import compute_degrees
    from graphrag_lite.workflows.steps import read_input

    started = time.perf_counter()
    output = settings.output_path
    reader = IndexReader(output, settings.root)
    old: dict[str, list[Any]] = {name: reader.records(name) for name in TABLE_NAMES}
    pipeline = settings if chat is not None else settings.model_copy(update={"method": "fast"})
    loaded, units_in, _ = read_input(pipeline)
    before = {d.source: d for d in old["documents"]}
    now = {d.source: d for d in loaded.documents}
    kept_docs = [d for s, d in before.items() if s in now and _unchanged(d, now[s], settings)]
    kept_ids = {d.id for d in kept_docs}
    kept_sources = {d.source for d in kept_docs}
    new_docs = [d for s, d in now.items() if s not in kept_sources]
    new_doc_ids = {d.id for d in new_docs}
    gone_units = {u.id for u in old["text_units"] if u.document_id not in kept_ids}
    new_units = [u for u in units_in if u.document_id in new_doc_ids]
    entities_new, relationships_new = await _extract(new_units, pipeline, chat)

    documents: list[Document] = kept_docs + new_docs
    units = [u for u in old["text_units"] if u.id not in gone_units] + new_units
    entities = _merge(old["entities"], entities_new, gone_units)
    relationships = _merge(old["relationships"], relationships_new, gone_units)
    by_id = {e.id: e for e in entities}
    relationships = [
        r for r in relationships if entity_id(r.source) in by_id and entity_id(r.target) in by_id
    ]
    compute_degrees(entities, relationships)
    link_text_units(units, entities, relationships)

    # communities: the imported hierarchy, members that are gone removed, new entities placed
    old_entities = {e.id: _evidence(e) for e in old["entities"]}
    old_relationships = {r.id: _evidence(r) for r in old["relationships"]}
    communities = [replace(c, entity_ids=[e for e in c.entity_ids if e in by_id]) for c in old["communities"]]
    placed = {e for c in communities for e in c.entity_ids}
    fresh = [e.id for e in entities if e.id not in placed and e.id not in old_entities]
    ends = [(entity_id(r.source), entity_id(r.target)) for r in relationships]
    incident: dict[str, list[int]] = defaultdict(list)
    for i, (a, b) in enumerate(ends):
        incident[a].append(i)
        incident[b].append(i)
    communities, made = _place_new_entities(communities, fresh, nx.Graph(ends))  # nodes: entity ids
    communities = [c for c in communities if c.entity_ids]
    alive = {c.id for c in communities}
    for community in communities:
        community.children = [c for c in community.children if c in alive]
        _refresh(community, relationships, ends, incident, by_id)
    rels_by_id = {r.id: r for r in relationships}
    previous = {c.id: c for c in old["communities"]}
    reports_old = {r.community_id: r for r in old["community_reports"]}

    def unchanged(community: Community) -> bool:
        was = previous.get(community.id)
        if was is None or community.id not in reports_old or set(was.entity_ids) != set(community.entity_ids):
            return False
        return all(old_entities.get(e) == _evidence(by_id[e]) for e in community.entity_ids) and all(
            old_relationships.get(r) == _evidence(rels_by_id[r]) for r in community.relationship_ids
        )

    kept_reports = {c.id: reports_old[c.id] for c in communities if unchanged(c)}
    todo = [c for c in communities if c.id not in kept_reports]
    reports = await _reports(communities, todo, kept_reports, entities, relationships, units, settings, chat)

    before_tables = {name: {r.id: r for r in records} for name, records in old.items()}
    tables: dict[str, list[Any]] = {
        "documents": documents,
        "text_units": units,
        "entities": entities,
        "relationships": relationships,
        "communities": communities,
        "community_reports": reports,
    }
    for name, records in tables.items():
        write_table(output, name, records)
    vectors = await embed_index(
        IndexLayout(output).lancedb,
        {d.id: d.title for d in documents},
        {},
        units,
        entities,
        reports,
        embedder,
        batch_size=settings.embeddings.batch_size,
        report_text=settings.embeddings.report_text,
    )
    summary = UpdateReport(
        run=RunReport("graphrag-import", [], time.perf_counter() - started, output / STATS_FILE),
        documents=document_changes(before_tables["documents"], {d.id: d for d in documents}),
        tables={
            name: table_changes(before_tables[name], {r.id: r for r in records})
            for name, records in tables.items()
        },
        reuse={"community_reports": {"reused": len(kept_reports), "computed": len(todo)}},
        vectors=vectors,
        llm_calls=chat.meter.total().llm_calls if chat is not None else 0,
        community_ids={"unchanged": len(kept_reports), "new": made},
    )
    state = read_json(output / STATS_FILE, {})
    state["last_update"] = summary.as_dict()
    atomic_write_json(output / STATS_FILE, state)
    return summary


async def _reports(
    communities: list[Community],
    todo: list[Community],
    kept: dict[str, CommunityReport],
    entities: list[Entity],
    relationships: list[Relationship],
    units: list[TextUnit],
    settings: Settings,
    chat: ChatModel | None,
) -> list[CommunityReport]:
    """Kept reports as they are; new ones for ``todo`` (LLM when configured, else extractive)."""
    if chat is not None and todo:
        from graphrag_lite.index.reports.llm import generate_reports

        written = await generate_reports(
            communities, entities, relationships, units, chat, settings, settings.root, written=kept
        )
        return written.reports
    from graphrag_lite.index.reports.extractive import extractive_reports

    made = {r.community_id: r for r in extractive_reports(todo, entities, relationships, units)}
    out = []
    for community in communities:
        report = kept.get(community.id) or made[community.id]
        out.append(
            report if report.id == report_id(community.id) else replace(report, id=report_id(community.id))
        )
    return out
