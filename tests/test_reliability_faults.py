"""A flaky LLM server: 30% of requests fail (429, 500, timeouts, dropped connections, malformed and empty
replies). Indexing completes, stats.json lists the retries and the items that failed after them, and the
next `index` sends requests only for those items: everything that was answered comes from the LLM cache.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from conftest import TEST_API_KEY
from reliability_project import answered, make_project, read_stats, request_key
from support.replies.extraction import EXTRACT_MARKER, GLEAN_MARKER, SUMMARY_MARKER
from support.replies.reports import REPORT_MARKER
from support.server import FAULT_KINDS, FaultPlan, LogEntry, TestLLMServer
from typer.testing import CliRunner

from graphrag_lite.api.facade import GraphRAG
from graphrag_lite.cli.main import app
from graphrag_lite.store.tables import read_table

# Seed 136 puts every fault kind into the first 30 decisions, and twice into the first 40 (a run makes more).
# max_repeats=2 with llm.max_retries=2: a random fault never defeats a request, only the pinned ones do.
FLAKY = FaultPlan(rate=0.3, seed=136, max_repeats=2)
PINNED_PHRASE = "regard a coffin-nail as the deadest piece of"  # in one text unit of part1.txt
HAMLET_ROW = "|Hamlet|person|"  # his row in a report's entity table
TABLES = ("documents", "text_units", "entities", "relationships", "communities", "community_reports")


@pytest.fixture
def flaky_server() -> TestLLMServer:
    with TestLLMServer(faults=FLAKY, timeout_s=2.5, retry_after_ms=10) as server:
        yield server


def _index(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPHRAG_API_KEY", TEST_API_KEY)
    with GraphRAG(root) as rag:
        rag.index(method="standard")


def _failed(stats: dict, step: str) -> dict[str, str]:
    return {f["item"]: f["reason"] for f in stats["steps"][step]["failures"]}


def _is(entry: LogEntry, marker: str) -> bool:
    return any(marker in m["content"] for m in entry.messages)


def test_index_survives_mixed_faults_and_the_next_run_resends_only_failed_chunks(
    flaky_server: TestLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project(tmp_path / "proj", flaky_server)
    flaky_server.fail_matching(EXTRACT_MARKER, PINNED_PHRASE, kind="500")  # first pass of one unit
    _index(root, monkeypatch)
    first = flaky_server.log

    # Faults of every kind were served, at roughly the planned rate.
    served = Counter(e.fault for e in first if e.fault is not None and not _is(e, PINNED_PHRASE))
    assert set(served) == set(FAULT_KINDS), served
    assert 0.15 < sum(served.values()) / len(first) < 0.45

    # The index completed: every table, every report, the vectors.
    output = root / "output"
    for name in TABLES:
        assert len(read_table(output, name)) > 0, name
    assert len(read_table(output, "community_reports")) == len(read_table(output, "communities"))
    assert (output / "lancedb" / ".complete").is_file()

    # stats.json: retries per step and in total, the failed unit with its reason.
    stats = read_stats(root)
    assert stats["steps"]["extract_graph"]["retries"] > 0
    assert stats["totals"]["retries"] >= sum(s.get("retries", 0) for s in stats["steps"].values()) > 0
    units = read_table(output, "text_units")
    pinned = set(units[units["text"].str.contains(PINNED_PHRASE, regex=False)]["id"])
    assert len(pinned) == 1
    failed = _failed(stats, "extract_graph")
    assert set(failed) == pinned
    assert all("HTTP 500" in reason and "after 2 retries" in reason for reason in failed.values()), failed
    assert stats["steps"]["extract_graph"]["stats"]["failed_units"] == 1
    for step in ("summarize_descriptions", "community_reports", "embed"):
        assert _failed(stats, step) == {}, step

    # The server recovers; the next run re-sends the failed unit's requests and nothing answered before.
    flaky_server.clear_rules()
    flaky_server.faults = FaultPlan()
    flaky_server.clear_log()
    _index(root, monkeypatch)
    second = flaky_server.log
    done_before = {request_key(e) for e in first if answered(e)}
    repeated = [e.kind for e in second if request_key(e) in done_before]
    assert not repeated, f"{len(repeated)} requests answered in the first run were sent again: {repeated}"
    extraction = [e for e in second if _is(e, EXTRACT_MARKER)]
    assert extraction and all(_is(e, PINNED_PHRASE) for e in extraction)
    # and at most that unit's one gleaning round (it sends sentences with missed names, maybe not the phrase)
    assert len([e for e in second if _is(e, GLEAN_MARKER)]) <= 1
    assert {request_key(e) for e in extraction if _is(e, EXTRACT_MARKER)} == {
        request_key(e) for e in first if _is(e, EXTRACT_MARKER) and _is(e, PINNED_PHRASE)
    }
    stats = read_stats(root)
    assert all(not step["failures"] for step in stats["steps"].values())
    assert stats["steps"]["extract_graph"]["stats"]["failed_units"] == 0


def test_failed_reports_are_listed_and_only_they_are_asked_again(
    flaky_server: TestLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project(tmp_path / "proj", flaky_server)
    flaky_server.fail_matching(REPORT_MARKER, HAMLET_ROW, kind="empty")  # reports listing him
    _index(root, monkeypatch)
    first = flaky_server.log

    stats = read_stats(root)
    failed = _failed(stats, "community_reports")
    reports = read_table(root / "output", "community_reports")
    assert failed and set(failed) == set(reports[reports["status"] == "failed"]["community_id"])
    assert all("empty reply 3 time(s)" in reason for reason in failed.values()), failed
    assert set(reports["status"]) == {"ok", "failed"}
    assert stats["steps"]["community_reports"]["retries"] >= 2 * len(failed)
    shown = CliRunner().invoke(app, ["stats", "--root", str(root), "--json"])
    assert (
        json.loads(shown.stdout)["failures"]["community_reports"]
        == stats["steps"]["community_reports"]["failures"]
    )

    flaky_server.clear_rules()
    flaky_server.faults = FaultPlan()
    flaky_server.clear_log()
    _index(root, monkeypatch)
    chats = [e for e in flaky_server.log if e.path.endswith("/chat/completions")]
    failed_requests = {request_key(e) for e in first if _is(e, REPORT_MARKER) and _is(e, HAMLET_ROW)}
    assert chats and {request_key(e) for e in chats} == failed_requests
    assert all(e.kind.startswith("reports") for e in chats)
    # Only the new reports' texts are embedded; every vector of the first run comes from the cache.
    embedded_before = {
        text for e in first if e.path.endswith("/embeddings") and answered(e) for text in e.inputs
    }
    embedded_now = [text for e in flaky_server.requests("embeddings") for text in e.inputs]
    assert embedded_now and not set(embedded_now) & embedded_before
    reports = read_table(root / "output", "community_reports")
    assert set(reports["status"]) == {"ok"}
    assert not read_stats(root)["steps"]["community_reports"]["failures"]


def test_failed_summaries_and_gleanings_are_listed_and_retried(
    llm_server: TestLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project(tmp_path / "proj", llm_server)
    llm_server.fail_matching(SUMMARY_MARKER, "Scrooge", kind="500")
    # One unit's gleaning round (the one whose missed names start with "Nephew"; its reply adds nothing, so
    # the failure changes no later request and every failed request is asked again as it was).
    llm_server.fail_matching(GLEAN_MARKER, "-----NAMES START-----\nNephew\n", kind="500")
    _index(root, monkeypatch)
    first = llm_server.log
    stats = read_stats(root)
    assert _failed(stats, "summarize_descriptions"), "failed summaries are listed"
    assert any("gleaning" in reason for reason in _failed(stats, "extract_graph").values())

    llm_server.clear_rules()
    llm_server.clear_log()
    _index(root, monkeypatch)
    sent = {request_key(e) for e in llm_server.log}
    failed_before = {request_key(e) for e in first if e.status == 500}
    assert failed_before <= sent, "every request that failed is sent again"
    assert not sent & {request_key(e) for e in first if answered(e)}


def test_unusable_replies_are_not_served_again_from_the_cache(
    llm_server: TestLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Well-formed replies that cannot be used (no records; not JSON) fail their item and leave the cache,
    so the next `index` asks the server again instead of failing on the same cached reply."""
    root = make_project(tmp_path / "proj", llm_server)
    llm_server.reply_matching(EXTRACT_MARKER, PINNED_PHRASE, reply="I cannot help with that.")
    llm_server.reply_matching(REPORT_MARKER, HAMLET_ROW, reply="Here is a report, but not in JSON.")
    _index(root, monkeypatch)
    stats = read_stats(root)
    assert any("unparseable extraction reply" in r for r in _failed(stats, "extract_graph").values())
    assert any("unusable report reply" in r for r in _failed(stats, "community_reports").values())

    llm_server.clear_rules()
    llm_server.clear_log()
    _index(root, monkeypatch)
    asked = [e for e in llm_server.log if e.status == 200]
    assert any(_is(e, EXTRACT_MARKER) and PINNED_PHRASE in str(e.messages) for e in asked)
    assert any(_is(e, REPORT_MARKER) and HAMLET_ROW in str(e.messages) for e in asked)
    stats = read_stats(root)
    assert all(not step["failures"] for step in stats["steps"].values())
    assert set(read_table(root / "output", "community_reports")["status"]) == {"ok"}


def _post(server: TestLLMServer, content: str) -> tuple[int, str]:
    body = json.dumps({"model": "test-model", "messages": [{"role": "user", "content": content}]}).encode()
    request = urllib.request.Request(
        f"{server.base_url}/chat/completions", body, {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return reply.status, json.load(reply)["choices"][0]["message"]["content"]
    except urllib.error.HTTPError as error:
        return error.code, ""


def test_fault_tools_bound_random_faults_and_pin_faults_and_replies_by_content() -> None:
    """The server features the tests above rely on, over real HTTP."""
    with TestLLMServer(faults=FaultPlan(rate=1.0, kinds=("500",), max_repeats=2)) as server:
        assert [_post(server, "same")[0] for _ in range(4)] == [500, 500, 200, 500]  # streak, then reset
        server.faults = FaultPlan()
        server.fail_matching("Marley", "dead", kind="429", times=2)
        server.reply_matching("Marley", reply="scripted")
        assert [_post(server, "Marley was dead")[0] for _ in range(3)] == [429, 429, 200]
        assert _post(server, "Marley was alive") == (200, "scripted")
        server.clear_rules()
        assert _post(server, "Marley was alive")[1].startswith("Echo [")
        assert server.total_connections >= 1
