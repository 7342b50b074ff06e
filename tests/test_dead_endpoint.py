"""A dead LLM is never an empty index (issue 23, point 2): when every LLM call of a query fails, the query
fails with the cause, and the CLI exits non-zero; when only some fail, the result says how many."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from query_fixtures import carol_index
from support import TestLLMServer
from support.serve import free_port
from typer.testing import CliRunner

from graphrag_lite.api.facade import GraphRAG
from graphrag_lite.cli.main import app
from graphrag_lite.errors import LLMError

QUESTION = "What are the main themes of the story?"


def _project(tmp_path_factory: pytest.TempPathFactory, api_base: str, name: str) -> Path:
    root = tmp_path_factory.mktemp(name)
    shutil.copytree(carol_index(tmp_path_factory.getbasetemp()) / "output", root / "output")
    (root / "settings.yaml").write_text(
        f"llm:\n  api_base: {api_base}\n  api_key: test\n  model: test-model\n  max_retries: 0\n"
        "  request_timeout: 5\n",
        encoding="utf-8",
    )
    return root


@pytest.mark.parametrize("method", ["global", "drift", "lazy", "local", "basic"])
def test_a_closed_port_fails_the_query_with_the_cause(
    tmp_path_factory: pytest.TempPathFactory, method: str
) -> None:
    root = _project(tmp_path_factory, f"http://127.0.0.1:{free_port()}/v1", f"dead_{method}")
    with GraphRAG(root) as rag, pytest.raises(LLMError) as failure:
        rag.query(QUESTION, method)
    message = str(failure.value)
    assert "127.0.0.1" in message and ("reach" in message or "connect" in message.lower()), message


def test_the_cli_exits_non_zero_on_a_dead_endpoint(tmp_path_factory: pytest.TempPathFactory) -> None:
    root = _project(tmp_path_factory, f"http://127.0.0.1:{free_port()}/v1", "dead_cli")
    result = CliRunner().invoke(app, ["query", QUESTION, "--root", str(root), "--method", "global"])
    assert result.exit_code != 0
    assert "Every LLM call of this global search failed" in result.output and "127.0.0.1" in result.output
    assert "could not find relevant information" not in result.output


def test_partial_failures_are_counted_in_the_result(tmp_path_factory: pytest.TempPathFactory) -> None:
    with TestLLMServer() as server:
        root = _project(tmp_path_factory, server.base_url, "partial")
        server.fail_matching("## What to reply (global search, map step)", kind="500", times=1)
        with GraphRAG(root) as rag:
            result = rag.query(QUESTION, "global", context_tokens=160)  # one batch per report
    assert result.extra["failed_llm_calls"] == 1 and result.extra["map_failures"] == 1
    assert result.llm_calls > 1


# -- indexing: pre-flight check and circuit breaker --------------------------------------------------------

EXCERPT = Path(__file__).parent / "data" / "carol_excerpt.txt"


MARKER = "Zebulon"  # in every text unit of b.txt, in none of a.txt


def _index_project(root: Path, api_base: str) -> tuple[Path, str]:
    """Two documents; returns the root and a word found in every text unit of the second one only."""
    text = EXCERPT.read_text(encoding="utf-8")
    words = text[6000:12000].split()
    marked = " ".join(w if i % 40 else f"{MARKER} {w}" for i, w in enumerate(words))
    (root / "input").mkdir(parents=True)
    (root / "input" / "a.txt").write_text(text[:6000], encoding="utf-8")
    (root / "input" / "b.txt").write_text(marked, encoding="utf-8")
    (root / "settings.yaml").write_text(
        f"llm:\n  api_base: {api_base}\n  api_key: test\n  model: test-model\n  max_retries: 1\n"
        "  request_timeout: 10\n  concurrency: 1\n  max_connection_failures: 3\n"
        "chunks:\n  size: 300\n  overlap: 0\n",
        encoding="utf-8",
    )
    return root, MARKER


def test_an_index_against_a_closed_port_stops_before_spending_anything(tmp_path: Path) -> None:
    root, _ = _index_project(tmp_path / "p", f"http://127.0.0.1:{free_port()}/v1")
    result = CliRunner().invoke(app, ["index", "--root", str(root), "--method", "standard"])
    assert result.exit_code != 0
    assert "Pre-flight check of the LLM at http://127.0.0.1" in result.output, result.output
    assert "cannot connect" in result.output and "nothing was sent or spent" in result.output
    assert not (root / "output" / "stats.json").exists(), "no step started"


def test_a_server_that_stops_answering_trips_the_breaker_and_done_work_is_kept(tmp_path: Path) -> None:
    with TestLLMServer() as server:
        root, phrase = _index_project(tmp_path / "p", server.base_url)
        server.fail_matching(phrase, kind="drop")  # every request for b.txt's text: the connection drops
        result = CliRunner().invoke(app, ["index", "--root", str(root), "--method", "standard"])
        first = [e for e in server.log if e.kind.startswith("extraction")]
        port = server.port
    assert result.exit_code != 0
    assert "3 LLM calls in a row could not reach" in result.output, result.output
    assert "0 entities" not in result.output  # the cause, not a symptom
    done_before = {e.messages[-1]["content"] for e in first if e.status == 200}
    assert done_before, "a.txt's units were extracted before the breaker opened"
    with TestLLMServer(port=port) as again:  # the server is back
        rerun = CliRunner().invoke(app, ["index", "--root", str(root), "--method", "standard"])
        asked = {e.messages[-1]["content"] for e in again.log if e.kind.startswith("extraction")}
    assert rerun.exit_code == 0, rerun.output
    assert not asked & done_before, "work finished before the breaker opened was not asked for again"
