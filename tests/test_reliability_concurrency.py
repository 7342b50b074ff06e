"""50 concurrent queries on one GraphRAG instance: all answer, and the HTTP load stays within the limits.

The server holds every reply for a moment so requests overlap; it counts requests in flight and open TCP
connections. Chat requests are bounded by llm.concurrency and embedding requests by
embeddings.concurrency, however many queries run at once, and connections are reused rather than opened
per request.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from conftest import TEST_API_KEY
from reliability_project import make_project
from support.server import TestLLMServer

from graphrag_lite.api.facade import GraphRAG
from graphrag_lite.query.result import QueryResult

LLM_CONCURRENCY = 4
EMBED_CONCURRENCY = 2  # reliability_project's embeddings.concurrency
QUERIES = 50
METHODS = ("local", "global", "drift", "basic", "graph")
SUBJECTS = ("Scrooge", "Marley", "Bob Cratchit", "the counting-house", "Fred", "Christmas", "the ghost")


def _questions() -> list[tuple[str, str]]:
    """50 distinct (method, question) pairs, methods interleaved so all four run at the same time."""
    return [
        (
            METHODS[i % len(METHODS)],
            f"Question {i}: what does the story say about {SUBJECTS[i % len(SUBJECTS)]}?",
        )
        for i in range(QUERIES)
    ]


def test_fifty_concurrent_queries_on_one_instance_stay_within_the_connection_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRAPHRAG_API_KEY", TEST_API_KEY)
    root = tmp_path / "proj"
    with TestLLMServer() as indexer:
        make_project(root, indexer, concurrency=LLM_CONCURRENCY)
        with GraphRAG(root) as rag:
            rag.index(method="standard")
    questions = _questions()

    async def ask_all(rag: GraphRAG) -> list[QueryResult | BaseException]:
        calls = [rag.aquery(question, method=method) for method, question in questions]
        return await asyncio.gather(*calls, return_exceptions=True)

    # A fresh server for the queries, so it sees only their connections. Every reply takes a moment:
    # without a bound, requests and connections would pile up.
    with TestLLMServer(api_key=TEST_API_KEY, delay_s=0.05) as server:
        make_project(root, server, corpus=False, concurrency=LLM_CONCURRENCY)  # points settings at it
        with GraphRAG(root) as rag:
            results = asyncio.run(ask_all(rag))
        log = server.log

    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors[:3]
    answered = [r for r in results if isinstance(r, QueryResult)]
    assert [r.method for r in answered] == [method for method, _ in questions]
    assert all(r.answer.strip() and not r.extractive for r in answered)
    assert all(e.status == 200 for e in log), Counter(e.status for e in log)

    chats = [e for e in log if e.path.endswith("/chat/completions")]
    embeddings = [e for e in log if e.path.endswith("/embeddings")]
    assert len(chats) >= QUERIES and embeddings  # every query went to the server
    bound = LLM_CONCURRENCY + EMBED_CONCURRENCY
    assert LLM_CONCURRENCY <= server.max_in_flight <= bound, server.max_in_flight
    assert server.max_connections <= bound, server.max_connections
    assert server.total_connections <= bound, (
        f"{server.total_connections} connections for {len(log)} requests"
    )
