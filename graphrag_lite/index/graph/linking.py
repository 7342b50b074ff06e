"""Point text units at the entities and relationships whose evidence they hold."""

from __future__ import annotations

from collections.abc import Sequence

from graphrag_lite.store.records import Entity, Relationship, TextUnit


def link_text_units(
    text_units: Sequence[TextUnit], entities: Sequence[Entity], relationships: Sequence[Relationship]
) -> None:
    """Set ``entity_ids`` / ``relationship_ids`` of every text unit from the records' ``text_unit_ids``.

    Ids stay in the order of the entity and relationship lists, so the result is deterministic.
    """
    by_unit_entities: dict[str, list[str]] = {}
    for entity in entities:
        for unit_id in entity.text_unit_ids:
            by_unit_entities.setdefault(unit_id, []).append(entity.id)
    by_unit_relationships: dict[str, list[str]] = {}
    for rel in relationships:
        for unit_id in rel.text_unit_ids:
            by_unit_relationships.setdefault(unit_id, []).append(rel.id)
    for unit in text_units:
        unit.entity_ids = by_unit_entities.get(unit.id, [])
        unit.relationship_ids = by_unit_relationships.get(unit.id, [])
