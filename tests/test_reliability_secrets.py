"""Secrets and safety: the API key reaches no file, log line or error text; folders stay inside the project;
document text never becomes a path; LLM output is data, never code.

The test server enforces the key (a request without it gets 401) and echoes it into its error replies, as
some proxies do, so the redaction of server messages is exercised on every injected 429 and 500.
"""

from __future__ import annotations

import ast
import asyncio
import json
import logging
import os
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
from conftest import TEST_API_KEY
from reliability_project import make_project, write_corpus
from support.replies.extraction import EXTRACT_MARKER
from support.replies.query import LOCAL_MARKER
from support.replies.reports import REPORT_MARKER
from support.server import FaultPlan, TestLLMServer

import graphrag_lite
from graphrag_lite.api.facade import GraphRAG
from graphrag_lite.config import load_settings
from graphrag_lite.config.settings import Settings
from graphrag_lite.errors import EmbeddingError, LLMError
from graphrag_lite.models.base import UsageMeter
from graphrag_lite.models.factory import create_chat, create_embedder
from graphrag_lite.store.tables import read_table

METHODS = ("local", "global", "drift", "basic", "graph")
KEY = TEST_API_KEY.encode()
WRONG_KEY = "sk-wrong-KEY-0000-9999"


def _files_holding_key(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink() and KEY in p.read_bytes()]


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRAPHRAG_API_KEY": TEST_API_KEY, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "graphrag_lite.cli.main", *args, "--root", str(root)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def test_the_api_key_is_in_no_file_log_or_error_even_when_the_server_echoes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    faults = FaultPlan(rate=0.3, seed=5, kinds=("429", "500", "malformed", "empty", "drop"), max_repeats=2)
    with TestLLMServer(api_key=TEST_API_KEY, echo_key_in_errors=True, faults=faults) as server:
        root = make_project(tmp_path / "proj", server)
        server.fail_matching(EXTRACT_MARKER, "regard a coffin-nail as the deadest piece of", kind="500")
        monkeypatch.setenv("GRAPHRAG_API_KEY", TEST_API_KEY)
        caplog.set_level(logging.DEBUG)  # every logger, the openai client's and httpx's included
        with GraphRAG(root) as rag:
            report = rag.index(method="standard")
            answers = [rag.query("Who was Marley to Scrooge?", method=m) for m in METHODS]
        # The error paths ran: retries, an item that failed for good with the server's (echoing) message.
        assert report.usage()["retries"] > 0
        [failure] = [f for s in report.steps for f in s.failures]
        assert "Internal error (injected by the test server) (request key: ***)" in failure["reason"]
        assert all(a.answer for a in answers)
        assert not [e for e in server.log if e.status == 401], "the key was sent with every request"

        # The command line, with debug logging, on the same project (the key only in the environment).
        # `index --force` re-sends only the pinned unit (the rest is cached), so its error path logs again.
        runs = [_cli(root, "index", "--force", "--verbose"), _cli(root, "stats")]
        runs.append(_cli(root, "query", "Who is Scrooge?", "--method", "drift", "--verbose"))
        assert [run.returncode for run in runs] == [0, 0, 0], [run.stderr[-1500:] for run in runs]
        assert "DEBUG" in runs[0].stderr and "(request key: ***)" in runs[0].stderr

        # Exception texts: a chat call and an embedding call that fail for good, and a rejected key.
        settings = load_settings(root)
        server.fail_matching("Tell me about Fezziwig", kind="500")
        server.fail_matching("Fezziwig's ball", kind="429")
        errors: list[BaseException] = []
        chat = create_chat(settings, UsageMeter())
        embedder = create_embedder(settings, UsageMeter())
        wrong = load_settings(root, {"llm.api_key": WRONG_KEY})

        async def failing_calls() -> None:
            assert chat is not None
            for call in (
                chat.chat([{"role": "user", "content": "Tell me about Fezziwig"}]),
                embedder.embed(["Fezziwig's ball"]),
                create_chat(wrong, UsageMeter()).chat([{"role": "user", "content": "Hello"}]),  # type: ignore[union-attr]
            ):
                try:
                    await call
                except (LLMError, EmbeddingError) as exc:
                    errors.append(exc)

        asyncio.run(failing_calls())
        assert len(errors) == 3

    texts = ["".join(traceback.format_exception(exc)) + repr(exc) for exc in errors]
    assert WRONG_KEY not in texts[2] and "rejected the API key (HTTP 401)" in texts[2]
    assert all(TEST_API_KEY not in text for text in texts)
    assert all("(request key: ***)" in text for text in texts[:2]), texts[:2]
    assert TEST_API_KEY not in caplog.text
    for record in caplog.records:  # also what a JSON or other formatter would see
        assert TEST_API_KEY not in record.getMessage() and TEST_API_KEY not in repr(record.args)
    for run in runs:
        assert TEST_API_KEY not in run.stdout + run.stderr
    assert (root / "cache" / "llm.sqlite").is_file() and (root / "output" / "stats.json").is_file()
    assert _files_holding_key(tmp_path) == []


def test_output_and_cache_stay_inside_the_project_unless_set_explicitly(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    settings = load_settings(root)
    for path in (settings.output_path, settings.cache_path, settings.input_path):
        assert path.resolve().is_relative_to(root.resolve()), path
    elsewhere = tmp_path / "shared"
    (root / "settings.yaml").write_text(
        f"output_dir: {elsewhere / 'out'}\ncache:\n  dir: {elsewhere / 'c'}\n"
    )
    explicit = load_settings(root)
    assert (explicit.output_path, explicit.cache_path) == (elsewhere / "out", elsewhere / "c")
    moved = Settings(root=root, output_dir=Path("build"), cache={"dir": Path("tmp/cache")})
    assert (moved.output_path, moved.cache_path) == (root / "build", root / "tmp" / "cache")


def test_document_titles_and_ids_are_never_used_as_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, llm_server: TestLLMServer
) -> None:
    outside = tmp_path / "outside"
    root = make_project(tmp_path / "proj", llm_server, corpus=False)
    write_corpus(root / "input", chars=4000, parts=1)
    hostile = ["../../outside/passwd", f"{outside}/abs", "..\\..\\outside\\win", "~/.ssh/authorized_keys"]
    rows = [
        {"title": t, "id": t, "text": f"Scrooge met Marley in the counting-house, said {t}."} for t in hostile
    ]
    (root / "input" / "hostile.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    (root / "input" / "heading.md").write_text(
        "# ../../../outside/etc/passwd\n\nBob Cratchit and Tiny Tim.\n"
    )
    (root / "settings.yaml").write_text(
        (root / "settings.yaml").read_text() + "input:\n  id_column: id\n", encoding="utf-8"
    )
    monkeypatch.setenv("GRAPHRAG_API_KEY", TEST_API_KEY)
    home_before = set((Path.home() / ".ssh").glob("*")) if (Path.home() / ".ssh").is_dir() else set()
    with GraphRAG(root) as rag:
        rag.index(method="standard")
        rag.query("Who met Marley?", method="local")

    titles = set(read_table(root / "output", "documents")["title"])
    assert set(hostile) | {"../../../outside/etc/passwd"} <= titles  # kept as text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj"]  # nothing written next to the project
    assert not outside.exists()
    assert {p.name for p in root.iterdir()} <= {"settings.yaml", "input", "output", "cache", "prompts"}
    names = [p.name for p in root.rglob("*")]
    assert not [n for n in names if any(w in n for w in ("passwd", "abs", "win", "authorized_keys"))]
    home_after = set((Path.home() / ".ssh").glob("*")) if (Path.home() / ".ssh").is_dir() else set()
    assert home_after == home_before


def _calls_named(tree: ast.AST, names: set[str]) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                name = func.id  # a builtin: eval(...)
            elif isinstance(func, ast.Attribute):  # a module's function: pickle.loads(...), ast.literal_eval
                owner = func.value.id if isinstance(func.value, ast.Name) else "?"
                name = f"{owner}.{func.attr}"
            else:
                continue
            if name in names:
                found.append(f"{name} (line {node.lineno})")
    return found


def test_the_package_never_evaluates_text() -> None:
    """No eval/exec/compile, pickle, marshal or unsafe YAML and no shell anywhere in the package (the test
    tooling in tests/support, which starts processes on purpose, is outside it)."""
    evaluators = {"eval", "exec", "compile", "__import__", "pickle.loads", "pickle.load", "marshal.loads"}
    evaluators |= {"yaml.load", "yaml.unsafe_load", "yaml.full_load", "ast.literal_eval"}
    shell = {"os.system", "os.popen", "subprocess.run", "subprocess.Popen", "subprocess.call"}
    shell |= {"subprocess.check_call", "subprocess.check_output"}
    package = Path(graphrag_lite.__file__).parent
    offenders = {}
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package).as_posix()
        calls = _calls_named(ast.parse(path.read_text(encoding="utf-8")), evaluators | shell)
        if calls:
            offenders[rel] = calls
    assert offenders == {}
    sample = "x = eval('1')\nyaml.load(s)\nre.compile('a')\nmodel.eval()"
    assert _calls_named(ast.parse(sample), evaluators) == ["eval (line 1)", "yaml.load (line 2)"]


def test_llm_replies_holding_code_are_stored_and_shown_as_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, llm_server: TestLLMServer
) -> None:
    sentinel = tmp_path / "pwned"
    code = f"__import__('pathlib').Path({str(sentinel)!r}).write_text('pwned')"
    root = make_project(tmp_path / "proj", llm_server, corpus=False)
    write_corpus(root / "input", chars=4000, parts=1)
    llm_server.reply_matching(
        EXTRACT_MARKER,
        "Marley was dead",
        reply=f'("entity"|Codewright|person|{code})\n("entity"|Marley|person|Partner of Scrooge.)\n'
        f'("relationship"|Codewright|Marley|{code}|5)\n<|DONE|>',
    )  # an entity only this reply names, so its one description is stored as it came
    report = {
        "title": code,
        "summary": code,
        "findings": [{"summary": code, "explanation": code}],
        "rating": 5,
        "rating_explanation": code,
    }
    llm_server.reply_matching(REPORT_MARKER, reply=json.dumps(report))
    llm_server.reply_matching(LOCAL_MARKER, reply=f"{code}\n{{{{eval}}}} {{{{ {code} }}}} ${{{code}}}")
    monkeypatch.setenv("GRAPHRAG_API_KEY", TEST_API_KEY)
    with GraphRAG(root) as rag:
        rag.index(method="standard")
        answer = rag.query("Who was Marley?", method="local").answer

    assert not sentinel.exists()
    entities = read_table(root / "output", "entities")
    assert list(entities[entities["title"] == "Codewright"]["description"]) == [code]
    relationships = read_table(root / "output", "relationships")
    assert list(relationships[relationships["source"] == "Codewright"]["description"]) == [code]
    reports = read_table(root / "output", "community_reports")
    assert (reports["title"] == code).all() and reports["summary"].str.contains(code, regex=False).all()
    assert answer.startswith(code)
