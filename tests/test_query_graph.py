"""Graph search end to end: passages ranked by passage PageRank, extractive and over HTTP, streamed."""

from __future__ import annotations

from pathlib import Path

from conftest import llm_settings
from query_fixtures import offline_settings, open_chat, unit_text
from support import TestLLMServer

from graphrag_lite.models.base import Embedder
from graphrag_lite.models.tokens import count_tokens
from graphrag_lite.query.answer import collect
from graphrag_lite.query.engine import GraphOptions, QueryEnv, open_stream, options_for, run_query
from graphrag_lite.query.graph.search import build_graph_context
from graphrag_lite.query.index_data import IndexData

CORNHILL = "Who went down a slide on Cornhill?"


async def test_graph_context_puts_the_passage_first_and_keeps_the_budget(
    data: IndexData, embedder: Embedder
) -> None:
    env = QueryEnv(data, None, embedder, offline_settings(data.root or Path(".")))
    context = await build_graph_context(CORNHILL, env, 600)
    assert "slide on Cornhill" in unit_text(data, context.records.text_units[0])
    assert 0 < count_tokens(context.text) <= 600
    # skip-packing: every passage that would still fit after the last one in was tried
    assert len(context.records.text_units) >= 2


async def test_extractive_graph_answer_quotes_the_passage(data: IndexData, embedder: Embedder) -> None:
    settings = offline_settings(data.root or Path("."))
    assert options_for("graph", context_tokens=900) == GraphOptions(context_tokens=900)
    result = await run_query(CORNHILL, GraphOptions(), QueryEnv(data, None, embedder, settings))
    assert result.method == "graph" and result.extractive
    assert any("Cornhill" in unit_text(data, c.text_unit_id) for c in result.citations)
    assert result.context.entities == [] and result.context.reports == []


async def test_graph_over_http_and_streamed(
    data: IndexData, embedder: Embedder, llm_server: TestLLMServer, tmp_path: Path
) -> None:
    settings = llm_settings(llm_server, tmp_path)
    async with open_chat(settings) as chat:
        env = QueryEnv(data, chat, embedder, settings)
        result = await run_query(CORNHILL, GraphOptions(context_tokens=800), env)
        joined, streamed = await collect(open_stream(CORNHILL, GraphOptions(), env))
    calls = llm_server.requests("query:## How to answer (basic")
    assert len(calls) == 2 and count_tokens(calls[0].messages[0]["content"]) < 1200
    assert "Cornhill" in result.answer and result.llm_calls == 1
    assert joined == streamed.answer and streamed.method == "graph"
