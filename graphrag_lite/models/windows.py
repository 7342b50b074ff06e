"""Texts longer than an embedding model accepts: cut into windows, embed each, pool them back.

A text is never silently truncated: its vector is the token-weighted mean of its windows' vectors,
renormalised. Shared by every embedder (local and remote), without importing any of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

W = TypeVar("W")  # a window: its text, or its token ids


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    out = np.zeros_like(matrix)
    np.divide(matrix, norms, out=out, where=norms > 0)
    return out


@dataclass
class Windows(Generic[W]):
    """The windows of a list of texts: each window, the index of its text and its length."""

    texts: list[W]
    owners: list[int]
    weights: list[float]

    @classmethod
    def of(cls, texts: Sequence[str], split: Callable[[str], list[tuple[W, int]]]) -> Windows[W]:
        out = cls([], [], [])
        for i, text in enumerate(texts):
            for window, length in split(text):
                out.texts.append(window)
                out.owners.append(i)
                out.weights.append(float(max(length, 1)))
        return out

    def pool(self, vectors: np.ndarray, n: int) -> np.ndarray:
        """One unit vector per text: the weighted mean of its windows' vectors, renormalised."""
        if len(self.texts) == n:
            return normalize_rows(vectors)
        out = np.zeros((n, vectors.shape[1]), dtype=np.float64)
        weighted = np.asarray(vectors) * np.asarray(self.weights, dtype=np.float64)[:, None]
        np.add.at(out, np.asarray(self.owners, dtype=np.int64), weighted)
        return normalize_rows(out)
