"""Query filters: answer from the documents whose metadata match, and from nothing else.

``--filter group=finance`` (repeatable; the same key twice means either value, different keys must all
match) turns the loaded index into a *restricted* one that every search method then reads as usual:

- documents that do not match, and their text units, are gone;
- an entity stays when an allowed unit mentions it. It keeps its description, aliases and other types
  only when every unit it was built from is allowed: a description merged or summarised from an excluded
  document is withheld, and the entity appears by name only;
- a relationship stays only when every unit it was extracted from is allowed, since its description
  comes from them;
- a community report stays only when its whole community's text comes from allowed documents. A report
  written over mixed documents is left out, so global search and the DRIFT primer read only pure reports.
  Over a mixed corpus, lazy search (which reads text units) or local search answer more under a filter;
- vector search returns the nearest *allowed* rows (it looks further down the list as needed), so
  excluded rows never count towards ``k``.

The restricted index is built once per filter and kept with the loaded index.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from graphrag_lite.errors import ConfigError
from graphrag_lite.query.index_data import IndexData
from graphrag_lite.store.records import Document
from graphrag_lite.store.vectors import VectorHit, VectorStore

FilterSpec = Mapping[str, str | Sequence[str]]
_FIELDS = ("title", "source")  # document fields a filter may name besides its metadata


@dataclass(frozen=True)
class DocumentFilter:
    """``conditions``: (key, accepted values), sorted; a document matches when every key has one of them."""

    conditions: tuple[tuple[str, tuple[str, ...]], ...]

    @classmethod
    def of(cls, spec: FilterSpec) -> DocumentFilter:
        conditions = []
        for key, value in spec.items():
            values = (value,) if isinstance(value, str) else tuple(value)
            if not key.strip() or not values:
                raise ConfigError(f"Filter {key!r}: give a metadata key and at least one value (key=value).")
            conditions.append((key.strip(), tuple(sorted({str(v) for v in values}))))
        return cls(tuple(sorted(conditions)))

    @classmethod
    def parse(cls, items: Iterable[str]) -> DocumentFilter:
        """From ``key=value`` strings (the CLI's ``--filter``)."""
        spec: dict[str, list[str]] = {}
        for item in items:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise ConfigError(f"--filter {item!r}: write it as key=value, e.g. --filter group=finance.")
            spec.setdefault(key.strip(), []).append(value.strip())
        return cls.of(spec)

    def __bool__(self) -> bool:
        return bool(self.conditions)

    def matches(self, document: Document) -> bool:
        for key, values in self.conditions:
            have = getattr(document, key) if key in _FIELDS else document.metadata.get(key)
            if have not in values:
                return False
        return True

    def to_dict(self) -> dict[str, list[str]]:
        return {key: list(values) for key, values in self.conditions}


class RestrictedVectors(VectorStore):
    """The loaded vectors, searched among allowed ids only (per table)."""

    def __init__(self, base: VectorStore, allowed: dict[str, set[str]]) -> None:
        super().__init__(base.db_dir)
        self.base = base
        self.allowed = allowed

    def has_table(self, table: str) -> bool:
        return self.base.has_table(table)

    def search(
        self, table: str, vector: np.ndarray | Sequence[float], k: int = 10, where: str | None = None
    ) -> list[VectorHit]:
        allowed = self.allowed.get(table)
        if allowed is None:
            return self.base.search(table, vector, k, where)
        total = self.base.count(table)
        fetch = min(total, 4 * k + 50)
        while True:
            hits = [h for h in self.base.search(table, vector, fetch, where) if h.id in allowed]
            if len(hits) >= k or fetch >= total:
                return hits[:k]
            fetch = min(total, fetch * 4)


def restrict(data: IndexData, spec: FilterSpec | DocumentFilter) -> IndexData:
    """``data`` as seen through the filter (see the module docstring); built once per filter."""
    flt = spec if isinstance(spec, DocumentFilter) else DocumentFilter.of(spec)
    if not flt:
        return data
    key = f"restricted:{flt.conditions!r}"
    if key not in data.cache:
        data.cache[key] = _restricted(data, flt)
    restricted: IndexData = data.cache[key]
    return restricted


def _restricted(data: IndexData, flt: DocumentFilter) -> IndexData:
    documents = [d for d in data.documents if flt.matches(d)]
    document_ids = {d.id for d in documents}
    unit_ids = {u.id for u in data.text_units if u.document_id in document_ids}

    entities = []
    for entity in data.entities:
        kept = [u for u in entity.text_unit_ids if u in unit_ids]
        if not kept:
            continue
        pure = len(kept) == len(entity.text_unit_ids)
        entities.append(
            entity
            if pure
            else replace(
                entity, description="", aliases=[], other_types=[], text_unit_ids=kept, frequency=len(kept)
            )
        )
    titles = {e.title for e in entities}
    relationships = [
        r
        for r in data.relationships
        if r.text_unit_ids and all(u in unit_ids for u in r.text_unit_ids) and {r.source, r.target} <= titles
    ]
    degree: dict[str, int] = {}
    for rel in relationships:
        for end in (rel.source, rel.target):
            degree[end] = degree.get(end, 0) + 1
    entities = [replace(e, degree=degree.get(e.title, 0)) for e in entities]
    entity_ids = {e.id for e in entities}
    relationship_ids = {r.id for r in relationships}

    communities = []
    pure_communities = set()
    for community in data.communities:
        members = [e for e in community.entity_ids if e in entity_ids]
        if not members:
            continue
        if community.text_unit_ids and all(u in unit_ids for u in community.text_unit_ids):
            pure_communities.add(community.id)
        communities.append(
            replace(
                community,
                entity_ids=members,
                relationship_ids=[r for r in community.relationship_ids if r in relationship_ids],
                text_unit_ids=[u for u in community.text_unit_ids if u in unit_ids],
            )
        )
    kept_ids = {c.id for c in communities}
    communities = [
        replace(
            c,
            children=[x for x in c.children if x in kept_ids],
            parent=c.parent if c.parent in kept_ids else None,
        )
        for c in communities
    ]
    reports = [r for r in data.reports if r.community_id in pure_communities]
    text_units = [
        replace(
            u,
            entity_ids=[e for e in u.entity_ids if e in entity_ids],
            relationship_ids=[r for r in u.relationship_ids if r in relationship_ids],
        )
        for u in data.text_units
        if u.id in unit_ids
    ]
    vectors = None
    if data.vectors is not None:
        allowed: dict[str, set[str]] = {
            "text_units": unit_ids,
            "entities": entity_ids,
            "community_reports": {r.id for r in reports},
        }
        vectors = RestrictedVectors(data.vectors, allowed)
    return IndexData(
        documents=documents,
        text_units=text_units,
        entities=entities,
        relationships=relationships,
        communities=communities,
        reports=reports,
        vectors=vectors,
        unit_contexts=[c for c in data.unit_contexts if c.id in unit_ids],
        root=data.root,
    )
