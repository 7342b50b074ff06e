"""Keep community ids stable across an update: match new communities to old ones by membership overlap.

Community ids are hashes of their members, so a community whose membership did not change keeps its id by
construction. A community that gained or lost a few members would get a new id; on update it keeps the id
of the old community at the same level it overlaps most (Jaccard similarity of entity ids at least
``MIN_JACCARD``), matched greedily from the highest overlap down, one old id per new community. Parents and
children are renamed with it. Queries, exports and saved links that name a community keep working.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from graphrag_lite.store.records import Community

MIN_JACCARD = 0.5


@dataclass
class MatchStats:
    unchanged: int = 0  # same members, same id
    matched: int = 0  # changed members, kept the id of the old community they overlap most
    new: int = 0  # no old community overlaps enough: a new id
    removed: int = 0  # old communities no new one took the id of
    renamed: dict[str, str] = field(default_factory=dict)  # fresh id -> kept old id

    def as_dict(self) -> dict[str, int]:
        return {
            "unchanged": self.unchanged,
            "matched": self.matched,
            "new": self.new,
            "removed": self.removed,
        }


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _pairs(new: Sequence[Community], old: Sequence[Community]) -> list[tuple[float, str, str]]:
    """(overlap, new id, old id) for every same-level pair sharing an entity, best overlap first."""
    holders: dict[tuple[int, str], list[Community]] = defaultdict(list)
    for community in old:
        for entity_id in community.entity_ids:
            holders[(community.level, entity_id)].append(community)
    pairs: list[tuple[float, str, str]] = []
    for community in new:
        members = set(community.entity_ids)
        candidates = {c.id: c for e in community.entity_ids for c in holders[(community.level, e)]}
        for old_id, candidate in candidates.items():
            overlap = _jaccard(members, set(candidate.entity_ids))
            if overlap >= MIN_JACCARD:
                pairs.append((overlap, community.id, old_id))
    return sorted(pairs, key=lambda p: (-p[0], p[1], p[2]))


def keep_community_ids(new: list[Community], old: Sequence[Community]) -> MatchStats:
    """Rename ``new`` communities (in place) to the ids of the old ones they continue."""
    stats = MatchStats()
    renamed: dict[str, str] = {}
    taken: set[str] = set()
    for _, new_id, old_id in _pairs(new, old):
        if new_id in renamed or old_id in taken:
            continue
        renamed[new_id] = old_id
        taken.add(old_id)
    old_ids = {c.id for c in old}
    for community in new:
        kept = renamed.get(community.id)
        if kept is None:
            stats.new += 1
        elif kept == community.id:
            stats.unchanged += 1
        else:
            stats.matched += 1
    stats.removed = len(old_ids - taken)
    stats.renamed = {k: v for k, v in renamed.items() if k != v}
    for community in new:
        community.id = renamed.get(community.id, community.id)
        if community.parent is not None:
            community.parent = renamed.get(community.parent, community.parent)
        community.children = sorted(renamed.get(c, c) for c in community.children)
    return stats
