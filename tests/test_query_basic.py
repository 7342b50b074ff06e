"""Basic search: hybrid BM25 + vector retrieval over text units, extractive and over HTTP."""

from __future__ import annotations

from pathlib import Path

from conftest import llm_settings
from query_fixtures import offline_settings, open_chat, unit_text
from support import TestLLMServer

from graphrag_lite.models.base import Embedder
from graphrag_lite.models.tokens import count_tokens
from graphrag_lite.query.answer import collect
from graphrag_lite.query.basic.context import bm25_index, bm25_search, build_basic_context
from graphrag_lite.query.engine import BasicOptions, QueryEnv, open_stream, run_query
from graphrag_lite.query.index_data import IndexData

CORNHILL = "Who went down a slide on Cornhill?"


async def test_hybrid_retrieval_puts_the_right_passage_first(data: IndexData, embedder: Embedder) -> None:
    settings = offline_settings(data.root or Path("."))
    context = await build_basic_context(CORNHILL, data, embedder, settings, 1000)
    assert "slide on Cornhill" in unit_text(data, context.records.text_units[0])
    assert context.bm25_hits > 0 and context.vector_hits > 0
    assert count_tokens(context.text) <= 1000
    # BM25 alone ranks the passage first too, and its index is built once per IndexData.
    assert "Cornhill" in unit_text(data, bm25_search(data, CORNHILL, 5)[0])
    assert bm25_index(data) is bm25_index(data)
    assert bm25_search(data, "the of and", 5) == []


async def test_extractive_basic_answer_quotes_the_passage(data: IndexData, embedder: Embedder) -> None:
    settings = offline_settings(data.root or Path("."))
    result = await run_query(CORNHILL, BasicOptions(), QueryEnv(data, None, embedder, settings))
    assert result.extractive and "slide on Cornhill" in result.answer.splitlines()[2]
    assert any("Cornhill" in unit_text(data, c.text_unit_id) for c in result.citations)
    assert result.context.entities == [] and result.context.reports == []


async def test_basic_over_http_and_streamed(
    data: IndexData, embedder: Embedder, llm_server: TestLLMServer, tmp_path: Path
) -> None:
    settings = llm_settings(llm_server, tmp_path)
    async with open_chat(settings) as chat:
        result = await run_query(
            CORNHILL, BasicOptions(context_tokens=800), QueryEnv(data, chat, embedder, settings)
        )
        joined, streamed = await collect(
            open_stream(CORNHILL, BasicOptions(), QueryEnv(data, chat, embedder, settings))
        )
    calls = llm_server.requests("query:## How to answer (basic")
    assert len(calls) == 2 and count_tokens(calls[0].messages[0]["content"]) < 1200
    assert "Cornhill" in result.answer and "[Data: Sources (1" in result.answer
    assert any("Cornhill" in unit_text(data, c.text_unit_id) for c in result.citations)
    assert joined == streamed.answer and streamed.llm_calls == 1
