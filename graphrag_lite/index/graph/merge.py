"""Merge raw extraction records into the graph: entities by normalised title, conservative person
aliases (:mod:`graphrag_lite.index.extract.names`), relationships per unordered pair.

Descriptions are kept, not summarised, here: distinct descriptions are joined one per line
(:func:`join_descriptions`) and :mod:`graphrag_lite.index.graph.summarize` later splits them again
(:func:`split_descriptions`) to summarise only what has more than one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from graphrag_lite.index.extract.names import UNKNOWN_TYPE, AliasCandidate, AliasDecision, resolve_aliases
from graphrag_lite.index.extract.records import RawEntity, RawRelationship
from graphrag_lite.index.graph.linking import link_text_units
from graphrag_lite.store.ids import entity_id, normalize_title, relationship_id
from graphrag_lite.store.records import Entity, Relationship, TextUnit

# -- descriptions ----------------------------------------------------------------------------------

DESCRIPTION_SEPARATOR = "\n"  # fields from the record parser never hold a line break


def _description_key(text: str) -> str:
    return " ".join(text.split()).casefold().rstrip(" .")


def join_descriptions(descriptions: Iterable[str]) -> str:
    """Distinct descriptions, in the order given, one per line (see :func:`split_descriptions`)."""
    seen: set[str] = set()
    kept: list[str] = []
    for description in descriptions:
        line = " ".join(description.split())
        key = _description_key(line)
        if key and key not in seen:
            seen.add(key)
            kept.append(line)
    return DESCRIPTION_SEPARATOR.join(kept)


def split_descriptions(text: str) -> list[str]:
    """The distinct descriptions a merged description holds (one, when it was summarised already)."""
    return (
        join_descriptions(text.split(DESCRIPTION_SEPARATOR)).split(DESCRIPTION_SEPARATOR)
        if text.strip()
        else []
    )


# -- merging ---------------------------------------------------------------------------------------


@dataclass
class MergeResult:
    """The merged graph. ``alias_decisions`` explains every alias merged or refused."""

    entities: list[Entity] = field(default_factory=list)
    relationships: list[Relationship] = field(default_factory=list)
    alias_decisions: list[AliasDecision] = field(default_factory=list)


@dataclass
class _Group:
    """Everything known about one normalised title while merging."""

    key: str
    spellings: Counter[str] = field(default_factory=Counter)
    types: Counter[str] = field(default_factory=Counter)
    descriptions: list[str] = field(default_factory=list)
    unit_set: dict[str, None] = field(default_factory=dict)  # insertion-ordered set

    def add_unit(self, unit_id: str) -> None:
        if unit_id:
            self.unit_set[unit_id] = None

    @property
    def units(self) -> list[str]:
        return list(self.unit_set)

    @property
    def display(self) -> str:
        """Mixed case over ALL CAPS, then the most frequent spelling, then alphabetical."""
        ranked = sorted(self.spellings.items(), key=lambda s: (s[0].isupper() and len(s[0]) > 3, -s[1], s[0]))
        return ranked[0][0]

    def majority_type(self) -> tuple[str, list[str]]:
        """(type, other types): most votes, ties alphabetical; "unknown" only when nothing else was said."""
        votes = Counter({t: n for t, n in self.types.items() if t != UNKNOWN_TYPE}) or self.types
        if not votes:
            return UNKNOWN_TYPE, []
        ranked = sorted(votes.items(), key=lambda tv: (-tv[1], tv[0]))
        return ranked[0][0], [t for t, _ in ranked[1:]]


class _UnitOrder:
    """Sorts text unit ids by their position in the corpus; unknown ids after, in first-seen order."""

    def __init__(self, text_units: Sequence[TextUnit]) -> None:
        self._position = {unit.id: index for index, unit in enumerate(text_units)}

    def position(self, unit_id: str) -> int:
        return self._position.get(unit_id, len(self._position))

    def __call__(self, unit_ids: Iterable[str]) -> list[str]:
        ordered = list(dict.fromkeys(u for u in unit_ids if u))
        first_seen = {u: i for i, u in enumerate(ordered)}
        return sorted(ordered, key=lambda u: (self.position(u), first_seen[u]))


def _collect_entities(
    raw_entities: Sequence[RawEntity], raw_relationships: Sequence[RawRelationship]
) -> dict[str, _Group]:
    groups: dict[str, _Group] = {}
    for raw in raw_entities:
        key = normalize_title(raw.title)
        if not key:
            continue
        group = groups.setdefault(key, _Group(key))
        group.spellings[raw.title] += 1
        group.types[raw.type or UNKNOWN_TYPE] += 1
        group.descriptions.append(raw.description)
        group.add_unit(raw.text_unit_id)
    # A relationship endpoint nobody extracted as an entity becomes one instead of losing the edge. An
    # endpoint is also a mention: its text unit counts for the entity either way.
    for rel in raw_relationships:
        for name in (rel.source, rel.target):
            key = normalize_title(name)
            if not key:
                continue
            group = groups.setdefault(key, _Group(key))
            if not group.types:
                group.spellings[name] += 1
                group.descriptions.append(rel.description)
            group.add_unit(rel.text_unit_id)
    return groups


def _build_entity(members: list[_Group], sort_units: _UnitOrder) -> Entity:
    canonical = members[0]
    combined = _Group(canonical.key)
    for member in members:
        combined.types.update(member.types)
        combined.descriptions.extend(member.descriptions)
        combined.unit_set.update(member.unit_set)
    entity_type, other_types = combined.majority_type()
    title = canonical.display
    aliases = sorted({m.display for m in members[1:]} - {title})
    unit_ids = sort_units(combined.units)
    return Entity(
        id=entity_id(title),
        title=title,
        type=entity_type,
        description=join_descriptions(combined.descriptions),
        aliases=aliases,
        other_types=other_types,
        text_unit_ids=unit_ids,
        frequency=len(unit_ids),
    )


def _merge_relationships(
    raw_relationships: Sequence[RawRelationship],
    canonical_of: Callable[[str], str],
    titles: dict[str, str],
    sort_units: _UnitOrder,
) -> list[Relationship]:
    pairs: dict[tuple[str, str], tuple[float, list[str], list[str]]] = {}
    for rel in raw_relationships:
        a, b = canonical_of(normalize_title(rel.source)), canonical_of(normalize_title(rel.target))
        if not a or not b or a == b:
            continue  # a self-loop, possibly created by alias merging
        pair = (a, b) if a < b else (b, a)
        weight, descriptions, units = pairs.get(pair, (0.0, [], []))
        descriptions.append(rel.description)
        units.append(rel.text_unit_id)
        pairs[pair] = (weight + rel.weight, descriptions, units)
    relationships: list[Relationship] = []
    for (a, b), (weight, descriptions, units) in sorted(pairs.items()):
        source, target = titles[a], titles[b]
        relationships.append(
            Relationship(
                id=relationship_id(source, target),
                source=source,
                target=target,
                description=join_descriptions(descriptions),
                weight=round(weight, 6),
                text_unit_ids=sort_units(u for u in units if u),
            )
        )
    return relationships


def merge_graph(
    raw_entities: Sequence[RawEntity],
    raw_relationships: Sequence[RawRelationship],
    text_units: Sequence[TextUnit],
    *,
    resolve: bool = True,
) -> MergeResult:
    """Merge raw records into entities and relationships; fill the text units' entity/relationship ids.

    Entities merge on :func:`normalize_title`, then (``resolve``) conservative person aliases merge into
    their full names. Output is sorted (entities by title, relationships by source then target) so the
    same records always give the same tables. The workflow passes ``settings.extraction.resolve_aliases``.
    """
    sort_units = _UnitOrder(text_units)
    groups = _collect_entities(raw_entities, raw_relationships)
    mapping: dict[str, str] = {}
    decisions: list[AliasDecision] = []
    if resolve:
        candidates = [
            AliasCandidate(
                key=g.key, display=g.display, type=g.majority_type()[0], text_unit_ids=set(g.units)
            )
            for g in groups.values()
        ]
        mapping, decisions = resolve_aliases(candidates)
    members: dict[str, list[_Group]] = {key: [] for key in sorted(groups) if key not in mapping}

    def member_order(key: str) -> tuple[bool, int, str]:
        """The canonical group first, then aliases by where they first appear."""
        first = min((sort_units.position(u) for u in groups[key].units), default=len(text_units))
        return key in mapping, first, key

    for key in sorted(groups, key=member_order):
        members[mapping.get(key, key)].append(groups[key])
    entities = [_build_entity(group_members, sort_units) for group_members in members.values()]
    entities.sort(key=lambda e: (normalize_title(e.title), e.title))
    titles = {normalize_title(e.title): e.title for e in entities}
    relationships = _merge_relationships(raw_relationships, lambda k: mapping.get(k, k), titles, sort_units)
    link_text_units(text_units, entities, relationships)
    return MergeResult(entities=entities, relationships=relationships, alias_decisions=decisions)
