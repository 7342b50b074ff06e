"""Which text units lazy search judges next: best-first over the community hierarchy, deepening only where
judging found something.

Every community lists its ranked candidate units (those the question's ranking scored, best first). A
community's priority is the summed score of its next untested units. Visits go out in waves of the best
communities; after a wave, a community where at least one unit was relevant hands over to its
sub-communities (or, at the bottom of the hierarchy, stays in line for its next units), and a community
where none was relevant is dropped with all its sub-communities. Units in no community form one pseudo
community at the top. Waves make the order independent of which call returns first, so the same replies
always give the same visits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from graphrag_lite.query.index_data import IndexData

NO_COMMUNITY = ""  # the pseudo community of units no community holds


@dataclass
class Visit:
    """One relevance call: units of one community, and which of them the judge found relevant."""

    community_id: str
    level: int
    unit_ids: list[str]
    relevant: list[str] = field(default_factory=list)
    failed: bool = False


@dataclass
class _Community:
    id: str
    level: int
    parent: str | None
    children: list[str]
    candidates: list[str]  # scored units, best first
    next_index: int = 0


class Frontier:
    """The communities in line for a visit, and every unit tested so far."""

    def __init__(self, data: IndexData, scores: Mapping[str, float], units_per_test: int) -> None:
        self.scores = scores
        self.units_per_test = units_per_test
        self.tested: set[str] = set()
        self.visits: list[Visit] = []
        order = {u: i for i, u in enumerate(sorted(scores, key=lambda u: (-scores[u], u)))}
        held: set[str] = set()
        self._communities: dict[str, _Community] = {}
        for community in data.communities:
            ranked = sorted((u for u in community.text_unit_ids if u in order), key=order.__getitem__)
            held.update(community.text_unit_ids)
            self._communities[community.id] = _Community(
                community.id, community.level, community.parent, list(community.children), ranked
            )
        loose = sorted((u for u in order if u not in held), key=order.__getitem__)
        self._communities[NO_COMMUNITY] = _Community(NO_COMMUNITY, 0, None, [], loose)
        roots = [
            c.id for c in self._communities.values() if c.parent is None or c.parent not in self._communities
        ]
        self._line: set[str] = {c for c in roots if self._untested(c)}

    def _untested(
        self, community_id: str, limit: int | None = None, skip: set[str] | None = None
    ) -> list[str]:
        """The community's next untested units (at most ``limit``), not in ``skip``."""
        community = self._communities[community_id]
        while community.next_index < len(community.candidates) and (
            community.candidates[community.next_index] in self.tested
        ):
            community.next_index += 1  # units tested through another level never come back
        out: list[str] = []
        for unit_id in community.candidates[community.next_index :]:
            if limit is not None and len(out) >= limit:
                break
            if unit_id not in self.tested and (skip is None or unit_id not in skip):
                out.append(unit_id)
        return out

    def _priority(self, community_id: str) -> float:
        return sum(self.scores[u] for u in self._untested(community_id, self.units_per_test))

    def __bool__(self) -> bool:
        return bool(self._line)

    def next_wave(self, visits: int, tests_left: int) -> list[Visit]:
        """Up to ``visits`` visits of the best communities in line, together at most ``tests_left`` units;
        no unit twice in one wave (a community and its parent share units)."""
        ranked = sorted(self._line, key=lambda c: (-self._priority(c), c))
        wave: list[Visit] = []
        taken: set[str] = set()
        for community_id in ranked:
            if len(wave) >= visits or tests_left <= 0:
                break
            units = self._untested(community_id, min(self.units_per_test, tests_left), taken)
            self._line.discard(community_id)
            if not units:
                continue
            taken.update(units)
            tests_left -= len(units)
            wave.append(Visit(community_id, self._communities[community_id].level, units))
        return wave

    def record(self, wave: Sequence[Visit]) -> None:
        """Mark the wave's units tested and put in line what the judging earned, in wave order."""
        for visit in wave:
            self.tested.update(visit.unit_ids)
        for visit in wave:
            self.visits.append(visit)
            if not visit.relevant:
                continue
            community = self._communities[visit.community_id]
            deeper = [c for c in community.children if c in self._communities and self._untested(c, 1)]
            if deeper:
                self._line.update(deeper)
            elif self._untested(community.id, 1):
                self._line.add(community.id)

    def parent_of(self, community_id: str) -> str | None:
        community = self._communities.get(community_id)
        return community.parent if community else None
