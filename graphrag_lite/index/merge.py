"""Merge raw extraction records into the graph: entities by normalised title, conservative person
aliases, relationships per unordered pair.

Descriptions are kept, not summarised, here: distinct descriptions are joined one per line
(:func:`join_descriptions`) and :mod:`graphrag_lite.index.summarize` later splits them again
(:func:`split_descriptions`) to summarise only what has more than one.

Alias resolution ("Holmes" and "Mr. Holmes" -> "Sherlock Holmes") is deliberately conservative. A short name
merges into a longer one only when all of these hold, and every decision (merged or refused) is returned
with its reason so a user can see why two nodes are one:

- both are person-like (typed as a person, or untyped with an honorific such as "Mr.");
- the short name's core tokens (without honorifics and a few descriptive prefixes like "Old") are a
  contiguous run of the longer name's tokens (usually its last name), or the short name is the bare form
  of itself ("Mr. Scrooge" -> "Scrooge");
- the longer name looks like a personal name (no "of", "and", "the": "Ghost of Jacob Marley" and
  "Scrooge and Marley" are never targets);
- honorifics do not conflict ("Mrs. Cratchit" never merges into a name without a female honorific, because
  "Mrs. X" usually names the wife of "X");
- exactly one target remains (after following targets that are themselves aliases): "Holmes" with both
  "Sherlock Holmes" and "Mycroft Holmes" stays separate;
- the two share at least one text unit (counting those of aliases already merged into the longer name),
  so the text itself puts them side by side.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from graphrag_lite.index.record_parser import RawEntity, RawRelationship
from graphrag_lite.store.ids import entity_id, normalize_title, relationship_id
from graphrag_lite.store.records import Entity, Relationship, TextUnit

# -- alias resolution ------------------------------------------------------------------------------

HONORIFICS = frozenset(
    {
        "MR",
        "MRS",
        "MISS",
        "MS",
        "MX",
        "DR",
        "SIR",
        "LADY",
        "LORD",
        "DAME",
        "MADAM",
        "MADAME",
        "MME",
        "MLLE",
        "MISTER",
        "MASTER",
        "PROF",
        "PROFESSOR",
        "REV",
        "REVEREND",
        "CAPT",
        "CAPTAIN",
        "COL",
        "COLONEL",
        "MAJOR",
        "LT",
        "SGT",
    }
)
FEMALE_HONORIFICS = frozenset({"MRS", "MISS", "MS", "LADY", "DAME", "MADAM", "MADAME", "MME", "MLLE"})
MALE_HONORIFICS = frozenset({"MR", "MISTER", "MASTER", "SIR", "LORD"})
DESCRIPTIVE_PREFIXES = frozenset({"OLD", "YOUNG", "LITTLE", "TINY"})
CONNECTORS = frozenset({"OF", "AND", "THE", "&", "FOR", "IN", "AT", "ON", "TO", "WITH", "FROM", "BY"})
PERSON_TYPE_WORDS = ("person", "people", "character", "human", "individual")
UNKNOWN_TYPE = "unknown"

_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|&")


@dataclass
class AliasDecision:
    """Why ``alias`` was (``merged``) or was not merged into ``canonical``."""

    alias: str
    canonical: str
    reason: str
    merged: bool = True


@dataclass(frozen=True)
class NameShape:
    """A title split into leading prefixes (honorifics, "Old") and the core name tokens."""

    prefixes: tuple[str, ...]
    core: tuple[str, ...]

    @property
    def honorifics(self) -> tuple[str, ...]:
        return tuple(p for p in self.prefixes if p in HONORIFICS)

    @property
    def gender(self) -> str | None:
        if any(p in FEMALE_HONORIFICS for p in self.prefixes):
            return "female"
        if any(p in MALE_HONORIFICS for p in self.prefixes):
            return "male"
        return None

    @property
    def name_like(self) -> bool:
        return bool(self.core) and not any(t in CONNECTORS for t in self.core)


def name_shape(key: str) -> NameShape:
    """Split a normalised (upper-case) title into prefixes and core tokens."""
    tokens = [t.upper() for t in _TOKEN.findall(key)]
    prefixes: list[str] = []
    while len(tokens) > 1 and (tokens[0] in HONORIFICS or tokens[0] in DESCRIPTIVE_PREFIXES):
        prefixes.append(tokens.pop(0))
    return NameShape(tuple(prefixes), tuple(tokens))


def is_person_type(entity_type: str) -> bool:
    return any(word in entity_type for word in PERSON_TYPE_WORDS)


def _contains_run(short: tuple[str, ...], long: tuple[str, ...]) -> bool:
    n = len(short)
    return any(long[i : i + n] == short for i in range(len(long) - n + 1))


@dataclass
class AliasCandidate:
    """What the resolver needs to know about one merged-title group."""

    key: str  # normalised title
    display: str
    type: str  # majority type ("unknown" when untyped)
    text_unit_ids: set[str]


def _gender_compatible(short: NameShape, long: NameShape) -> bool:
    if short.gender == "female":
        return long.gender == "female"
    if short.gender == "male":
        return long.gender != "female"
    return True


def _relation(short: NameShape, long: NameShape) -> str | None:
    """How ``short`` can name the same person as ``long``; None when it cannot."""
    if len(long.core) > len(short.core) and _contains_run(short.core, long.core):
        return "last name" if short.core == long.core[-1:] else "part"
    if short.core == long.core and short.prefixes and not long.prefixes:
        return "bare form"
    return None


class _AliasResolver:
    """Union of short person names into longer ones; see the module docstring for the rules."""

    def __init__(self, candidates: Iterable[AliasCandidate]) -> None:
        self.groups = {c.key: c for c in candidates}
        self.shapes = {key: name_shape(key) for key in self.groups}
        self.by_token: dict[str, list[str]] = {}
        for key, shape in self.shapes.items():
            for token in set(shape.core):
                self.by_token.setdefault(token, []).append(key)
        self.parent: dict[str, str] = {}
        # text units of each canonical name grow as aliases merge into it
        self.units = {key: set(group.text_unit_ids) for key, group in self.groups.items()}
        self.decisions: list[AliasDecision] = []

    def root(self, key: str) -> str:
        while key in self.parent:
            key = self.parent[key]
        return key

    def _compatible(self, key: str) -> bool:
        return is_person_type(self.groups[key].type) or self.groups[key].type == UNKNOWN_TYPE

    def _person_like(self, key: str) -> bool:
        group = self.groups[key]
        return is_person_type(group.type) or (
            group.type == UNKNOWN_TYPE and bool(self.shapes[key].honorifics)
        )

    def _targets(self, key: str) -> tuple[dict[str, str], list[str]]:
        """(candidate key -> relation, names refused because the honorifics conflict)."""
        shape = self.shapes[key]
        targets: dict[str, str] = {}
        blocked: list[str] = []
        for other in sorted(self.by_token.get(shape.core[0], [])):
            other_shape = self.shapes[other]
            if other == key or not other_shape.name_like or not self._compatible(other):
                continue
            if not (self._person_like(key) or self._person_like(other)):
                continue
            relation = _relation(shape, other_shape)
            if relation is None:
                continue
            if _gender_compatible(shape, other_shape):
                targets[other] = relation
            else:
                blocked.append(self.groups[other].display)
        bare = [t for t, rel in targets.items() if rel == "bare form"]
        if bare:  # "Mr. Scrooge" is first of all "Scrooge": follow the bare form wherever it went
            targets = {t: "bare form" for t in bare}
        return targets, blocked

    def _refuse(self, key: str, canonical: str, reason: str) -> None:
        self.decisions.append(AliasDecision(self.groups[key].display, canonical, reason, merged=False))

    def resolve(self, key: str) -> None:
        shape = self.shapes[key]
        if not shape.name_like or not self._compatible(key):
            return
        targets, blocked = self._targets(key)
        if not targets:
            if blocked:
                self._refuse(
                    key, "", f"kept separate: its {shape.gender} title does not fit {', '.join(blocked)}"
                )
            return
        roots = sorted({self.root(t) for t in targets} - {key})
        if len(roots) != 1:
            names = ", ".join(self.groups[r].display for r in roots)
            self._refuse(key, "", f"kept separate: it could name {len(roots)} different people ({names})")
            return
        canonical = roots[0]
        shared = {t: len(self.units[key] & self.units[self.root(t)]) for t in targets}
        via = max(sorted(shared), key=lambda t: shared[t])
        if shared[via] == 0:
            display = self.groups[canonical].display
            self._refuse(key, display, "kept separate: the two never appear in the same text unit")
            return
        self.parent[key] = canonical
        self.units[canonical] |= self.units[key]
        alias, canonical_display = self.groups[key].display, self.groups[canonical].display
        reason = _reason(alias, self.groups[via].display, canonical_display, targets[via], shared[via])
        self.decisions.append(AliasDecision(alias, canonical_display, reason))


def resolve_aliases(
    candidates: Iterable[AliasCandidate],
) -> tuple[dict[str, str], list[AliasDecision]]:
    """Map alias key -> canonical key for the aliases found, with a decision for each examined short name.

    Longer names are resolved first, so a target that is itself an alias is followed to its canonical name
    ("Mr. Scrooge" -> "Scrooge" -> "Ebenezer Scrooge"). Co-occurrence is checked against the canonical
    name's text units, which include those of the aliases already merged into it.
    """
    resolver = _AliasResolver(candidates)
    shapes = resolver.shapes
    for key in sorted(shapes, key=lambda k: (-len(shapes[k].core), bool(shapes[k].prefixes), k)):
        resolver.resolve(key)
    mapping = {key: resolver.root(key) for key in resolver.parent}
    return mapping, resolver.decisions


def _reason(alias: str, via: str, canonical: str, relation: str, shared: int) -> str:
    what = {
        "last name": f"'{alias}' is the last name of '{via}'",
        "part": f"'{alias}' is part of the name '{via}'",
        "bare form": f"'{alias}' is '{via}' with a title or prefix",
    }[relation]
    chain = "" if via == canonical else f", itself an alias of '{canonical}'"
    units = "1 text unit" if shared == 1 else f"{shared} text units"
    return f"{what}{chain}; the only person name it can refer to; they share {units}"


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


def _link(text_units: Sequence[TextUnit], entities: list[Entity], relationships: list[Relationship]) -> None:
    entity_ids: dict[str, list[str]] = {}
    for entity in entities:
        for unit_id in entity.text_unit_ids:
            entity_ids.setdefault(unit_id, []).append(entity.id)
    relationship_ids: dict[str, list[str]] = {}
    for rel in relationships:
        for unit_id in rel.text_unit_ids:
            relationship_ids.setdefault(unit_id, []).append(rel.id)
    for unit in text_units:
        unit.entity_ids = entity_ids.get(unit.id, [])
        unit.relationship_ids = relationship_ids.get(unit.id, [])


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
    _link(text_units, entities, relationships)
    return MergeResult(entities=entities, relationships=relationships, alias_decisions=decisions)
