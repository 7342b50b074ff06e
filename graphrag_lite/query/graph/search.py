"""Graph search: passages ranked by Personalized PageRank over passages and entities
(:mod:`.passage_rank`), packed so each document's best passage comes before any second one, then an answer
from the passages (the basic-search prompt: the context has the same shape)."""

from __future__ import annotations

from graphrag_lite.query.answer import Emit, query_run
from graphrag_lite.query.basic.context import PassageContext, hybrid_rank, pack_passages
from graphrag_lite.query.basic.search import answer_from_passages
from graphrag_lite.query.engine import GraphOptions, QueryEnv
from graphrag_lite.query.graph.passage_rank import rank_for_question
from graphrag_lite.query.result import QueryResult


async def build_graph_context(query: str, env: QueryEnv, max_tokens: int | None = None) -> PassageContext:
    """The passages for ``query`` within ``max_tokens`` (default ``query.graph.max_context_tokens``)."""
    data, settings = env.data, env.settings
    opts = settings.query.graph
    hybrid = await hybrid_rank(query, data, env.embedder, settings)
    ranked = rank_for_question(query, data, hybrid.scores, opts.ranking)
    budget = max_tokens or opts.max_context_tokens
    return pack_passages(ranked, data, settings, budget, hybrid)


async def graph_search(
    query: str, options: GraphOptions, env: QueryEnv, emit: Emit | None = None
) -> QueryResult:
    """Answer ``query`` from the passages the graph walk ranks first."""
    with query_run("graph", env.chat) as run:
        context = await build_graph_context(query, env, options.context_tokens)
        extra = {"ranked_units": len(context.ranked)}
        return await answer_from_passages(query, context, env, run, emit, extra)
