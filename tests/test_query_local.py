"""Local search over the hand-made Christmas Carol index: extractive and over HTTP, budgets, streaming."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from conftest import llm_settings
from query_fixtures import carol_index, offline_settings, open_chat, unit_text
from support import TestLLMServer

from graphrag_lite.errors import IndexNotFoundError
from graphrag_lite.models.base import Embedder
from graphrag_lite.models.tokens import count_tokens
from graphrag_lite.query.answer import collect
from graphrag_lite.query.engine import LocalOptions, QueryEnv, open_stream, run_query
from graphrag_lite.query.extractive import EXTRACTIVE_LABEL
from graphrag_lite.query.index_data import IndexData
from graphrag_lite.query.local.context import build_local_context
from graphrag_lite.query.sections import Covered

QUESTION = "Who is Tiny Tim's father?"


async def test_context_matches_named_entity_and_its_relationships(
    data: IndexData, embedder: Embedder
) -> None:
    settings = offline_settings(data.root or Path("."))
    context = await build_local_context(QUESTION, data, embedder, settings)
    tiny_tim = data.find_entity("Tiny Tim")
    assert tiny_tim is not None
    assert context.entities[0].entity_id == tiny_tim.id and context.entities[0].how == "name"
    # The in-network father relationship is in the context, with its description.
    assert "Bob Cratchit is Tiny Tim's father" in context.text
    # The best-ranked text unit carries Tiny Tim.
    assert "Tiny Tim" in unit_text(data, context.records.text_units[0])
    assert context.tokens <= settings.query.local.max_context_tokens


async def test_extractive_answer_cites_bob_cratchit(data: IndexData, embedder: Embedder) -> None:
    settings = offline_settings(data.root or Path("."))
    result = await run_query(QUESTION, LocalOptions(), QueryEnv(data, None, embedder, settings))
    assert result.extractive and result.answer.startswith(EXTRACTIVE_LABEL)
    assert result.llm_calls == 0
    assert result.citations, result.answer
    cited_texts = [unit_text(data, c.text_unit_id) for c in result.citations]
    assert any("Bob" in t and "Tiny Tim" in t for t in cited_texts)
    assert {c.document_title for c in result.citations} <= {d.title for d in data.documents}
    as_json = result.to_dict()
    assert as_json["method"] == "local" and as_json["context"]["entities"]
    assert "context_text" not in as_json


async def test_llm_answer_over_http_cites_sources(
    data: IndexData, embedder: Embedder, llm_server: TestLLMServer, tmp_path: Path
) -> None:
    settings = llm_settings(llm_server, tmp_path)
    async with open_chat(settings) as chat:
        result = await run_query(QUESTION, LocalOptions(), QueryEnv(data, chat, embedder, settings))
    calls = llm_server.requests("query:")
    assert len(calls) == 1 and "-----Sources-----" in calls[0].messages[0]["content"]
    assert calls[0].messages[-1]["content"] == QUESTION
    assert not result.extractive and "[Data: Sources (" in result.answer
    assert result.llm_calls == 1 and result.prompt_tokens > 1000 and result.completion_tokens > 0
    assert any("Bob" in unit_text(data, c.text_unit_id) for c in result.citations)
    assert all(c.text_unit_id in result.context.text_units for c in result.citations)


@pytest.mark.parametrize("budget", [600, 1500])
async def test_small_budget_is_respected(data: IndexData, embedder: Embedder, budget: int) -> None:
    settings = offline_settings(data.root or Path("."))
    result = await run_query(
        QUESTION, LocalOptions(context_tokens=budget), QueryEnv(data, None, embedder, settings)
    )
    assert result.context_text is not None
    assert count_tokens(result.context_text) <= budget
    assert result.context.text_units and result.context.entities
    shares = result.extra["section_tokens"]
    assert shares["reports"] <= 0.15 * budget
    assert shares["entities"] + shares["relationships"] <= 0.35 * budget


async def test_small_budget_goes_to_the_passages_first(data: IndexData, embedder: Embedder) -> None:
    # At 600 tokens the passages get most of the budget (the old fixed shares left them 268 tokens: one
    # passage behind 200 tokens of entities and 80 of reports); the tables keep only what is left.
    settings = offline_settings(data.root or Path("."))
    for question in (QUESTION, "Who went down a slide on Cornhill?"):
        context = await build_local_context(question, data, embedder, settings, 600)
        shares = context.section_tokens
        assert shares["sources"] >= 0.8 * context.tokens and len(context.records.text_units) >= 2
        assert shares["entities"] + shares["relationships"] + shares["reports"] <= 0.2 * 600
        assert context.tokens <= 600
    # Above query.local.units_first_up_to its shares apply: reports and relationships are back.
    above = settings.query.local.units_first_up_to + 500
    context = await build_local_context(QUESTION, data, embedder, settings, above)
    assert context.section_tokens["reports"] > 0 and context.section_tokens["relationships"] > 0


async def test_small_budget_tables_only_add_what_the_passages_do_not_say(
    data: IndexData, embedder: Embedder
) -> None:
    # A fast index copies entity descriptions from the passages: Tiny Tim's description here repeats
    # the line of the passage that answers the question, plus one sentence found nowhere else.
    settings = offline_settings(data.root or Path("."))
    copied = 'Tim Cratchit ("Tiny Tim"), a cripple, youngest son of Bob Cratchit.'
    novel = "He is carried on his father's shoulder to church."
    tiny_tim = data.find_entity("Tiny Tim")
    assert tiny_tim is not None
    entities = [
        dataclasses.replace(e, description=f"{copied} {novel}") if e.id == tiny_tim.id else e
        for e in data.entities
    ]
    fast = dataclasses.replace(data, entities=entities, cache={})
    context = await build_local_context(QUESTION, fast, embedder, settings, 600)
    sources = context.text.split("-----Sources-----")[1]
    assert copied in sources and tiny_tim.id in context.records.entities
    assert novel in context.text and copied not in context.text.split("-----Sources-----")[0]
    # Only the copy: the row would add nothing, so Tiny Tim gets none and the passages keep the room.
    entities = [
        dataclasses.replace(e, description=copied) if e.id == tiny_tim.id else e for e in data.entities
    ]
    context = await build_local_context(
        QUESTION, dataclasses.replace(data, entities=entities, cache={}), embedder, settings, 600
    )
    assert tiny_tim.id not in context.records.entities


def test_covered_drops_sentences_and_quotes_the_passages_hold() -> None:
    covered = Covered(["The population was 301 at the 2000 census. It lies on the river."])
    relationship = (
        'census and Population are mentioned in the same sentence 43 times. Evidence: "The population was '
        '301 at the 2000 census."'
    )
    assert covered.novel(relationship) == "census and Population are mentioned in the same sentence 43 times."
    assert covered.novel("It lies on the river. It lies on the river.") == ""
    assert covered.novel("The town lies on the river Ouse.") == "The town lies on the river Ouse."
    assert covered.novel("It lies on the riverbank.") != ""  # words, not prefixes of words


async def test_history_is_included(data: IndexData, embedder: Embedder) -> None:
    settings = offline_settings(data.root or Path("."))
    history = [
        {"role": "user", "content": "Tell me about the Cratchit family."},
        {"role": "assistant", "content": "They are Scrooge's clerk's family."},
    ]
    context = await build_local_context("And his father?", data, embedder, settings, 2000, history=history)
    assert context.text.startswith("-----Conversation History-----\nuser: Tell me about the Cratchit family.")
    assert count_tokens(context.text) <= 2000


async def test_stream_deltas_join_to_answer(
    data: IndexData, embedder: Embedder, llm_server: TestLLMServer, tmp_path: Path
) -> None:
    settings = llm_settings(llm_server, tmp_path)
    async with open_chat(settings) as chat:
        joined, result = await collect(
            open_stream(QUESTION, LocalOptions(), QueryEnv(data, chat, embedder, settings))
        )
    assert joined == result.answer and "[Data: Sources (" in joined
    assert llm_server.requests("query:")[0].stream
    assert result.llm_calls == 1 and result.citations


async def test_extractive_stream_is_one_delta(data: IndexData, embedder: Embedder) -> None:
    settings = offline_settings(data.root or Path("."))
    stream = open_stream(QUESTION, LocalOptions(), QueryEnv(data, None, embedder, settings))
    deltas = [d async for d in stream]
    assert stream.result is not None and deltas == [stream.result.answer]


def test_missing_or_partial_index_says_what_to_run(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    empty = offline_settings(tmp_path)
    with pytest.raises(IndexNotFoundError, match="graphrag-lite index --root"):
        IndexData.load(empty)
    partial = tmp_path / "partial"
    shutil.copytree(carol_index(tmp_path_factory.getbasetemp()) / "output", partial / "output")
    (partial / "output" / "community_reports.parquet").unlink()
    with pytest.raises(IndexNotFoundError, match=r"incomplete \(missing: community_reports\).*again"):
        IndexData.load(offline_settings(partial))
    shutil.rmtree(partial / "output" / "lancedb")
    shutil.copy(
        carol_index(tmp_path_factory.getbasetemp()) / "output" / "community_reports.parquet",
        partial / "output",
    )
    with pytest.raises(IndexNotFoundError, match="embeddings"):
        IndexData.load(offline_settings(partial))
