"""Point text units at the entities and relationships whose evidence they hold."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pyarrow as pa

from graphrag_lite.store.records import Entity, Relationship, TextUnit


def link_text_units(
    text_units: Sequence[TextUnit],
    entities: Sequence[Entity],
    relationships: Sequence[Relationship] | pa.Table,
) -> None:
    """Set ``entity_ids`` / ``relationship_ids`` of every text unit from the records' ``text_unit_ids``
    (relationships as records or as a relationships table).

    Ids stay in the order of the entity and relationship lists, so the result is deterministic.
    """
    rows: Iterable[tuple[str, list[str]]]
    if isinstance(relationships, pa.Table):
        columns = relationships.select(["id", "text_unit_ids"]).to_pydict()
        rows = zip(columns["id"], columns["text_unit_ids"], strict=True)
    else:
        rows = ((rel.id, rel.text_unit_ids) for rel in relationships)
    by_unit_entities: dict[str, list[str]] = {}
    for entity in entities:
        for unit_id in entity.text_unit_ids:
            by_unit_entities.setdefault(unit_id, []).append(entity.id)
    by_unit_relationships: dict[str, list[str]] = {}
    for rel_id, unit_ids in rows:
        for unit_id in unit_ids:
            by_unit_relationships.setdefault(unit_id, []).append(rel_id)
    for unit in text_units:
        unit.entity_ids = by_unit_entities.get(unit.id, [])
        unit.relationship_ids = by_unit_relationships.get(unit.id, [])
