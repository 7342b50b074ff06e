"""Basic-search retrieval: BM25 and vector search over titled text units (document title + text), fused by
score, packed into the budget in rank order (a passage that does not fit is skipped, not the end).

The BM25 index (``bm25s``) is built on first use and kept on the :class:`IndexData`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from graphrag_lite.config.settings import Settings
from graphrag_lite.models.base import Embedder
from graphrag_lite.models.tokens import get_tokenizer
from graphrag_lite.query.index_data import IndexData
from graphrag_lite.query.result import ContextRecords
from graphrag_lite.query.sections import ContextIds, TableSection

_BM25_KEY = "bm25_text_units"


def light_stem(words: list[str]) -> list[str]:
    """Plural and possessive endings only ("fathers" -> "father"): no stemmer package is required."""
    out = []
    for word in words:
        if len(word) > 4 and word.endswith("ies"):
            word = word[:-3] + "y"
        elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
            word = word[:-1]
        out.append(word)
    return out


def _tokenize(texts: list[str]) -> list[list[str]]:
    import bm25s

    tokens: list[list[str]] = bm25s.tokenize(
        texts, stopwords="en", stemmer=light_stem, return_ids=False, show_progress=False
    )
    return tokens


def bm25_index(data: IndexData) -> Any:
    """BM25 over the units' search texts (title, context, text), in ``data.text_units`` order; built once."""
    if _BM25_KEY not in data.cache:
        import bm25s

        retriever = bm25s.BM25()
        retriever.index(_tokenize(data.unit_search_texts), show_progress=False)
        data.cache[_BM25_KEY] = retriever
    return data.cache[_BM25_KEY]


def bm25_scores(data: IndexData, query: str, k: int) -> dict[str, float]:
    """The ``k`` best text units by BM25, id -> score; units sharing no term with the query are left out."""
    query_tokens = _tokenize([query]) if data.text_units else [[]]
    if not query_tokens[0]:
        return {}
    docs, scores = bm25_index(data).retrieve(
        query_tokens, k=min(k, len(data.text_units)), show_progress=False
    )
    return {data.text_units[int(i)].id: float(s) for i, s in zip(docs[0], scores[0], strict=True) if s > 0}


def bm25_search(data: IndexData, query: str, k: int) -> list[str]:
    """Text-unit ids by BM25 score, best first."""
    return list(bm25_scores(data, query, k))


def vector_scores(data: IndexData, query_vector: np.ndarray, k: int) -> dict[str, float]:
    """The ``k`` text units nearest to the question, id -> cosine similarity."""
    if data.vectors is None or not data.has_vectors("text_units"):
        return {}
    hits = data.vectors.search("text_units", query_vector, k=k)
    return {hit.id: hit.score for hit in hits if hit.id in data.text_unit_by_id}


def fuse(lexical: dict[str, float], dense: dict[str, float], lexical_share: float) -> dict[str, float]:
    """``lexical_share``·BM25 + (1 − share)·cosine, each divided by its best score (negative cosines count
    0). Scores, unlike ranks, keep how much better the best match is. Scaling from 0 rather than from the
    lowest candidate approximates a min-max over every unit (most units score about 0 on both), which is
    what the dev-set measurements were made with (BENCHMARKS.md)."""
    fused: dict[str, float] = {}
    for scores, share in ((lexical, lexical_share), (dense, 1.0 - lexical_share)):
        best = max(scores.values(), default=0.0)
        for unit_id, score in scores.items():
            fused[unit_id] = fused.get(unit_id, 0.0) + (share * max(0.0, score) / best if best > 0 else 0.0)
    return fused


@dataclass
class HybridRanking:
    """Text units found by BM25 and by vector search, with their own and their fused scores."""

    lexical: dict[str, float]
    dense: dict[str, float]
    scores: dict[str, float]

    @property
    def ranked(self) -> list[str]:
        return sorted(self.scores, key=lambda item: (-self.scores[item], item))


async def hybrid_rank(
    query: str,
    data: IndexData,
    embedder: Embedder,
    settings: Settings,
    query_vector: np.ndarray | None = None,
) -> HybridRanking:
    """BM25 and vector retrieval (``query.basic.top_k`` each) over titled units, fused by score."""
    opts = settings.query.basic
    lexical = bm25_scores(data, query, opts.top_k)
    dense: dict[str, float] = {}
    if data.vectors is not None and data.has_vectors("text_units"):
        if query_vector is None:
            query_vector = np.asarray((await embedder.embed([query]))[0], dtype=np.float32)
        dense = vector_scores(data, query_vector, opts.top_k)
    return HybridRanking(lexical, dense, fuse(lexical, dense, opts.lexical_share))


@dataclass
class PassageContext:
    """Passages packed into a budget: the context of basic and graph search."""

    text: str
    records: ContextRecords
    ids: ContextIds
    tokens: int
    ranked: list[str]  # the ranking, before the budget cut
    bm25_hits: int
    vector_hits: int


def pack_passages(
    ranked: list[str], data: IndexData, settings: Settings, budget: int, hybrid: HybridRanking
) -> PassageContext:
    """``ranked`` text units in order within ``budget``, skipping one that does not fit."""
    tokenizer = get_tokenizer(settings.chunks.encoding)
    section = TableSection(tokenizer, "Sources", ["id", "text"], budget)
    section.pack((unit_id, [data.text_unit_by_id[unit_id].text]) for unit_id in ranked)
    text = section.text
    tokens = tokenizer.count(text)
    while tokens > budget and section.rows:  # BPE merges across rows can add a token or two
        section.rows.pop()
        section.record_ids.pop()
        text = section.text
        tokens = tokenizer.count(text)
    ids = ContextIds()
    ids.register("sources", section.record_ids)
    return PassageContext(
        text=text,
        records=ContextRecords(text_units=list(section.record_ids)),
        ids=ids,
        tokens=tokens,
        ranked=ranked,
        bm25_hits=len(hybrid.lexical),
        vector_hits=len(hybrid.dense),
    )


async def build_basic_context(
    query: str,
    data: IndexData,
    embedder: Embedder,
    settings: Settings,
    max_tokens: int | None = None,
) -> PassageContext:
    """The best text units for ``query``, in fused order, within ``max_tokens``."""
    hybrid = await hybrid_rank(query, data, embedder, settings)
    budget = max_tokens or settings.query.basic.max_context_tokens
    return pack_passages(hybrid.ranked, data, settings, budget, hybrid)
