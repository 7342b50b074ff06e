"""Messy input folders and broken indexes, through the real command line.

Every unusable input file is skipped with a message naming it and the reason (on stderr and in stats.json)
while the good files are indexed; a folder with nothing usable exits non-zero with a clear message. Queries
against a missing or half-built index say what to run instead of showing a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import TEST_API_KEY
from reliability_project import EXCERPT, make_project, read_stats
from support.server import TestLLMServer
from typer.testing import CliRunner

from graphrag_lite.api.facade import GraphRAG
from graphrag_lite.cli.main import app
from graphrag_lite.config.settings import Settings
from graphrag_lite.errors import IndexNotFoundError
from graphrag_lite.index.input.loading import load_documents
from graphrag_lite.store.tables import read_table

UTF16_TEXT = "Fred's party: the Ghost of Christmas Present — 幽霊 🎄 — watched Topper at blind-man's buff.\n"
LATIN_TEXT = "Le café était plein. Noël à Paris: crème brûlée, façade, garçon. Scrooge paya l'addition.\n"
BIG_MB = 50
HOSTILE_TEXT = (
    "Alice Smith met [/] Bob Jones [link=https://evil.example]here[/link] \x1b]0;TITLE\x07 in "
    "\x1b[31mLondon.\n"
)
RUN_ON_TEXT = " ".join(["Scrooge counted every golden coin while Cratchit waited in the cold"] * 400)
IS_ROOT = os.geteuid() == 0  # root reads chmod 000 files anyway
METHODS = ("local", "global", "drift", "basic", "graph")


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`graphrag-lite ARGS --root ROOT` in a fresh interpreter, key from the environment."""
    env = {**os.environ, "GRAPHRAG_API_KEY": TEST_API_KEY, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    command = [sys.executable, "-m", "graphrag_lite.cli.main", *args, "--root", str(root)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def _messy_inputs(input_dir: Path) -> dict[str, str]:
    """Write one of each bad input next to good text; returns {skipped path: expected reason fragment}."""
    input_dir.mkdir(parents=True, exist_ok=True)
    (input_dir / "carol.txt").write_text(EXCERPT.read_text(encoding="utf-8")[:5000], encoding="utf-8")
    (input_dir / "utf16.txt").write_bytes(UTF16_TEXT.encode("utf-16"))  # with a BOM: must be read
    (input_dir / "latin1.txt").write_bytes(LATIN_TEXT.encode("latin-1"))  # invalid UTF-8, plausible text
    (input_dir / "empty.txt").write_bytes(b"")
    (input_dir / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
    noise = bytes((0x80 + (i * 37) % 120) for i in range(3000)) + b"\x01\x02\x03\x04" * 100
    (input_dir / "garbled.md").write_bytes(noise)  # invalid UTF-8 that is no text in any encoding
    with open(input_dir / "huge.txt", "wb") as handle:  # sparse: costs no disk, never read
        handle.write(b"Bah! Humbug! " * 100)
        handle.truncate(BIG_MB * 1024 * 1024)
    (input_dir / "letters.csv").write_text("name,body\nScrooge,Bah humbug\n", encoding="utf-8")
    (input_dir / "rows.jsonl").write_text(
        '{"text": "Tiny Tim sat by the fire."}\n{"text": broken\n{"text": "Bob Cratchit carried him."}\n',
        encoding="utf-8",
    )
    (input_dir / "sub").mkdir()
    (input_dir / "sub" / "fred.txt").write_text("Fred invited his uncle Scrooge to dinner.", encoding="utf-8")
    os.symlink("..", input_dir / "sub" / "up", target_is_directory=True)  # a folder loop
    os.symlink("loop_b.txt", input_dir / "loop_a.txt")  # two links pointing at each other
    os.symlink("loop_a.txt", input_dir / "loop_b.txt")
    locked = input_dir / "locked.txt"
    locked.write_text("A secret the indexer cannot read.", encoding="utf-8")
    locked.chmod(0)
    # Kinds added for issue 23: hostile text and a run-on line are indexed; the rest is skipped.
    (input_dir / "hostile.txt").write_text(HOSTILE_TEXT, encoding="utf-8")
    (input_dir / "run_on.txt").write_text(RUN_ON_TEXT, encoding="utf-8")
    (input_dir / "folder.txt").mkdir()  # a directory named like a file: a folder, walked
    (input_dir / "folder.txt" / "inside.md").write_text("Fred lived in London.", encoding="utf-8")
    (input_dir / "whitespace.txt").write_text("  \n\n\t \n", encoding="utf-8")
    (input_dir / "nul.txt").write_bytes(b"Scrooge\x00\x00 met Marley\x00 in London.")
    (input_dir / "broken.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 4)
    (input_dir / "broken.docx").write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    (input_dir / "data.bin").write_text("Some text in a type nobody asked for.", encoding="utf-8")
    os.symlink("nowhere.txt", input_dir / "dangling.txt")
    expected = {
        "empty.txt": "empty",
        "image.txt": "binary file",
        "garbled.md": "binary file",
        "huge.txt": "over input.max_file_mb = 20",
        "letters.csv": "no column 'text'",
        "rows.jsonl:2": "line 2 is not valid JSON",
        "sub/up": "symbolic link",
        "loop_a.txt": "symbolic link loop",
        "loop_b.txt": "symbolic link loop",
        "whitespace.txt": "empty",
        "nul.txt": "binary file",
        "broken.pdf": "the PDF cannot be read",
        "broken.docx": "the DOCX cannot be read",
        "data.bin": "file type .bin is not read",
        "dangling.txt": "broken symbolic link",
    }
    if not IS_ROOT:
        expected["locked.txt"] = "permission denied"
    return expected


@pytest.fixture(scope="module")
def server() -> Iterator[TestLLMServer]:
    with TestLLMServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def messy_index(server: TestLLMServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, str]:
    """A project over the messy folder, indexed once through the CLI: (root, expected skips, stderr)."""
    root = make_project(tmp_path_factory.mktemp("messy") / "proj", server, corpus=False)
    settings = yaml.safe_load((root / "settings.yaml").read_text())
    settings["input"] = {"max_file_mb": 20}
    (root / "settings.yaml").write_text(yaml.safe_dump(settings))
    expected = _messy_inputs(root / "input")
    run = _cli(root, "index", "--method", "standard")
    assert run.returncode == 0, run.stderr[-3000:]
    return root, expected, run.stderr


def test_every_bad_input_is_skipped_with_its_reason_and_the_rest_is_indexed(
    messy_index: tuple[Path, dict, str],
) -> None:
    root, expected, stderr = messy_index
    assert "Traceback" not in stderr
    skipped = {
        s["path"]: s["reason"] for s in read_stats(root)["steps"]["load_documents"]["stats"]["skipped_files"]
    }
    for path, reason in expected.items():
        assert path in skipped, f"{path} not listed in stats.json; listed: {sorted(skipped)}"
        assert reason in skipped[path], (path, skipped[path])
        assert f"{path}: {skipped[path]}" in " ".join(stderr.split()), f"no message on stderr for {path}"
    if IS_ROOT:
        assert "locked.txt" not in skipped
    assert "raise input.max_file_mb" not in skipped["huge.txt"]  # the advice stays out of the reason

    documents = read_table(root / "output", "documents")
    by_source = dict(zip(documents["source"], documents["text"], strict=True))
    assert by_source["utf16.txt"] == UTF16_TEXT  # read, not skipped
    assert by_source["latin1.txt"] == LATIN_TEXT
    assert by_source["sub/fred.txt"].startswith("Fred invited")
    assert {"rows.jsonl:1", "rows.jsonl:3", "carol.txt"} <= set(by_source)
    assert by_source["hostile.txt"] == HOSTILE_TEXT  # stored as it is; renderers escape it
    assert by_source["run_on.txt"] == RUN_ON_TEXT and by_source["folder.txt/inside.md"].startswith("Fred")
    assert "\x1b" not in stderr  # no escape sequence from a document reached the terminal
    assert not [s for s in by_source if s.startswith("sub/up/") or s in expected]
    assert "latin1.txt is not UTF-8: read as cp1252" in " ".join(stderr.split())
    assert len(read_table(root / "output", "community_reports")) > 0
    # `stats` lists the skipped files too, with the same reasons as stats.json.
    shown = json.loads(_cli(root, "stats", "--json").stdout)["skipped_files"]
    assert {s["path"]: s["reason"] for s in shown} == skipped
    assert all(s["advice"] for s in shown)
    assert "skipped input files" in _cli(root, "stats").stdout


def _write_latin1_named_file(input_dir: Path) -> None:
    with open(os.path.join(os.fsencode(input_dir), b"caf\xe9.txt"), "wb") as handle:
        handle.write(b"Mrs. Cratchit made the gravy.")


def test_a_file_name_that_is_not_utf8_is_skipped_by_the_loader(tmp_path: Path) -> None:
    (tmp_path / "input").mkdir()
    (tmp_path / "input" / "good.txt").write_text("Scrooge.", encoding="utf-8")
    _write_latin1_named_file(tmp_path / "input")
    result = load_documents(Settings(root=tmp_path))
    assert [d.source for d in result.documents] == ["good.txt"]
    [skipped] = result.skipped
    assert (skipped.path, skipped.reason) == ("caf\ufffd.txt", "file name is not valid UTF-8")
    assert "rename" in skipped.advice


def test_a_file_name_that_is_not_utf8_does_not_stop_the_index(server: TestLLMServer, tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj", server)
    _write_latin1_named_file(root / "input")
    run = _cli(root, "index", "--method", "standard")
    assert run.returncode == 0, run.stderr[-2000:]
    assert "caf\ufffd.txt: file name is not valid UTF-8" in " ".join(run.stderr.split())


def test_a_50_mb_file_is_indexed_under_the_default_limit(tmp_path: Path) -> None:
    """input.max_file_mb defaults to 100: a 50 MB corpus file is read (the messy project sets 20)."""
    (tmp_path / "input").mkdir()
    line = b"Marley was dead, to begin with. There is no doubt whatever about that.\n"
    with open(tmp_path / "input" / "big.txt", "wb") as handle:
        handle.write(line * (BIG_MB * 1024 * 1024 // len(line) + 1))
    result = load_documents(Settings(root=tmp_path))
    assert result.skipped == [] and len(result.documents[0].text) > BIG_MB * 1024 * 1024


def test_a_folder_with_nothing_usable_exits_non_zero_with_a_clear_message(
    server: TestLLMServer, tmp_path: Path
) -> None:
    root = make_project(tmp_path / "proj", server, corpus=False)
    (root / "input").mkdir()
    (root / "input" / "empty.txt").write_bytes(b"")
    (root / "input" / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)))
    (root / "input" / "table.csv").write_text("name,body\nScrooge,Bah\n", encoding="utf-8")
    sent_before = len(server.log)
    run = _cli(root, "index", "--method", "standard")
    message = " ".join(run.stderr.split())
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert f"No usable document in {root / 'input'}: 3 files skipped" in message
    assert "empty (1)" in message and "binary file (1)" in message and "missing column (1)" in message
    assert len(server.log) == sent_before, "nothing was sent to the LLM"

    (root / "input" / "table.csv").unlink()
    (root / "input" / "photo.txt").unlink()
    (root / "input" / "empty.txt").unlink()
    run = _cli(root, "index")
    assert run.returncode == 1 and "has no files. Put documents there" in " ".join(run.stderr.split())


# -- queries against missing and half-built indexes -------------------------------------------------------

runner = CliRunner()


def _broken_copy(messy: Path, target: Path, remove: list[str]) -> Path:
    """A copy of the complete project with the named output paths removed (files or folders)."""
    shutil.copytree(messy, target, symlinks=True, ignore=shutil.ignore_patterns("input"))
    (target / "input").mkdir()
    for name in remove:
        path = target / "output" / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return target


def _query_fails_cleanly(root: Path, method: str, *fragments: str) -> None:
    result = runner.invoke(app, ["query", "Who is Scrooge?", "--root", str(root), "--method", method])
    assert result.exit_code == 1, (method, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    text = " ".join(result.output.split())
    assert "Traceback" not in text
    for fragment in fragments:
        assert fragment in text, (method, fragment, text)


@pytest.mark.parametrize(
    ("case", "remove", "fragments"),
    [
        ("no output at all", ["."], ["No index found in", "Build it first: `graphrag-lite index --root"]),
        (
            "only documents.parquet",
            [
                "text_units.parquet",
                "entities.parquet",
                "relationships.parquet",
                "communities.parquet",
                "community_reports.parquet",
                "lancedb",
            ],
            ["is incomplete (missing: text_units, entities", "(it resumes where it stopped)"],
        ),
        (
            "no lancedb folder",
            ["lancedb"],
            ["embeddings in", "are missing or were interrupted", "index --root"],
        ),
        ("embedding interrupted", ["lancedb/.complete"], ["are missing or were interrupted"]),
    ],
)
def test_queries_on_a_missing_or_half_built_index_say_what_to_run(
    messy_index: tuple[Path, dict, str], tmp_path: Path, case: str, remove: list[str], fragments: list[str]
) -> None:
    root = _broken_copy(messy_index[0], tmp_path / "broken", remove)
    for method in METHODS:
        _query_fails_cleanly(root, method, *fragments)


def test_a_corrupt_table_or_vector_table_gives_advice_not_a_traceback(
    messy_index: tuple[Path, dict, str], tmp_path: Path
) -> None:
    root = _broken_copy(messy_index[0], tmp_path / "corrupt", [])
    (root / "output" / "entities.parquet").write_bytes(b"PAR1 this is not parquet")
    for method in METHODS:
        _query_fails_cleanly(root, method, "entities.parquet is not a readable Parquet file", "--force")

    root = _broken_copy(messy_index[0], tmp_path / "novectors", ["lancedb/entities.lance"])
    for method in METHODS:
        _query_fails_cleanly(root, method, "vector table(s) entities are missing", "Delete that folder")


def test_the_api_raises_a_typed_error_for_a_missing_index(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text("llm:\n  api_base: http://127.0.0.1:9/v1\n")
    with GraphRAG(tmp_path) as rag, pytest.raises(IndexNotFoundError, match="graphrag-lite index --root"):
        rag.query("Who is Scrooge?", method="local")
    assert not (tmp_path / "output").exists() or not any((tmp_path / "output").iterdir())


def test_stats_json_of_the_messy_run_is_valid_utf8_json(messy_index: tuple[Path, dict, str]) -> None:
    raw = (messy_index[0] / "output" / "stats.json").read_bytes()
    assert json.loads(raw.decode("utf-8"))["workflow"] == "standard"


def test_a_file_removed_or_grown_while_loading_is_handled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The input folder changes under a running index: b.txt disappears and c.txt grows after the loader
    listed them. b.txt is skipped with its reason; c.txt is read as it is when its turn comes."""
    from graphrag_lite.index.input import loading

    folder = tmp_path / "input"
    folder.mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (folder / name).write_text(f"{name}: Scrooge kept his counting-house.", encoding="utf-8")
    read_rows = loading._read_rows

    def changing_folder(path: Path, rel: str, *args: object) -> object:
        rows = read_rows(path, rel, *args)  # type: ignore[arg-type]
        if rel == "a.txt":
            (folder / "b.txt").unlink()
            with (folder / "c.txt").open("a", encoding="utf-8") as handle:
                handle.write(" Marley was dead.")
        return rows

    monkeypatch.setattr(loading, "_read_rows", changing_folder)
    result = load_documents(Settings(root=tmp_path))
    assert [d.source for d in result.documents] == ["a.txt", "c.txt"]
    assert result.documents[1].text.endswith("Marley was dead.")
    [skipped] = result.skipped
    assert skipped.path == "b.txt" and "cannot be read" in skipped.reason
