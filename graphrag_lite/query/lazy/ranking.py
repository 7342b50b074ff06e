"""One score per text unit for a question and its sub-queries: each query ranks the units as graph search
does (BM25 + vectors seeding the passage walk), and the rankings are fused by reciprocal rank, so a unit
near the top for any aspect of the question is near the top overall."""

from __future__ import annotations

from collections.abc import Sequence

from graphrag_lite.query.basic.context import hybrid_rank
from graphrag_lite.query.engine import QueryEnv
from graphrag_lite.query.graph.passage_rank import rank_for_question

RRF_K = 60  # the usual reciprocal-rank constant: rank 1 scores 1/61, rank 60 half of that


async def fused_unit_scores(queries: Sequence[str], env: QueryEnv) -> dict[str, float]:
    """Unit id -> summed reciprocal rank over ``queries`` (units no query ranks are left out)."""
    scores: dict[str, float] = {}
    for query in dict.fromkeys(queries):
        hybrid = await hybrid_rank(query, env.data, env.embedder, env.settings)
        ranked = rank_for_question(query, env.data, hybrid.scores, env.settings.query.graph.ranking)
        for rank, unit_id in enumerate(ranked, start=1):
            scores[unit_id] = scores.get(unit_id, 0.0) + 1.0 / (RRF_K + rank)
    return scores
