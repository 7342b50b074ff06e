"""Sentence helpers for the offline method: splitting, word keys, name matching, TextRank centrality.

No spaCy here: extractive reports run over hundreds of communities, so they split and match with regular
expressions and rank with a numpy power iteration (the same fixed point as ``networkx.pagerank`` with edge
weights and a personalisation vector, without building a graph object per community).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


_ABBREVIATIONS = _wordset("mr mrs ms dr st jr sr prof rev capt col gen lt sgt mt no vs etc messrs mme mlle")
_SENTENCE_END = re.compile(r"[.!?]+[\"'’”)\]]*\s+|\n\s*\n")
_ABBREVIATION_END = re.compile(r"(?:^|[^\w])([^\W\d_]{1,5})\.\s+$")
_PARAGRAPH = re.compile(r"\n\s*\n")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_STOPWORDS = _wordset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having
    he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
    nor not now of off on once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too under until up upon
    very was we were what when where which while who whom why will with would you your yours yourself
    yourselves said say says one shall may might must ever never also yet thus"""
)
MIN_WORDS = 4
MAX_CHARS = 400


def split_sentences(text: str, min_words: int = MIN_WORDS, max_chars: int = MAX_CHARS) -> list[str]:
    """Sentences of a passage, whitespace collapsed; "Mr." and similar abbreviations do not end a sentence.

    Fragments under ``min_words`` words (headings, chunk edges) are dropped; a sentence longer than
    ``max_chars`` is cut at a word boundary and marked with an ellipsis.
    """
    sentences: list[str] = []
    start = 0
    pending = ""
    for match in _SENTENCE_END.finditer(text):
        piece = text[start : match.end()]
        start = match.end()
        abbreviation = _ABBREVIATION_END.search(piece)
        if abbreviation and not _PARAGRAPH.search(match.group()):
            word = abbreviation.group(1)
            if word.lower() in _ABBREVIATIONS or (len(word) == 1 and word.isupper()):
                pending += piece
                continue
        sentences.append(pending + piece)
        pending = ""
    sentences.append(pending + text[start:])
    out: list[str] = []
    for raw in sentences:
        sentence = " ".join(raw.replace("_", " ").split()).strip()
        if len(sentence.split()) < min_words:
            continue
        if len(sentence) > max_chars:
            sentence = sentence[:max_chars].rsplit(" ", 1)[0] + " …"
        out.append(sentence)
    return out


def word_keys(text: str) -> list[str]:
    """Lower-cased words with possessives and plural ``s`` stripped: the unit both names and text match on.

    "Scrooge's" -> "scrooge", "Cratchits" -> "cratchit", "spirits" -> "spirit"; "glass" stays; hyphens
    split words ("Yet-to-Come" = "Yet to Come").
    """
    keys: list[str] = []
    for word in _WORD.findall(text.lower().replace("’", "'")):
        if word.endswith("'s"):
            word = word[:-2]
        elif word.endswith("'"):
            word = word[:-1]
        if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
            word = word[:-1]
        if word:
            keys.append(word)
    return keys


def content_terms(keys: Iterable[str]) -> list[str]:
    """The content words among ``word_keys`` (stop words and single letters removed) for similarity."""
    return [k for k in keys if len(k) > 1 and k not in _STOPWORDS and not k.isdigit()]


class NameMatcher:
    """Finds which entities a sentence mentions, by title or alias, as whole-word key sequences."""

    def __init__(self, names: Iterable[tuple[str, str]]) -> None:
        """``names``: (entity id, name) pairs; a name shared by two entities points at both."""
        self._index: dict[tuple[str, ...], set[str]] = {}
        self._max_len = 1
        for entity_id, name in names:
            key = tuple(word_keys(name))
            if not key:
                continue
            self._index.setdefault(key, set()).add(entity_id)
            self._max_len = max(self._max_len, len(key))

    def find(self, keys: Sequence[str]) -> set[str]:
        """Entity ids whose name occurs in ``keys`` (a sentence's ``word_keys``)."""
        found: set[str] = set()
        for i in range(len(keys)):
            for n in range(1, min(self._max_len, len(keys) - i) + 1):
                ids = self._index.get(tuple(keys[i : i + n]))
                if ids:
                    found |= ids
        return found


SparseVector = tuple[np.ndarray, np.ndarray]  # (term ids, weights), unit length


def tfidf_vectors(documents: Sequence[Sequence[str]]) -> list[SparseVector]:
    """Unit-length TF-IDF vectors (log-scaled term frequency, smoothed idf over ``documents``)."""
    document_frequency: Counter[str] = Counter()
    for terms in documents:
        document_frequency.update(set(terms))
    n = len(documents)
    vocabulary = {term: i for i, term in enumerate(sorted(document_frequency))}
    vectors: list[SparseVector] = []
    for terms in documents:
        counts = Counter(terms)
        ids = np.fromiter((vocabulary[t] for t in counts), dtype=np.int64, count=len(counts))
        weights = np.fromiter(
            (
                (1.0 + math.log(c)) * (math.log((1 + n) / (1 + document_frequency[t])) + 1.0)
                for t, c in counts.items()
            ),
            dtype=np.float64,
            count=len(counts),
        )
        norm = float(np.linalg.norm(weights))
        vectors.append((ids, weights / norm if norm else weights))
    return vectors


def cosine_similarity(vectors: Sequence[SparseVector]) -> np.ndarray:
    """Pairwise cosine of unit-length sparse vectors, diagonal zero.

    Only terms shared by two or more of the vectors can contribute, so the dense product runs over those
    columns alone: a few hundred instead of the whole vocabulary, which keeps a 200-sentence matrix at a
    millisecond or two."""
    n = len(vectors)
    if n == 0:
        return np.zeros((0, 0))
    lengths = np.array([len(ids) for ids, _ in vectors])
    if lengths.sum() == 0:
        return np.zeros((n, n))
    rows = np.repeat(np.arange(n), lengths)
    cols = np.concatenate([ids for ids, _ in vectors])
    values = np.concatenate([weights for _, weights in vectors])
    _, local, counts = np.unique(cols, return_inverse=True, return_counts=True)
    shared = counts[local] >= 2
    kept = np.cumsum(counts >= 2) - 1  # column of each shared term
    matrix = np.zeros((n, int((counts >= 2).sum())), dtype=np.float32)
    matrix[rows[shared], kept[local[shared]]] = values[shared]
    # float32 halves the cost; rounding makes ranks immune to BLAS summation-order noise between machines
    similarity = np.round((matrix @ matrix.T).astype(np.float64), 6)
    np.fill_diagonal(similarity, 0.0)
    return similarity


def textrank(
    similarity: np.ndarray,
    personalization: Sequence[float] | None = None,
    damping: float = 0.85,
    tol: float = 1e-9,
    max_iter: int = 200,
) -> np.ndarray:
    """PageRank over a weighted similarity matrix, teleporting according to ``personalization``.

    Rows without any similarity (dangling sentences) teleport like networkx does, so the result equals
    ``networkx.pagerank(G, alpha=damping, personalization=p, weight="weight")`` for the graph of the matrix.
    """
    n = similarity.shape[0]
    if n == 0:
        return np.zeros(0)
    p = np.ones(n) if personalization is None else np.asarray(personalization, dtype=np.float64)
    p = p / p.sum() if p.sum() > 0 else np.full(n, 1.0 / n)
    out_weight = similarity.sum(axis=1)
    dangling = out_weight == 0
    transition = similarity / np.where(dangling, 1.0, out_weight)[:, None]
    rank = np.full(n, 1.0 / n)
    for _ in range(max_iter):
        previous = rank
        rank = damping * (previous @ transition + previous[dangling].sum() * p) + (1 - damping) * p
        if np.abs(rank - previous).sum() < n * tol:
            break
    return rank


def jaccard(a: set[str], b: set[str]) -> float:
    """Overlap of two word sets (0 when both are empty): used to skip near-duplicate sentences."""
    union = a | b
    return len(a & b) / len(union) if union else 0.0
