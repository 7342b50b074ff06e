"""Everything a query reads, loaded once: the tables, lookups by id and name, the graph and the vectors.

One :class:`IndexData` serves any number of queries; derived structures (the graph, the BM25 index, the
community maps) are built on first use and kept.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphrag_lite.config.settings import Settings
from graphrag_lite.query.names import EntityNameIndex
from graphrag_lite.store.ids import normalize_title
from graphrag_lite.store.layout import TABLE_NAMES
from graphrag_lite.store.reader import IndexReader
from graphrag_lite.store.records import (
    Community,
    CommunityReport,
    Document,
    Entity,
    Relationship,
    TextUnit,
    UnitContext,
    unit_search_texts,
)

if TYPE_CHECKING:
    import networkx as nx

    from graphrag_lite.store.vectors import VectorStore


@dataclass
class IndexData:
    """The loaded index. Build it with :meth:`load` (from output/) or directly from records (tests)."""

    documents: list[Document]
    text_units: list[TextUnit]
    entities: list[Entity]
    relationships: list[Relationship]
    communities: list[Community]
    reports: list[CommunityReport]
    vectors: VectorStore | None = None
    unit_contexts: list[UnitContext] = field(default_factory=list)
    root: Path | None = None
    cache: dict[str, Any] = field(default_factory=dict, repr=False)  # per-index derived data (BM25 ...)

    # -- loading ----------------------------------------------------------------------------------------
    @classmethod
    def load(cls, settings: Settings) -> IndexData:
        """Read the index under ``settings.output_path``; say what to run when it is missing or partial."""
        reader = IndexReader(settings.index_location, settings.root)
        reader.require(TABLE_NAMES)
        tables = {name: reader.records(name) for name in TABLE_NAMES}
        return cls(
            documents=tables["documents"],
            text_units=tables["text_units"],
            entities=tables["entities"],
            relationships=tables["relationships"],
            communities=tables["communities"],
            reports=tables["community_reports"],
            vectors=reader.vectors(settings.embeddings.model),
            unit_contexts=reader.records_if_exists("unit_contexts"),
            root=settings.root,
        )

    # -- lookups ----------------------------------------------------------------------------------------
    @cached_property
    def unit_search_texts(self) -> list[str]:
        """What search sees of each text unit (title, context, text), in ``text_units`` order."""
        titles = {d.id: d.title for d in self.documents}
        return unit_search_texts(self.text_units, titles, {c.id: c.context for c in self.unit_contexts})

    @cached_property
    def document_by_id(self) -> dict[str, Document]:
        return {d.id: d for d in self.documents}

    @cached_property
    def text_unit_by_id(self) -> dict[str, TextUnit]:
        return {t.id: t for t in self.text_units}

    @cached_property
    def entity_by_id(self) -> dict[str, Entity]:
        return {e.id: e for e in self.entities}

    @cached_property
    def entity_by_title(self) -> dict[str, Entity]:
        """Entities by normalised title (relationships name their ends by title)."""
        return {normalize_title(e.title): e for e in self.entities}

    @cached_property
    def entity_names(self) -> EntityNameIndex:
        """Entity ids by the matching key of their title and aliases."""
        index = EntityNameIndex()
        for entity in self.entities:
            index.add(entity.id, [entity.title, *entity.aliases])
        return index

    def find_entity(self, name: str) -> Entity | None:
        """The entity with this title or alias (case and punctuation ignored), if exactly one has it."""
        exact = self.entity_by_title.get(normalize_title(name))
        if exact is not None:
            return exact
        ids = self.entity_names.lookup(name)
        return self.entity_by_id[ids[0]] if len(ids) == 1 else None

    @cached_property
    def relationship_by_id(self) -> dict[str, Relationship]:
        return {r.id: r for r in self.relationships}

    @cached_property
    def relationships_by_entity(self) -> dict[str, list[Relationship]]:
        """Relationships touching each entity id."""
        found: dict[str, list[Relationship]] = defaultdict(list)
        for rel in self.relationships:
            for title in (rel.source, rel.target):
                entity = self.entity_by_title.get(normalize_title(title))
                if entity is not None:
                    found[entity.id].append(rel)
        return dict(found)

    def relationship_ends(self, rel: Relationship) -> tuple[str | None, str | None]:
        """Entity ids of a relationship's two ends (None where the title is unknown)."""
        source = self.entity_by_title.get(normalize_title(rel.source))
        target = self.entity_by_title.get(normalize_title(rel.target))
        return (source.id if source else None, target.id if target else None)

    @cached_property
    def community_by_id(self) -> dict[str, Community]:
        return {c.id: c for c in self.communities}

    @cached_property
    def report_by_id(self) -> dict[str, CommunityReport]:
        return {r.id: r for r in self.reports}

    @cached_property
    def report_by_community(self) -> dict[str, CommunityReport]:
        """Usable reports by community id (failed reports are left out)."""
        return {r.community_id: r for r in self.reports if r.status == "ok"}

    @cached_property
    def max_level(self) -> int:
        return max((c.level for c in self.communities), default=0)

    def entity_communities(self, level: int) -> dict[str, str]:
        """Entity id -> its community at ``level``, or its deepest one where the hierarchy stops above that
        level (a small community is not split further), so every clustered entity has one (cached)."""
        from graphrag_lite.index.graph.communities import entity_community_map

        key = f"entity_communities:{level}"
        if key not in self.cache:
            self.cache[key] = entity_community_map(self.communities, level)
        mapping: dict[str, str] = self.cache[key]
        return mapping

    def reports_at_level(self, level: int) -> list[CommunityReport]:
        """Reports covering the whole graph at ``level``: the level's own communities plus the leaves
        above it (communities that were not split that deep)."""
        chosen: list[CommunityReport] = []
        for community in self.communities:
            at_level = community.level == level
            leaf_above = community.level < level and not community.children
            if at_level or leaf_above:
                report = self.report_by_community.get(community.id)
                if report is not None:
                    chosen.append(report)
        return chosen

    @cached_property
    def graph(self) -> nx.Graph:
        """The entity graph (networkx), built on first use."""
        from graphrag_lite.store.graph import build_graph

        return build_graph(self.entities, self.relationships)

    def has_vectors(self, table: str) -> bool:
        return self.vectors is not None and bool(self.vectors.has_table(table))
