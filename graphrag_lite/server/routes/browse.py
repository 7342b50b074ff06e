"""Reading the index: ``/stats``, entity search and detail, a neighbourhood graph and text units."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from graphrag_lite.api.facade import GraphRAG
from graphrag_lite.api.stats import index_summary
from graphrag_lite.query.index_data import IndexData
from graphrag_lite.server.graph_view import neighbourhood
from graphrag_lite.server.security import require_key

router = APIRouter(dependencies=[Depends(require_key)])
SNIPPET_CHARS = 300


async def _data(request: Request) -> IndexData:
    rag: GraphRAG = request.app.state.rag
    return await rag.aindex_data()


def _entity_row(data: IndexData, entity_id: str) -> dict[str, Any]:
    entity = data.entity_by_id[entity_id]
    return {"id": entity.id, "title": entity.title, "type": entity.type, "degree": entity.degree}


def _unit_row(data: IndexData, unit_id: str) -> dict[str, Any]:
    unit = data.text_unit_by_id[unit_id]
    document = data.document_by_id.get(unit.document_id)
    return {
        "id": unit.id,
        "document_id": unit.document_id,
        "document_title": document.title if document else "",
        "snippet": unit.text[:SNIPPET_CHARS],
    }


@router.get("/stats", summary="Row counts, community sizes, top entities and what the index cost")
async def stats(request: Request) -> dict[str, Any]:
    rag: GraphRAG = request.app.state.rag
    return index_summary(rag.settings)


@router.get("/entities", summary="Entities whose title or alias contains q (all, by degree, without q)")
async def entities(
    request: Request,
    q: Annotated[str, Query(max_length=200)] = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> list[dict[str, Any]]:
    data = await _data(request)
    needle = q.strip().lower()
    found = [
        e
        for e in data.entities
        if not needle or needle in e.title.lower() or any(needle in a.lower() for a in e.aliases)
    ]
    found.sort(key=lambda e: (not e.title.lower().startswith(needle), -e.degree, e.title))
    return [{**_entity_row(data, e.id), "description": e.description[:SNIPPET_CHARS]} for e in found[:limit]]


@router.get("/entities/{entity_id}", summary="One entity: description, relationships and text units")
async def entity(entity_id: str, request: Request) -> dict[str, Any]:
    data = await _data(request)
    found = data.entity_by_id.get(entity_id)
    if found is None:
        raise HTTPException(404, f"No entity with id '{entity_id}'. Find ids with GET /entities?q=name.")
    relationships = []
    for rel in data.relationships_by_entity.get(found.id, []):
        ends = [e for e in data.relationship_ends(rel) if e is not None and e != found.id]
        other = data.entity_by_id[ends[0]] if ends else None
        relationships.append(
            {
                "id": rel.id,
                "other_id": other.id if other else None,
                "other_title": other.title
                if other
                else (rel.target if rel.source == found.title else rel.source),
                "description": rel.description,
                "weight": rel.weight,
            }
        )
    units = [_unit_row(data, u) for u in found.text_unit_ids if u in data.text_unit_by_id]
    return {
        **_entity_row(data, found.id),
        "description": found.description,
        "aliases": found.aliases,
        "relationships": relationships,
        "text_units": units,
    }


@router.get("/graph", summary="The neighbourhood of entities (by id or title) or of text units' entities")
async def graph(
    request: Request,
    entity: Annotated[list[str] | None, Query(description="Entity id or title; repeat for several")] = None,
    unit: Annotated[list[str] | None, Query(description="Text unit id: its entities are the seeds")] = None,
    hops: Annotated[int, Query(ge=0, le=3)] = 1,
    limit: Annotated[int, Query(ge=1, le=500)] = 120,
) -> dict[str, Any]:
    data = await _data(request)
    seeds: list[str] = []
    for name in entity or []:
        match = data.entity_by_id.get(name) or data.find_entity(name)
        if match is None:
            raise HTTPException(404, f"No entity '{name}'. Find ids with GET /entities?q=name.")
        seeds.append(match.id)
    for unit_id in unit or []:
        text_unit = data.text_unit_by_id.get(unit_id)
        if text_unit is None:
            raise HTTPException(404, f"No text unit with id '{unit_id}'.")
        seeds += text_unit.entity_ids
    if not seeds and not entity and not unit:
        raise HTTPException(400, "Give at least one entity=… or unit=… to centre the graph on.")
    return neighbourhood(data, seeds, hops, limit)


@router.get("/text_units/{unit_id}", summary="One text unit: its text, document and entities")
async def text_unit(unit_id: str, request: Request) -> dict[str, Any]:
    data = await _data(request)
    found = data.text_unit_by_id.get(unit_id)
    if found is None:
        raise HTTPException(404, f"No text unit with id '{unit_id}'.")
    document = data.document_by_id.get(found.document_id)
    return {
        "id": found.id,
        "text": found.text,
        "document_id": found.document_id,
        "document_title": document.title if document else "",
        "chunk_index": found.chunk_index,
        "entities": [_entity_row(data, e) for e in found.entity_ids if e in data.entity_by_id],
    }
