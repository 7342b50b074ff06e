"""Untrusted text reaches the terminal as text: Rich markup in documents or answers neither crashes the
CLI (``[/]`` used to raise MarkupError) nor styles or links, and terminal escape sequences are shown, not
sent (issue 23, point 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from query_fixtures import offline_settings
from support.projects import write_project
from typer.testing import CliRunner

from graphrag_lite.api.facade import GraphRAG
from graphrag_lite.cli.main import app
from graphrag_lite.cli.render import shown, visible

HOSTILE = (
    "Alice Smith met [/] Bob Jones in London. Alice Smith sent [link=https://evil.example]a link[/link] "
    "to Bob Jones. Bob Jones answered [bold red]loudly[/bold red] with \x1b]0;PWNED\x07 a title change "
    "and \x1b[31mred text\x1b[0m from London.\n"
)


@pytest.fixture(scope="module")
def hostile_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_project(tmp_path_factory.mktemp("hostile"), {"[bold]notes[link=x].txt": HOSTILE})
    with GraphRAG(root, settings=offline_settings(root)) as rag:
        rag.index(method="fast")
    return root


def test_shown_escapes_markup_and_control_characters() -> None:
    assert shown("[/] and [link=x]y[/link]") == "\\[/] and \\[link=x]y\\[/link]"
    assert visible("a\x1b[31mb\x07c\td\ne\r") == "a\\x1b[31mb\\x07c\td\ne\\x0d"


@pytest.mark.parametrize("method", ["basic", "local", "drift", "graph", "lazy", "global"])
def test_hostile_document_text_prints_as_written(hostile_project: Path, method: str) -> None:
    result = CliRunner().invoke(
        app,
        ["query", "Whom did Alice Smith meet in London?", "--root", str(hostile_project), "--method", method],
        env={"OPENAI_API_KEY": "", "GRAPHRAG_API_KEY": "", "GRAPHRAG_API_BASE": "", "OPENAI_BASE_URL": ""},
    )
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    if method in ("basic", "local", "graph"):  # these quote the passage itself
        assert (
            "[/]" in result.output
            or "[link=https://evil.example]" in result.output
            or "\\x1b" in result.output
        )
    assert "[bold]notes[link=x]" in result.output or method in ("global", "lazy", "drift")


def test_json_output_keeps_the_text_exact(hostile_project: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "query",
            "Whom did Alice Smith meet?",
            "--root",
            str(hostile_project),
            "--method",
            "basic",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)["answer"]
    assert "[/]" in answer and "\x1b" not in result.output  # JSON escapes control characters itself
