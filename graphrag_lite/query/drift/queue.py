"""Open follow-up questions, best first, without near-duplicates.

A follow-up's priority is the score of the answer that raised it (a strong lead raises better questions
than a weak one); ties go to the question closer to the original one. A new question that is too similar
(cosine >= ``dedup_similarity``) to one already asked, already queued or the original question itself is
dropped; when it repeats a queued question with a higher priority, the queued one is promoted instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from graphrag_lite.index.extract.names import name_key
from graphrag_lite.models.base import Embedder
from graphrag_lite.query.drift.tree import DriftNode

PRIORITY_FIRST = 101  # above any score (0-100)


@dataclass
class FollowUp:
    question: str
    priority: int  # score of the answer that raised it
    similarity: float  # cosine similarity to the original question
    parent: DriftNode
    order: int  # arrival order: the last tie-break, so the queue is deterministic


@dataclass(frozen=True)
class Candidate:
    question: str
    priority: int
    parent: DriftNode


class FollowUpQueue:
    """Priority queue of follow-ups, deduplicated by embedding similarity."""

    def __init__(self, embedder: Embedder, query: str, query_vector: np.ndarray, threshold: float) -> None:
        self.embedder = embedder
        self.threshold = threshold
        self.open: list[FollowUp] = []
        self.duplicates = 0
        self._arrivals = 0
        self._keys: set[str] = {name_key(query)}
        self._asked: list[np.ndarray] = [np.asarray(query_vector, dtype=np.float32)]
        self._open_vectors: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self.open)

    async def add(self, candidates: Sequence[Candidate]) -> int:
        """Queue the new, non-duplicate questions (embedded in one batch); returns how many were queued."""
        fresh = [c for c in candidates if c.question.strip()]
        if not fresh:
            return 0
        vectors = np.asarray(await self.embedder.embed([c.question for c in fresh]), dtype=np.float32)
        query_vector = self._asked[0]
        queued = 0
        for candidate, vector in zip(fresh, vectors, strict=True):
            key = name_key(candidate.question)
            twin = self._open_twin(vector, key)
            if twin is not None:
                self.duplicates += 1
                twin.priority = max(twin.priority, candidate.priority)
                continue
            if key in self._keys or self._similar(self._asked, vector):
                self.duplicates += 1
                continue
            self._keys.add(key)
            similarity = float(vector @ query_vector)
            self.open.append(
                FollowUp(candidate.question, candidate.priority, similarity, candidate.parent, self._arrivals)
            )
            self._open_vectors.append(vector)
            self._arrivals += 1
            queued += 1
        return queued

    def put_first(self, question: str, parent: DriftNode) -> None:
        """Queue ``question`` ahead of everything, without the duplicate check (the original question,
        answered by local search first when there is no model to write follow-ups)."""
        vector = self._asked[0]
        self.open.append(FollowUp(question, PRIORITY_FIRST, 1.0, parent, self._arrivals))
        self._open_vectors.append(vector)
        self._arrivals += 1

    def pop(self, n: int) -> list[FollowUp]:
        """The ``n`` best open follow-ups; they count as asked from now on."""
        ranked = sorted(range(len(self.open)), key=lambda i: self._rank(self.open[i]))
        chosen = set(ranked[:n])
        picked = [self.open[i] for i in ranked[:n]]
        self._asked.extend(self._open_vectors[i] for i in ranked[:n])
        self.open = [f for i, f in enumerate(self.open) if i not in chosen]
        self._open_vectors = [v for i, v in enumerate(self._open_vectors) if i not in chosen]
        return picked

    @staticmethod
    def _rank(item: FollowUp) -> tuple[int, float, int]:
        return (-item.priority, -item.similarity, item.order)

    def _open_twin(self, vector: np.ndarray, key: str) -> FollowUp | None:
        for item, other in zip(self.open, self._open_vectors, strict=True):
            if name_key(item.question) == key or float(vector @ other) >= self.threshold:
                return item
        return None

    def _similar(self, vectors: list[np.ndarray], vector: np.ndarray) -> bool:
        return any(float(vector @ other) >= self.threshold for other in vectors)
