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
