"""Global search: map-reduce over HTTP, honest 'not found', dynamic selection, extractive, streaming."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import llm_settings
from query_fixtures import offline_settings, open_chat
from support import TestLLMServer

from graphrag_lite.models.base import Embedder
from graphrag_lite.query.answer import collect
from graphrag_lite.query.engine import GlobalOptions, QueryEnv, open_stream, run_query
from graphrag_lite.query.extractive import EXTRACTIVE_LABEL
from graphrag_lite.query.global_.extractive import community_weight
from graphrag_lite.query.global_.search import NOT_FOUND
from graphrag_lite.query.index_data import IndexData

THEMES = "What are the main themes of the story?"
MAP = "query:## What to reply (global search, map"
REDUCE = "query:## How to answer (global search, red"
RATE = "query:## What to reply (global search, rel"


async def test_map_per_batch_then_one_reduce(
    data: IndexData, embedder: Embedder, llm_server: TestLLMServer, tmp_path: Path
) -> None:
    settings = llm_settings(llm_server, tmp_path)
    async with open_chat(settings) as chat:
        # 160 tokens hold one level-0 report: one batch per report.
        result = await run_query(
            THEMES, GlobalOptions(context_tokens=160), QueryEnv(data, chat, embedder, settings)
        )
    maps, reduces = llm_server.requests(MAP), llm_server.requests(REDUCE)
    assert len(maps) == result.extra["map_calls"] >= 2
    assert len(reduces) == 1 and reduces[0].timestamp >= max(m.timestamp for m in maps)
    assert all(m.json_mode for m in maps)
    assert result.llm_calls == len(maps) + 1
    # Every level-0 report went to exactly one batch; the numbers shown are global, not per batch.
    assert sorted(result.context.reports) == sorted(r.id for r in data.reports if r.level == 0)
    shown = sorted(n for m in maps for n in re.findall(r"^\[(\d+)\] ", m.messages[0]["content"], re.M))
    assert shown == ["1", "2"]
    assert "theme of the story" in result.answer and "[Data: Reports (" in result.answer
    assert result.citations and all(c.report_id in result.context.reports for c in result.citations)


async def test_unrelated_question_is_answered_honestly_without_reduce(
    data: IndexData, embedder: Embedder, llm_server: TestLLMServer, tmp_path: Path
) -> None:
    settings = llm_settings(llm_server, tmp_path)
    async with open_chat(settings) as chat:
        result = await run_query(
            "What is the boiling point of mercury?", GlobalOptions(), QueryEnv(data, chat, embedder, settings)
        )
    assert result.answer == NOT_FOUND and not result.citations
    assert len(llm_server.requests(MAP)) == 1 and not llm_server.requests(REDUCE)
    assert result.extra["points_relevant"] == 0


async def test_dynamic_selection_descends_into_relevant_children(
    data: IndexData, embedder: Embedder, llm_server: TestLLMServer, tmp_path: Path
) -> None:
    settings = llm_settings(llm_server, tmp_path)
    settings.query.global_.dynamic_selection = True
    async with open_chat(settings) as chat:
        result = await run_query(
            "Who is the father of Tiny Tim?", GlobalOptions(), QueryEnv(data, chat, embedder, settings)
        )
    # Both roots rated, then the two children of the relevant Cratchit report; one child is kept.
    assert result.extra["reports_rated"] == 4 == len(llm_server.requests(RATE))
    assert result.extra["reports_used"] == 1
    used = data.report_by_id[result.context.reports[0]]
    assert used.title == "Bob Cratchit and Tiny Tim" and used.level == 1
    assert "father of Tiny Tim" in result.answer


async def test_dynamic_selection_keeps_parent_when_no_child_is_relevant(
    data: IndexData, embedder: Embedder, llm_server: TestLLMServer, tmp_path: Path
) -> None:
    settings = llm_settings(llm_server, tmp_path)
    settings.query.global_.dynamic_selection = True
    async with open_chat(settings) as chat:
        result = await run_query(THEMES, GlobalOptions(), QueryEnv(data, chat, embedder, settings))
    assert result.extra == {**result.extra, "reports_rated": 6, "reports_used": 2}
    assert {data.report_by_id[r].level for r in result.context.reports} == {0}


async def test_extractive_global_quotes_report_findings(data: IndexData, embedder: Embedder) -> None:
    settings = offline_settings(data.root or Path("."))
    result = await run_query(THEMES, GlobalOptions(), QueryEnv(data, None, embedder, settings))
    assert result.extractive and result.answer.startswith(EXTRACTIVE_LABEL)
    first_quote = result.answer.splitlines()[2]
    assert "theme of the story" in first_quote and "[Data: Reports (" in first_quote
    assert result.citations and all(c.report_id for c in result.citations)
    assert set(result.context.reports) <= {r.id for r in data.reports if r.level == 0}


async def test_extractive_global_is_an_overview_one_finding_per_community(
    data: IndexData, embedder: Embedder
) -> None:
    settings = offline_settings(data.root or Path("."))
    result = await run_query(THEMES, GlobalOptions(), QueryEnv(data, None, embedder, settings))
    quotes = [line for line in result.answer.splitlines() if line.startswith("- ")]
    cited = [re.findall(r"Reports \((\d+)\)", line) for line in quotes]
    assert len(quotes) >= 2 and all(len(c) == 1 for c in cited)
    assert len({c[0] for c in cited}) == len(quotes), "one finding per community report"
    titles = {r.title for r in data.reports if r.level == 0}
    assert all(any(q.startswith(f"- {t}: ") for t in titles) for q in quotes), quotes
    assert len(result.context.reports) == len(quotes)


def test_community_weight_is_the_share_of_the_largest(data: IndexData) -> None:
    reports = [r for r in data.reports if r.level == 0]
    weight = community_weight(reports, data)
    sizes = {r.id: data.community_by_id[r.community_id].size for r in reports}
    largest = max(sizes, key=lambda rid: sizes[rid])
    assert weight[largest] == 1.0
    assert all(weight[rid] == pytest.approx(sizes[rid] / sizes[largest]) for rid in sizes)


async def test_global_stream_joins_to_answer(
    data: IndexData, embedder: Embedder, llm_server: TestLLMServer, tmp_path: Path
) -> None:
    settings = llm_settings(llm_server, tmp_path)
    async with open_chat(settings) as chat:
        joined, result = await collect(
            open_stream(THEMES, GlobalOptions(), QueryEnv(data, chat, embedder, settings))
        )
    assert joined == result.answer and result.citations
    assert llm_server.requests(REDUCE)[0].stream and not llm_server.requests(MAP)[0].stream
