"""DRIFT search over the hand-made Christmas Carol index: offline (extractive) and over HTTP.

Over HTTP the test server's DRIFT replies (tests/support/replies/drift.py) score answers by word
overlap with the question and raise "What is the role of X?" follow-ups, so the order of the calls, the
budget and the tree can be checked from the server's request log.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import llm_settings
from query_fixtures import offline_settings, open_chat, unit_text
from support import TestLLMServer
from support.server import LogEntry

from graphrag_lite.config.settings import Settings
from graphrag_lite.models.base import Embedder
from graphrag_lite.query.answer import collect
from graphrag_lite.query.drift.budget import REPLY_ALLOWANCE, CallBudget, parse_drift_reply
from graphrag_lite.query.drift.queue import Candidate, FollowUpQueue
from graphrag_lite.query.drift.reduce import reduce_extractive
from graphrag_lite.query.drift.tree import CitationBook, DriftNode
from graphrag_lite.query.engine import DriftOptions, QueryEnv, open_stream, run_query
from graphrag_lite.query.extractive import EXTRACTIVE_LABEL, NO_EVIDENCE, Evidence
from graphrag_lite.query.index_data import IndexData
from graphrag_lite.query.sections import ContextIds

TWO_HOPS = "What does the employer of Bob Cratchit think of Christmas?"
HISTORY = [
    {"role": "user", "content": "Who is Bob Cratchit?"},
    {"role": "assistant", "content": "Scrooge's clerk."},
]
TREE_KEYS = {"question", "answer", "score", "sources", "children"}


def walk(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *(n for child in node["children"] for n in walk(child))]


def drift_settings(server: TestLLMServer, tmp_path: Path, **drift: Any) -> Settings:
    settings = llm_settings(server, tmp_path)
    for key, value in drift.items():
        setattr(settings.query.drift, key, value)
    return settings


def kind(entry: LogEntry) -> str:
    """hyde / primer / follow_up / reduce from the reply module's marker."""
    for marker, name in (
        ("hypothetical", "hyde"),
        ("primer", "primer"),
        ("follow-up", "follow_up"),
        ("reduce", "reduce"),
    ):
        if entry.kind.startswith("drift:") and marker in entry.kind:
            return name
    return entry.kind


# -- offline ---------------------------------------------------------------------------------------------


async def test_offline_two_hop_question_reaches_the_employer(data: IndexData, embedder: Embedder) -> None:
    settings = offline_settings(data.root or Path("."))
    result = await run_query(TWO_HOPS, DriftOptions(), QueryEnv(data, None, embedder, settings))
    assert result.extractive and result.answer.startswith(EXTRACTIVE_LABEL)
    assert result.llm_calls == 0 and result.method == "drift"
    tree = result.to_dict()["tree"]
    # Hop 1: the follow-up about the employer (the question never names him) is asked...
    scrooge = [n for n in walk(tree) if "Ebenezer Scrooge" in n["question"]]
    assert scrooge, [n["question"] for n in walk(tree)]
    # ... hop 2: and answered with what Scrooge says of Christmas.
    assert "humbug" in scrooge[0]["answer"].lower() or "merry christmas" in scrooge[0]["answer"].lower()
    assert any("humbug" in unit_text(data, u).lower() for u in scrooge[0]["sources"]["text_units"])
    # The final answer carries both hops: who the employer is, and his view of Christmas.
    assert "clerk to Ebenezer Scrooge" in result.answer
    assert any("Scrooge" in line and "Christmas" in line for line in result.answer.splitlines())
    cited = {unit_text(data, c.text_unit_id) for c in result.citations}
    assert any("clerk to Ebenezer Scrooge" in text for text in cited)
    assert {c.document_title for c in result.citations} <= {d.title for d in data.documents}


async def test_offline_result_reports_rounds_and_a_ranked_tree(data: IndexData, embedder: Embedder) -> None:
    settings = offline_settings(data.root or Path("."))
    result = await run_query(TWO_HOPS, DriftOptions(), QueryEnv(data, None, embedder, settings))
    extra = result.extra
    assert extra["rounds_run"] == settings.query.drift.rounds
    assert extra["follow_ups_answered"] >= settings.query.drift.follow_ups_per_round
    assert extra["stopped_early"] is None and extra["hyde_method"] == "vocabulary"
    as_json = json.loads(json.dumps(result.to_dict()))
    tree = as_json["tree"]
    assert "tree" not in as_json["extra"] and as_json["extra"]["rounds_run"] == extra["rounds_run"]
    assert tree["question"] == TWO_HOPS and tree["sources"]["reports"]
    for node in walk(tree):
        assert set(node) == TREE_KEYS
        scores = [child["score"] for child in node["children"]]
        assert scores == sorted(scores, reverse=True)
        assert all(u in data.text_unit_by_id for u in node["sources"]["text_units"])
    # Every text unit the tree read is part of the result's context.
    gathered = {u for n in walk(tree) for u in n["sources"]["text_units"]}
    assert gathered <= set(result.context.text_units)


# -- over HTTP -------------------------------------------------------------------------------------------


async def test_calls_run_hyde_primer_follow_ups_by_score_then_reduce(
    data: IndexData, embedder: Embedder, llm_server: TestLLMServer, tmp_path: Path
) -> None:
    per_round = 3
    settings = drift_settings(llm_server, tmp_path, concurrency=1, follow_ups_per_round=per_round)
    async with open_chat(settings) as chat:
        result = await run_query(TWO_HOPS, DriftOptions(), QueryEnv(data, chat, embedder, settings))
    log = llm_server.requests("drift:")
    kinds = [kind(e) for e in log]
    folds = result.extra["primer_folds"]
    assert kinds[0] == "hyde" and kinds[1 : 1 + folds] == ["primer"] * folds
    assert kinds[-1] == "reduce" and kinds.count("reduce") == 1
    assert set(kinds[1 + folds : -1]) == {"follow_up"}
    assert result.llm_calls == len(log) == len(llm_server.requests())
    # The HyDE text (not the bare question) found the reports.
    assert result.extra["hyde_method"] == "llm" and result.extra["hyde"] == log[0].reply.strip()

    # Follow-ups are asked in descending order of the score of the answer that raised them, per round.
    priority: dict[str, int] = {}
    asked: list[int] = []
    for entry in log:
        if kind(entry) in ("primer", "follow_up") and entry.reply.startswith("{"):
            reply = json.loads(entry.reply)
            for question in reply["follow_up_queries"]:
                priority[question] = max(priority.get(question, 0), int(reply["score"]))
        if kind(entry) == "follow_up":
            asked.append(priority[entry.messages[-1]["content"]])
    assert len(asked) == result.extra["follow_ups_answered"] > per_round
    for start in range(0, len(asked), per_round):
        chunk = asked[start : start + per_round]
        assert chunk == sorted(chunk, reverse=True), asked
    assert asked[0] == max(asked[:per_round]) and len(set(asked)) > 1  # scores differ: ordering is real

    # The reduce reads the answers most relevant first and its citations resolve to text units.
    reduce_prompt = log[-1].messages[0]["content"]
    scores = [int(s) for s in re.findall(r"----Finding \d+ \(score (\d+)\)----", reduce_prompt)]
    assert scores == sorted(scores, reverse=True) and len(scores) == result.extra["findings_used"]
    assert "[Data:" in result.answer and result.citations
    assert all(c.text_unit_id in data.text_unit_by_id for c in result.citations)


async def test_tree_in_json_has_the_follow_up_hierarchy(
    data: IndexData, embedder: Embedder, llm_server: TestLLMServer, tmp_path: Path
) -> None:
    settings = drift_settings(llm_server, tmp_path)
    async with open_chat(settings) as chat:
        result = await run_query(TWO_HOPS, DriftOptions(), QueryEnv(data, chat, embedder, settings))
    as_json = result.to_dict()
    tree = as_json["tree"]
    assert tree["question"] == TWO_HOPS and set(tree) == TREE_KEYS
    assert result.extra["depth"] == 2 and result.extra["rounds_run"] == 2
    grandchildren = [g for child in tree["children"] for g in child["children"]]
    assert grandchildren, "round 2 answers hang under the round-1 answers that raised them"
    asked = {e.messages[-1]["content"] for e in llm_server.requests("drift:") if kind(e) == "follow_up"}
    assert {n["question"] for n in walk(tree)[1:]} == asked
    for node in walk(tree)[1:]:
        assert node["question"].startswith("What is the role of ")
        assert node["sources"]["text_units"] and "[Data: Sources (" in node["answer"]
    # Follow-up answers were renumbered into one numbering: a cited source resolves to a real unit.
    ids = [c.text_unit_id for c in result.citations]
    assert ids and all(u in result.context.text_units for u in ids)
    assert json.loads(json.dumps(as_json))["tree"] == tree


async def test_concurrency_cap_is_respected(
    data: IndexData, embedder: Embedder, llm_server: TestLLMServer, tmp_path: Path
) -> None:
    llm_server.delay_s = 0.15
    settings = drift_settings(llm_server, tmp_path, concurrency=2, follow_ups_per_round=4, rounds=1)
    async with open_chat(settings) as chat:
        result = await run_query(TWO_HOPS, DriftOptions(), QueryEnv(data, chat, embedder, settings))
    assert llm_server.max_in_flight == 2  # the folds and the follow-ups did run side by side, never more
    assert result.extra["follow_ups_answered"] == 4


async def test_call_budget_stops_early_and_still_answers(
    data: IndexData, embedder: Embedder, llm_server: TestLLMServer, tmp_path: Path
) -> None:
    settings = drift_settings(llm_server, tmp_path, max_llm_calls=4)
    async with open_chat(settings) as chat:
        result = await run_query(TWO_HOPS, DriftOptions(), QueryEnv(data, chat, embedder, settings))
    kinds = [kind(e) for e in llm_server.requests()]
    assert kinds == ["hyde", "primer", "primer", "reduce"]  # one call was kept for the reduce
    assert result.llm_calls == 4 and result.extra["rounds_run"] == 0
    assert result.extra["stopped_early"] == "max_llm_calls (4) reached"
    assert result.extra["reduce"] == "llm" and result.answer.startswith("In short:")


async def test_token_budget_stops_early(
    data: IndexData, embedder: Embedder, llm_server: TestLLMServer, tmp_path: Path
) -> None:
    settings = drift_settings(llm_server, tmp_path, max_tokens=12000, local_max_context_tokens=2000)
    async with open_chat(settings) as chat:
        result = await run_query(TWO_HOPS, DriftOptions(), QueryEnv(data, chat, embedder, settings))
    assert result.extra["stopped_early"] == "max_tokens (12000) reached"
    assert kind(llm_server.requests()[-1]) == "reduce" and result.extra["reduce"] == "llm"
    # Checked before every call: only a reply's own completion can pass the cap.
    assert result.prompt_tokens <= 12000
    assert result.prompt_tokens + result.completion_tokens <= 12000 + 200 * settings.query.drift.concurrency


async def test_stream_runs_everything_then_streams_the_reduce(
    data: IndexData, embedder: Embedder, llm_server: TestLLMServer, tmp_path: Path
) -> None:
    settings = drift_settings(llm_server, tmp_path, rounds=1)
    async with open_chat(settings) as chat:
        stream = open_stream(
            TWO_HOPS, DriftOptions(history=HISTORY), QueryEnv(data, chat, embedder, settings)
        )
        text, result = await collect(stream)
    log = llm_server.requests("drift:")
    assert [e.stream for e in log] == [False] * (len(log) - 1) + [True]
    assert log[-1].messages[1:-1] == HISTORY  # the conversation reaches the reduce (only)
    assert all(len(e.messages) == 2 for e in log[:-1])
    assert text == result.answer and result.answer.startswith("In short:")
    assert result.to_dict()["tree"]["children"]


# -- parts -----------------------------------------------------------------------------------------------


def test_replies_are_parsed_leniently() -> None:
    fenced = (
        'Sure:\n```json\n{"response": "Bob is the clerk.", "score": "85/100",\n'
        ' "follow_up_queries": [{"query": "Who is Bob?"}, "2. Who is Tim?"],}\n```'
    )
    reply = parse_drift_reply(fenced, max_follow_ups=5)
    assert reply == parse_drift_reply(fenced.replace('"85/100"', "85"), 5)
    assert reply.answer == "Bob is the clerk." and reply.score == 85
    assert reply.follow_ups == ["Who is Bob?", "Who is Tim?"]
    assert parse_drift_reply('{"intermediate_answer": ["a", "b"], "score": 0.7}', 5).score == 70
    assert parse_drift_reply('{"answer": "x", "score": 250, "follow_ups": "Q1?\\nQ2?"}', 1).follow_ups == [
        "Q1?"
    ]
    with pytest.raises(ValueError):
        parse_drift_reply("I cannot answer that.", 5)
    with pytest.raises(ValueError):
        parse_drift_reply('{"follow_up_queries": ["Q?"]}', 5)


def test_citations_are_renumbered_into_one_book() -> None:
    book = CitationBook()
    assert book.number("reports", "r-9") == 1
    first, second = ContextIds(), ContextIds()
    first.register("sources", ["t-a", "t-b"])
    second.register("sources", ["t-c", "t-a"])
    second.register("entities", ["e-1"])
    assert book.renumber("A [Data: Sources (2, 1)].", first) == "A [Data: Sources (1, 2)]."
    text = book.renumber("B [Data: Sources (1, 2, 7); Entities (1)] and [Data: Sources (9)] C.", second)
    assert text == "B [Data: Sources (3, 2); Entities (1)] and C."
    assert book.ids.resolve("sources", "3") == "t-c" and book.ids.resolve("reports", "1") == "r-9"


def test_budget_keeps_a_call_and_tokens_for_the_reduce() -> None:
    spent = [0]
    budget = CallBudget(max_calls=3, max_tokens=2000, spent_tokens=lambda: spent[0])
    # A call holds its prompt plus a reply allowance, and keeps an allowance for its answer in the reduce.
    assert budget.take(100) and budget.pending_tokens == 100 + REPLY_ALLOWANCE
    assert budget.calls_left() == 1
    budget.keep_for_reduce(500)
    assert not budget.take(900) and budget.refused == "max_tokens (2000) reached"
    assert budget.take(500)  # 400 held + 800 for this call + 500 + 300 kept for the reduce = 2000
    budget.settle(100)
    budget.settle(500)
    spent[0] = 1500
    assert budget.pending_tokens == 0 and budget.tokens_left() == 500
    assert budget.exhausted() == "max_tokens (2000) reached"  # the first reason is kept
    assert not budget.take(10)  # the last call belongs to the reduce
    assert budget.take(500, final=True) and budget.calls == 3


async def test_follow_up_queue_ranks_by_parent_score_and_drops_near_duplicates(embedder: Embedder) -> None:
    query = "What does Scrooge think of Christmas?"
    vector = np.asarray((await embedder.embed([query]))[0])
    queue = FollowUpQueue(embedder, query, vector, threshold=0.9)
    weak, strong = DriftNode("weak", score=20), DriftNode("strong", score=80)
    queued = await queue.add(
        [
            Candidate("What is the role of Jacob Marley?", 20, weak),
            Candidate("What is the role of Fred?", 80, strong),
            Candidate("what is the role of fred", 10, weak),  # same question: a duplicate
            Candidate("What does Scrooge think of Christmas?", 90, strong),  # the original question
            Candidate("What is the role of Jacob Marley?", 60, strong),  # promotes the queued one
        ]
    )
    assert queued == 2 and queue.duplicates == 3
    first = queue.pop(1)[0]
    assert first.question == "What is the role of Fred?" and first.parent is strong
    assert [(f.question, f.priority) for f in queue.pop(5)] == [("What is the role of Jacob Marley?", 60)]
    assert await queue.add([Candidate("What is the role of Fred?", 99, strong)]) == 0  # already asked


async def test_a_failing_call_does_not_abort_the_search(
    data: IndexData, embedder: Embedder, llm_server: TestLLMServer, tmp_path: Path
) -> None:
    settings = drift_settings(llm_server, tmp_path, rounds=1)
    llm_server.fail_next("500", 4)  # the HyDE call fails on every attempt (1 + 3 retries)
    async with open_chat(settings) as chat:
        result = await run_query(TWO_HOPS, DriftOptions(), QueryEnv(data, chat, embedder, settings))
    assert result.extra["hyde_method"] == "vocabulary"  # fell back to the question's vocabulary
    assert result.extra["primer_folds"] >= 1 and result.extra["follow_ups_answered"] >= 1
    assert result.answer.startswith("In short:")


async def test_a_round_that_adds_nothing_ends_the_search(data: IndexData, embedder: Embedder) -> None:
    settings = offline_settings(data.root or Path("."))
    settings.query.drift.min_score = 100  # no extractive answer scores this high
    result = await run_query(TWO_HOPS, DriftOptions(), QueryEnv(data, None, embedder, settings))
    assert result.extra["rounds_run"] == 1
    assert result.extra["stopped_early"].startswith("round 1 added nothing new")
    assert result.answer == NO_EVIDENCE  # no answer reached min_score: an honest "nothing matches"


async def test_extractive_reduce_puts_the_hop_before_the_follow_up_it_explains(
    data: IndexData, embedder: Embedder
) -> None:
    # The question's own answer quotes a caption first and the hop second; only its first quote
    # competes for the final answer, yet the hop comes with the quote of the follow-up about Scrooge.
    caption = Evidence(
        "[Illustration: Bob Cratchit went down a slide on Cornhill, in honour of its being Christmas Eve ]",
        "Sources (1)",
    )
    hop = Evidence("Bob Cratchit, clerk to Ebenezer Scrooge.", "Sources (2)")
    humbug = Evidence("'Christmas a humbug, uncle!' said Scrooge's nephew.", "Sources (3)")
    asked = DriftNode(TWO_HOPS, score=60, evidence=[caption, hop])
    scrooge = DriftNode("What is the role of Ebenezer Scrooge?", score=55, evidence=[humbug])
    outcome = await reduce_extractive(TWO_HOPS, [asked, scrooge], data, embedder, None)
    quotes = [line for line in outcome.answer.splitlines() if line.startswith("- ")]
    assert len(quotes) == 3 and f"- {caption.text} [Data: Sources (1)]" in quotes
    assert quotes.index(f"- {hop.text} [Data: Sources (2)]") + 1 == quotes.index(
        f"- {humbug.text} [Data: Sources (3)]"
    )
    # Without the follow-up there is no hop to explain: the question's first quote stands alone.
    alone = await reduce_extractive(TWO_HOPS, [asked], data, embedder, None)
    assert hop.text not in alone.answer
