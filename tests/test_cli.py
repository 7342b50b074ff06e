"""The command line: help, init, and clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from graphrag_lite.cli.main import app

runner = CliRunner()


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("init", "index", "update", "query", "stats", "export", "viz"):
        assert command in result.output


def test_help_is_fast_and_imports_nothing_heavy() -> None:
    code = (
        "import sys, time; t=time.perf_counter();"
        "from graphrag_lite.cli.main import app;"
        "heavy=[m for m in ('torch','spacy','lancedb','sentence_transformers') if m in sys.modules];"
        "print(heavy, time.perf_counter()-t)"
    )
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("[]"), out
    assert time.perf_counter() - started < 20


def test_init_creates_project(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    result = runner.invoke(app, ["init", "--root", str(root)])
    assert result.exit_code == 0, result.output
    assert (root / "settings.yaml").is_file()
    assert (root / "input").is_dir()
    prompts = sorted(p.name for p in (root / "prompts").glob("*.txt"))
    assert prompts, "prompts were not copied"
    # a second init keeps the user's edits
    (root / "settings.yaml").write_text("# mine\n")
    again = runner.invoke(app, ["init", "--root", str(root)])
    assert again.exit_code == 0
    assert (root / "settings.yaml").read_text() == "# mine\n"
    assert "kept" in again.output


def test_update_without_an_index_says_to_index_first(tmp_path: Path) -> None:
    result = runner.invoke(app, ["update", "--root", str(tmp_path)])
    assert result.exit_code == 1
    assert "No index to update" in result.output
    assert "graphrag-lite index" in result.output
    assert "Traceback" not in result.output


def test_bad_settings_error_is_clean(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text("chunks:\n  sise: 5\n")
    result = runner.invoke(app, ["stats", "--root", str(tmp_path)])
    assert result.exit_code == 1
    assert "chunks.sise" in result.output
    assert "Traceback" not in result.output


def test_query_without_index_says_what_to_do(tmp_path: Path) -> None:
    result = runner.invoke(app, ["query", "Who?", "--root", str(tmp_path)])
    assert result.exit_code == 1
    assert "graphrag-lite index" in result.output


def test_numeric_options_are_validated_with_clear_errors(tmp_path: Path) -> None:
    from query_fixtures import carol_index

    from graphrag_lite.errors import ConfigError
    from graphrag_lite.query.engine import BasicOptions, LazyOptions, LocalOptions

    for bad in (lambda: BasicOptions(context_tokens=0), lambda: LocalOptions(context_tokens=-5)):
        with pytest.raises(ConfigError, match="at least 100 tokens"):
            bad()
    with pytest.raises(ConfigError, match="0 or more"):
        LocalOptions(community_level=-1)
    with pytest.raises(ConfigError, match="at least 1"):
        LazyOptions(budget=0)
    root = carol_index(tmp_path.parent)
    runner = CliRunner()
    level = runner.invoke(app, ["query", "Who is Tiny Tim?", "--root", str(root), "--community-level", "99"])
    assert level.exit_code == 1 and "Community level 99 does not exist" in level.output
    tokens = runner.invoke(app, ["query", "Who is Tiny Tim?", "--root", str(root), "--context-tokens", "-5"])
    assert tokens.exit_code == 1 and "at least 100 tokens" in tokens.output


def test_batch_gives_an_error_record_for_a_bad_line_and_goes_on(tmp_path: Path) -> None:
    from query_fixtures import carol_index

    root = carol_index(tmp_path.parent)
    batch = tmp_path / "questions.jsonl"
    batch.write_text(
        '{"id": "q1", "question": "Who is Tiny Tim?"}\nnot json\n'
        '{"id": "q3", "question": "Who is Marley?"}\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        app, ["query", "--batch", str(batch), "--root", str(root), "--method", "basic"]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [r["id"] for r in rows] == ["q1", "line 2", "q3"]
    assert "answer" in rows[0] and "answer" in rows[2] and "questions.jsonl:2" in rows[1]["error"]


def test_init_writes_the_env_file_for_its_owner_only(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["init", "--root", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "p" / ".env").stat().st_mode & 0o777 == 0o600


def test_update_empties_an_index_only_with_allow_empty(tmp_path: Path) -> None:
    root = tmp_path / "p"
    (root / "input").mkdir(parents=True)
    (root / "input" / "a.txt").write_text("Alice Smith met Bob Jones in London. Alice Smith likes Paris.\n")
    offline = {"OPENAI_API_KEY": "", "GRAPHRAG_API_KEY": "", "GRAPHRAG_API_BASE": "", "OPENAI_BASE_URL": ""}
    runner = CliRunner()
    indexed = runner.invoke(app, ["index", "--root", str(root)], env={**offline, "COLUMNS": "200"})
    assert indexed.exit_code == 0
    if sys.platform.startswith("linux"):  # each step's peak memory is measured and shown
        assert "peak memory" in indexed.output and " MB" in indexed.output
    (root / "input" / "a.txt").unlink()
    refused = runner.invoke(app, ["update", "--root", str(root)], env=offline)
    assert refused.exit_code == 1 and "--allow-empty" in refused.output
    emptied = runner.invoke(app, ["update", "--root", str(root), "--allow-empty"], env=offline)
    assert emptied.exit_code == 0, emptied.output
    assert "1 deleted" in emptied.output
    answer = runner.invoke(
        app, ["query", "Who did Alice meet?", "--root", str(root), "--method", "basic"], env=offline
    )
    assert answer.exit_code == 0 and "London" not in answer.output
