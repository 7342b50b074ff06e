"""Basic-search retrieval: BM25 and vector search over text units, fused by reciprocal rank fusion.

The BM25 index (``bm25s``) is built on first use and kept on the :class:`IndexData`.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    """The BM25 index over the text units, in ``data.text_units`` order (built once per index)."""
    if _BM25_KEY not in data.cache:
        import bm25s

        retriever = bm25s.BM25()
        retriever.index(_tokenize([u.text for u in data.text_units]), show_progress=False)
        data.cache[_BM25_KEY] = retriever
    return data.cache[_BM25_KEY]


def bm25_search(data: IndexData, query: str, k: int) -> list[str]:
    """Text-unit ids by BM25 score, best first; units sharing no term with the query are left out."""
    if not data.text_units:
        return []
    query_tokens = _tokenize([query])
    if not query_tokens[0]:
        return []
    retriever = bm25_index(data)
    k = min(k, len(data.text_units))
    docs, scores = retriever.retrieve(query_tokens, k=k, show_progress=False)
    return [data.text_units[int(i)].id for i, s in zip(docs[0], scores[0], strict=True) if s > 0]


def vector_search(data: IndexData, query_vector: np.ndarray, k: int) -> list[str]:
    if data.vectors is None or not data.has_vectors("text_units"):
        return []
    return [hit.id for hit in data.vectors.search("text_units", query_vector, k=k)]


def rrf_scores(rankings: Sequence[Sequence[str]], k: int) -> dict[str, float]:
    """Reciprocal rank fusion: each item scores the sum of 1 / (k + rank) over the rankings it is in."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return scores


def reciprocal_rank_fusion(rankings: Sequence[Sequence[str]], k: int) -> list[str]:
    """Items of all rankings, best fused score first (ties by id, so the order is deterministic)."""
    scores = rrf_scores(rankings, k)
    return sorted(scores, key=lambda item: (-scores[item], item))


@dataclass
class HybridRanking:
    """Text units found by BM25 and by vector search, fused."""

    ranked: list[str]
    scores: dict[str, float]
    bm25_hits: int
    vector_hits: int


async def hybrid_rank(
    query: str,
    data: IndexData,
    embedder: Embedder,
    settings: Settings,
    k: int | None = None,
    query_vector: np.ndarray | None = None,
) -> HybridRanking:
    """BM25 and vector retrieval (``k`` each, default ``query.basic.top_k``) fused by RRF."""
    opts = settings.query.basic
    k = k or opts.top_k
    lexical = bm25_search(data, query, k)
    dense: list[str] = []
    if data.vectors is not None and data.has_vectors("text_units"):
        if query_vector is None:
            query_vector = np.asarray((await embedder.embed([query]))[0], dtype=np.float32)
        dense = [u for u in vector_search(data, query_vector, k) if u in data.text_unit_by_id]
    scores = rrf_scores([lexical, dense], opts.rrf_k)
    ranked = sorted(scores, key=lambda item: (-scores[item], item))
    return HybridRanking(ranked, scores, len(lexical), len(dense))


@dataclass
class BasicContext:
    text: str
    records: ContextRecords
    ids: ContextIds
    tokens: int
    ranked: list[str]  # the fused ranking, before the budget cut
    bm25_hits: int
    vector_hits: int


async def build_basic_context(
    query: str,
    data: IndexData,
    embedder: Embedder,
    settings: Settings,
    max_tokens: int | None = None,
) -> BasicContext:
    """The best text units for ``query``, in fused order, until ``max_tokens`` is spent."""
    tokenizer = get_tokenizer(settings.chunks.encoding)
    budget = max_tokens or settings.query.basic.max_context_tokens
    hybrid = await hybrid_rank(query, data, embedder, settings)
    section = TableSection(tokenizer, "Sources", ["id", "text"], budget)
    for unit_id in hybrid.ranked:
        if not section.add(unit_id, [data.text_unit_by_id[unit_id].text]):
            break
    text = section.text
    tokens = tokenizer.count(text)
    while tokens > budget and section.rows:
        section.rows.pop()
        section.record_ids.pop()
        text = section.text
        tokens = tokenizer.count(text)
    ids = ContextIds()
    ids.register("sources", section.record_ids)
    return BasicContext(
        text=text,
        records=ContextRecords(text_units=list(section.record_ids)),
        ids=ids,
        tokens=tokens,
        ranked=hybrid.ranked,
        bm25_hits=hybrid.bm25_hits,
        vector_hits=hybrid.vector_hits,
    )
