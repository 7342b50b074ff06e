"""Lazy search: the budget is a hard limit, judging deepens only where units were relevant, the answer
cites units from several communities, a repeated question is free, and it runs offline too.

The HTTP tests run over a real ``fast`` (spaCy, no LLM) index of a slice of the ms_podcast corpus
(tests/data/ms_podcast_slice), built once for the module.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from conftest import llm_settings
from query_fixtures import offline_settings, open_chat
from support import TestLLMServer
from typer.testing import CliRunner

from graphrag_lite.api.facade import GraphRAG
from graphrag_lite.cli.main import app
from graphrag_lite.config.settings import Settings
from graphrag_lite.errors import ConfigError
from graphrag_lite.models.base import Embedder
from graphrag_lite.models.factory import create_embedder
from graphrag_lite.query.answer import collect
from graphrag_lite.query.engine import LazyOptions, QueryEnv, open_stream, options_for, run_query
from graphrag_lite.query.extractive import EXTRACTIVE_LABEL
from graphrag_lite.query.index_data import IndexData
from graphrag_lite.query.lazy.frontier import Frontier, Visit
from graphrag_lite.query.lazy.steps import NOT_FOUND

SLICE = Path(__file__).parent / "data" / "ms_podcast_slice" / "podcast.jsonl"
QUESTION = "What do the guests say about artificial intelligence and computers?"
RELEVANCE = "lazy:## What to reply (lazy search, relevance"
CLAIMS = "lazy:## What to reply (lazy search, claims"
SUBQUERIES = "lazy:## What to reply (lazy search, sub-quer"
REDUCE = "lazy:## How to answer (lazy search, reduce"
SETTINGS = """input:
  dir: input
  file_types: [jsonl]
  text_column: text
  title_column: title
  id_column: doc_id
"""


@pytest.fixture(scope="module")
def podcast(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fast index of the podcast slice (no LLM)."""
    root = tmp_path_factory.mktemp("podcast")
    (root / "input").mkdir()
    shutil.copy(SLICE, root / "input" / SLICE.name)
    (root / "settings.yaml").write_text(SETTINGS)
    with GraphRAG(root, settings=offline_settings(root)) as rag:
        rag.index(method="fast")
    return root


@pytest.fixture(scope="module")
def podcast_data(podcast: Path) -> IndexData:
    return IndexData.load(offline_settings(podcast))


@pytest.fixture(scope="module")
def podcast_embedder(podcast: Path) -> Embedder:
    return create_embedder(offline_settings(podcast))


def _settings(server: TestLLMServer, podcast: Path, tmp_path: Path, **lazy: Any) -> Settings:
    settings = llm_settings(server, podcast)
    settings.cache.dir = tmp_path / "cache"  # each test starts with an empty LLM cache
    for key, value in lazy.items():
        setattr(settings.query.lazy, key, value)
    return settings


@contextlib.asynccontextmanager
async def _llm_env(
    server: TestLLMServer, podcast: Path, data: IndexData, embedder: Embedder, tmp_path: Path, **lazy: Any
) -> AsyncIterator[QueryEnv]:
    """A query environment over the podcast index whose LLM is ``server``."""
    settings = _settings(server, podcast, tmp_path, **lazy)
    async with open_chat(settings) as chat:
        yield QueryEnv(data, chat, embedder, settings)


def _relevance_units(server: TestLLMServer) -> list[int]:
    """Units shown per relevance call."""
    return [len(re.findall(r"^\d+\|", e.messages[0]["content"], re.M)) for e in server.requests(RELEVANCE)]


async def test_budget_100_stays_within_budget_and_cites_several_communities(
    podcast: Path,
    podcast_data: IndexData,
    podcast_embedder: Embedder,
    llm_server: TestLLMServer,
    tmp_path: Path,
) -> None:
    async with _llm_env(llm_server, podcast, podcast_data, podcast_embedder, tmp_path) as env:
        result = await run_query(QUESTION, LazyOptions(budget=100), env)
    shown = _relevance_units(llm_server)
    assert sum(shown) == result.extra["relevance_tests"] <= 100
    assert max(shown) <= env.settings.query.lazy.units_per_test
    assert result.llm_calls == len(llm_server.requests()) <= 110
    assert len(llm_server.requests(SUBQUERIES)) == 1 and len(llm_server.requests(REDUCE)) == 1
    assert len(llm_server.requests(CLAIMS)) == result.extra["claim_calls"] >= 1
    trace = result.extra["lazy"]
    assert trace["subqueries"] and trace["tests"] == sum(shown) and trace["budget"] == 100
    assert 0 < trace["relevant"] < trace["tests"]
    # The answer cites text units, and they come from several communities.
    assert "[Data: Sources (" in result.answer and not result.extractive
    cited = {c.text_unit_id for c in result.citations}
    assert cited and cited <= set(result.context.text_units)
    communities = {c.id for c in podcast_data.communities if c.level == 0 and cited & set(c.text_unit_ids)}
    assert len(communities) >= 2
    assert result.prompt_tokens > 0 and result.completion_tokens > 0


async def test_the_budget_is_never_exceeded_and_a_bigger_one_goes_deeper(
    podcast: Path,
    podcast_data: IndexData,
    podcast_embedder: Embedder,
    llm_server: TestLLMServer,
    tmp_path: Path,
) -> None:
    async with _llm_env(
        llm_server, podcast, podcast_data, podcast_embedder, tmp_path, units_per_test=6, concurrency=3
    ) as env:
        small = await run_query(QUESTION, LazyOptions(budget=17), env)
        calls_small = len(llm_server.requests(RELEVANCE))
        large = await run_query(QUESTION, LazyOptions(budget=60), env)
    assert small.extra["relevance_tests"] == 17  # 17 is not a multiple of 6: the last call is cut to fit
    assert sum(_relevance_units(llm_server)[:calls_small]) == 17
    assert large.extra["relevance_tests"] == 60
    assert large.extra["relevant_units"] > small.extra["relevant_units"]
    levels = [node["level"] for node in _nodes(large.extra["lazy"]["communities"])]
    assert max(levels) >= 1  # relevant communities were opened into their sub-communities


def _nodes(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [n for node in nodes for n in (node, *_nodes(node["children"]))]


async def test_a_repeated_question_is_answered_from_the_cache(
    podcast: Path,
    podcast_data: IndexData,
    podcast_embedder: Embedder,
    llm_server: TestLLMServer,
    tmp_path: Path,
) -> None:
    async with _llm_env(llm_server, podcast, podcast_data, podcast_embedder, tmp_path) as env:
        first = await run_query(QUESTION, LazyOptions(budget=40), env)
        sent = len(llm_server.requests())
        again = await run_query(QUESTION, LazyOptions(budget=40), env)
    assert len(llm_server.requests()) == sent and again.llm_calls == 0
    assert again.answer == first.answer and again.extra["lazy"] == first.extra["lazy"]


async def test_streaming_gives_the_same_answer(
    podcast: Path,
    podcast_data: IndexData,
    podcast_embedder: Embedder,
    llm_server: TestLLMServer,
    tmp_path: Path,
) -> None:
    async with _llm_env(llm_server, podcast, podcast_data, podcast_embedder, tmp_path) as env:
        whole = await run_query(QUESTION, LazyOptions(budget=24), env)
        stream = open_stream(QUESTION, LazyOptions(budget=24), env)
        text, streamed = await collect(stream)
    assert text == whole.answer == streamed.answer


async def test_failed_relevance_calls_are_counted_and_spent(
    podcast: Path,
    podcast_data: IndexData,
    podcast_embedder: Embedder,
    llm_server: TestLLMServer,
    tmp_path: Path,
) -> None:
    llm_server.reply_matching(RELEVANCE.split(":", 1)[1], reply="I think passages 1 and 2.")
    async with _llm_env(llm_server, podcast, podcast_data, podcast_embedder, tmp_path) as env:
        result = await run_query(QUESTION, LazyOptions(budget=16), env)
    nodes = _nodes(result.extra["lazy"]["communities"])
    assert sum(n["failed_calls"] for n in nodes) == len(nodes) >= 1
    assert result.extra["relevance_tests"] == 16  # a failed test still spends its budget
    assert result.answer == NOT_FOUND and not result.citations


async def test_offline_lazy_quotes_one_passage_per_community(
    podcast_data: IndexData, podcast_embedder: Embedder, podcast: Path
) -> None:
    env = QueryEnv(podcast_data, None, podcast_embedder, offline_settings(podcast))
    result = await run_query(QUESTION, LazyOptions(budget=40), env)
    assert result.extractive and result.llm_calls == 0
    assert result.answer.startswith(EXTRACTIVE_LABEL)
    assert result.extra["relevance_tests"] <= 40 and result.extra["lazy"]["subqueries"] == []
    cited = [c.text_unit_id for c in result.citations]
    assert cited and set(cited) <= set(result.context.text_units)


def test_frontier_deepens_only_into_relevant_communities(podcast_data: IndexData) -> None:
    scores = {u.id: 1.0 / (1 + i) for i, u in enumerate(podcast_data.text_units)}
    frontier = Frontier(podcast_data, scores, units_per_test=4)
    wave = frontier.next_wave(visits=100, tests_left=10_000)
    roots = {c.id for c in podcast_data.communities if c.level == 0}
    assert {v.community_id for v in wave} - {""} <= roots
    assert len({u for v in wave for u in v.unit_ids}) == sum(len(v.unit_ids) for v in wave)  # no unit twice
    keep = next(
        v
        for v in wave
        if podcast_data.community_by_id.get(v.community_id, None)
        and podcast_data.community_by_id[v.community_id].children
    )
    keep.relevant = keep.unit_ids[:1]
    frontier.record(wave)
    following = frontier.next_wave(visits=100, tests_left=10_000)
    children = set(podcast_data.community_by_id[keep.community_id].children)
    assert following and {v.community_id for v in following} <= children
    assert not {u for v in following for u in v.unit_ids} & {u for v in wave for u in v.unit_ids}


def test_frontier_waves_respect_the_tests_left(podcast_data: IndexData) -> None:
    scores = {u.id: 1.0 for u in podcast_data.text_units}
    frontier = Frontier(podcast_data, scores, units_per_test=8)
    wave = frontier.next_wave(visits=5, tests_left=11)
    assert [len(v.unit_ids) for v in wave] == [8, 3]
    assert isinstance(wave[0], Visit)


def test_options_and_cli(podcast: Path) -> None:
    assert options_for("lazy", budget=500, context_tokens=900) == LazyOptions(budget=500, context_tokens=900)
    with pytest.raises(ConfigError, match="at least 1"):
        LazyOptions(budget=0)
    result = CliRunner().invoke(
        app, ["query", QUESTION, "--root", str(podcast), "--method", "lazy", "--budget", "24", "--show-tree"]
    )
    assert result.exit_code == 0, result.output
    assert "Lazy search: 24 of 24 relevance tests" in result.output
    assert "level 0:" in result.output and EXTRACTIVE_LABEL in result.output
