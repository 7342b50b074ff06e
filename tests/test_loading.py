"""Input loading: every format, configurable columns, and a clear per-file reason for every bad input."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from graphrag_lite.config.settings import Settings
from graphrag_lite.errors import ConfigError, InputError
from graphrag_lite.index.input.loading import LoadResult, SkippedFile, load_documents
from graphrag_lite.store import ids

CAROL = Path("/work/shared/data/christmas_carol/a_christmas_carol.txt")


def _settings(root: Path, **input_settings: object) -> Settings:
    return Settings(root=root, input=input_settings)


def _load(root: Path, **input_settings: object) -> LoadResult:
    return load_documents(_settings(root, **input_settings))


def _skip_for(result: LoadResult, path: str) -> SkippedFile:
    matches = [s for s in result.skipped if s.path == path]
    assert matches, f"{path} not skipped; skipped: {[s.path for s in result.skipped]}"
    return matches[0]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "input").mkdir()
    return tmp_path


def _write(project: Path, rel: str, content: str | bytes) -> Path:
    path = project / "input" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


# -- formats ----------------------------------------------------------------------------------------------


def test_txt_and_md_are_one_document_each_with_titles(project: Path) -> None:
    _write(project, "notes/scrooge.txt", "Scrooge was a squeezing, wrenching, grasping old sinner.\n")
    _write(project, "marley.md", "Intro line\n\n# Marley's Ghost\n\nMarley was dead, to begin with.\n")
    _write(project, "plain.md", "No heading here, just text about Bob Cratchit.\n")
    result = _load(project)
    by_source = {d.source: d for d in result.documents}
    assert list(by_source) == ["marley.md", "notes/scrooge.txt", "plain.md"]
    assert by_source["marley.md"].title == "Marley's Ghost"
    assert by_source["notes/scrooge.txt"].title == "scrooge"
    assert by_source["plain.md"].title == "plain"
    assert by_source["notes/scrooge.txt"].text.startswith("Scrooge was a squeezing")
    assert by_source["marley.md"].metadata == {"encoding": "utf-8"}
    assert result.files_read == 3 and result.skipped == []


def test_markdown_heading_inside_code_fence_is_not_the_title(project: Path) -> None:
    _write(project, "code.md", "```\n# not a title\n```\n\n# Real Title\n\nBody.\n")
    assert _load(project).documents[0].title == "Real Title"


def test_csv_one_document_per_row_with_metadata(project: Path) -> None:
    _write(
        project,
        "letters.csv",
        'title,text,author\r\nFirst,"Marley was dead,\r\nto begin with.",Dickens\r\n,,Nobody\r\n'
        "Second,Tiny Tim is Bob Cratchit's son.,Dickens\r\n",
    )
    result = _load(project)
    assert [d.title for d in result.documents] == ["First", "Second"]
    first, second = result.documents
    assert first.text == "Marley was dead,\nto begin with."  # CRLF inside a quoted cell normalised too
    assert first.source == "letters.csv:2" and second.source == "letters.csv:5"
    assert first.metadata == {"author": "Dickens", "encoding": "utf-8"}
    assert result.empty_rows == 1  # the row with an empty text, skipped quietly


def test_csv_semicolon_delimiter_is_detected(project: Path) -> None:
    _write(project, "semi.csv", "text;title\nThe Ghost of Christmas Past;Stave 2\n")
    result = _load(project)
    assert [(d.title, d.text) for d in result.documents] == [("Stave 2", "The Ghost of Christmas Past")]


def test_jsonl_one_document_per_line(project: Path) -> None:
    lines = [
        {"title": "One", "text": "Fezziwig's ball.", "year": 1843},
        {"title": "Two", "text": "The Ghost of Christmas Yet to Come.", "tags": ["ghost", "future"]},
        {"title": "Blank", "text": "   "},
    ]
    _write(project, "corpus.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n\n")
    result = _load(project)
    assert [(d.title, d.source) for d in result.documents] == [
        ("One", "corpus.jsonl:1"),
        ("Two", "corpus.jsonl:2"),
    ]
    assert result.documents[0].metadata == {"year": "1843", "encoding": "utf-8"}
    assert result.documents[1].metadata["tags"] == '["ghost", "future"]'
    assert result.empty_rows == 1


def test_configurable_columns_and_id_column(project: Path) -> None:
    _write(project, "a/data.csv", "doc_id,headline,body\nX1,Scrooge,Bah! Humbug!\n")
    _write(
        project, "b.jsonl", json.dumps({"doc_id": "X2", "headline": "Tim", "body": "God bless us."}) + "\n"
    )
    cols = {"text_column": "body", "title_column": "headline", "id_column": "doc_id"}
    result = _load(project, **cols)
    assert [(d.title, d.text) for d in result.documents] == [
        ("Scrooge", "Bah! Humbug!"),
        ("Tim", "God bless us."),
    ]
    first = result.documents[0]
    assert first.id == ids.document_id(ids.content_hash("Bah! Humbug!"), "X1")
    assert first.metadata["doc_id"] == "X1"
    # With an id column the id does not depend on the path: moving the file keeps it.
    shutil.move(project / "input/a/data.csv", project / "input/moved.csv")
    assert _load(project, **cols).documents[1].id == first.id  # sorted: b.jsonl, moved.csv


def test_column_names_match_case_insensitively(project: Path) -> None:
    _write(project, "caps.csv", "Title,Text\nStave One,Marley's Ghost\n")
    assert _load(project).documents[0].title == "Stave One"


def test_text_normalisation_crlf_nul_nfc(project: Path) -> None:
    _write(project, "n.txt", "cafe\u0301\r\nline two\r\n".encode())
    _write(project, "n.jsonl", json.dumps({"text": "Tiny\u0000 Tim\r\nnai\u0308ve"}) + "\n")
    by_source = {d.source: d for d in _load(project).documents}
    assert by_source["n.txt"].text == "caf\u00e9\nline two\n"
    assert by_source["n.jsonl:1"].text == "Tiny Tim\nna\u00efve"
    doc = by_source["n.txt"]
    assert doc.content_hash == ids.content_hash(doc.text)
    assert doc.id == ids.document_id(doc.content_hash, "n.txt")  # no id column: the path is part of the key


# -- bad inputs -------------------------------------------------------------------------------------------


def test_every_bad_input_gets_a_clear_reason_and_good_files_still_load(project: Path) -> None:
    _write(project, "good.txt", "Marley was dead: to begin with. There is no doubt whatever about that.")
    _write(project, "empty.txt", b"")
    _write(project, "blank.md", "  \n\t\n")
    _write(project, "image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    latin = "Le café était plein. Noël à Paris: crème brûlée, façade, garçon, être. " * 3
    _write(project, "latin.txt", latin.encode("latin-1"))
    _write(project, "utf16.txt", "Ghost of Christmas Present — 幽霊 🎄\n".encode("utf-16"))
    _write(project, "big.txt", "Bah! Humbug! " * 200)  # 2.6 KB > 0.001 MB
    _write(project, "nocol.csv", "name,body\nScrooge,Bah\n")
    _write(project, "rows.jsonl", '{"text": "first good line"}\n{not json}\n{"text": "third line"}\n')
    _write(project, "sub/inner.txt", "Fred's party.")
    os.symlink(
        "..", project / "input" / "sub" / "up", target_is_directory=True
    )  # a folder linked to its parent
    locked = _write(project, "locked.txt", "secret")
    locked.chmod(0)

    result = _load(project, max_file_mb=0.001)

    by_source = {d.source: d for d in result.documents}
    assert set(by_source) >= {"good.txt", "latin.txt", "utf16.txt", "rows.jsonl:1", "rows.jsonl:3"}
    assert by_source["latin.txt"].text == latin
    assert by_source["latin.txt"].metadata["encoding"] in {"cp1252", "latin_1", "iso8859_15"}
    assert by_source["utf16.txt"].text == "Ghost of Christmas Present — 幽霊 🎄\n"
    assert by_source["utf16.txt"].metadata["encoding"] == "utf-16"

    assert _skip_for(result, "empty.txt").kind == "empty"
    assert _skip_for(result, "blank.md").reason.startswith("empty")
    assert _skip_for(result, "image.txt").reason.startswith("binary file")
    big = _skip_for(result, "big.txt")
    assert (
        "input.max_file_mb" in big.reason and "MB" in big.reason and "raise input.max_file_mb" in big.advice
    )
    nocol = _skip_for(result, "nocol.csv")
    assert (
        "'text'" in nocol.reason and "'name', 'body'" in nocol.reason and "input.text_column" in nocol.advice
    )
    bad_line = _skip_for(result, "rows.jsonl:2")
    assert "line 2" in bad_line.reason and "rest of the file was read" in bad_line.advice
    loop = _skip_for(result, "sub/up")
    assert loop.kind == "symlink loop" and "not followed" in loop.reason
    assert by_source["sub/inner.txt"].text == "Fred's party."
    if os.geteuid() != 0:  # root reads chmod 000 files anyway
        assert _skip_for(result, "locked.txt").reason == "permission denied"
    else:
        assert by_source["locked.txt"].text == "secret"
    assert not any(d.source.startswith("sub/up/") for d in result.documents)
    assert len([s for s in result.skipped if s.kind == "symlink loop"]) == 1


def test_a_named_pipe_is_skipped_not_read(project: Path) -> None:
    _write(project, "good.txt", "Scrooge")
    os.mkfifo(project / "input" / "pipe.txt")  # reading it would block forever
    assert _skip_for(_load(project), "pipe.txt").kind == "not a file"


def test_skipped_files_do_not_count_as_read(project: Path) -> None:
    _write(project, "good.txt", "Scrooge")
    _write(project, "empty.txt", "")
    result = _load(project)
    assert result.files_read == 1 and [s.path for s in result.skipped] == ["empty.txt"]


def test_unsupported_and_hidden_files(project: Path) -> None:
    _write(project, "good.txt", "Scrooge")
    _write(project, "table.json", "{}")
    _write(project, "notes.md", "# Notes\nBob")
    _write(project, ".hidden.txt", "never read")
    _write(project, ".git/config.txt", "never read")
    result = _load(project, file_types=["txt"])
    assert [d.source for d in result.documents] == ["good.txt"]
    assert "add 'md' to input.file_types" in _skip_for(result, "notes.md").advice
    assert ".json is not read" in _skip_for(result, "table.json").reason
    assert not any(s.path.startswith(".") for s in result.skipped)


def test_jsonl_without_text_key_names_the_keys_and_the_setting(project: Path) -> None:
    _write(project, "q.jsonl", '{"question": "Who is Marley?", "answer": "A ghost"}\n')
    _write(project, "good.txt", "ok")
    skip = _skip_for(_load(project), "q.jsonl")
    assert "'question', 'answer'" in skip.reason and "input.text_column" in skip.advice


def test_many_bad_jsonl_lines_are_summarised(project: Path) -> None:
    _write(project, "bad.jsonl", "nope\n" * 30 + '{"text": "the one good line"}\n')
    result = _load(project)
    assert [d.text for d in result.documents] == ["the one good line"]
    bad = [s for s in result.skipped if s.kind == "bad json line"]
    assert len(bad) == 21 and "10 more lines" in bad[-1].reason


def test_forced_encoding(project: Path) -> None:
    _write(project, "w.txt", "naïve café".encode("cp1252"))
    doc = _load(project, encoding="cp1252").documents[0]
    assert doc.text == "naïve café" and doc.metadata["encoding"] == "cp1252"
    _write(project, "photo.txt", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00")
    result = _load(project, encoding="latin-1")  # decodes any bytes, but NUL bytes still mean binary
    assert _skip_for(result, "photo.txt").kind == "binary file"
    with pytest.raises(ConfigError, match=r"input\.encoding"):
        _load(project, encoding="no-such-codec")


def test_forced_encoding_that_does_not_fit_skips_the_file(project: Path) -> None:
    _write(project, "ok.txt", "plain ascii")
    _write(project, "w.txt", "naïve".encode("cp1252"))
    skip = _skip_for(_load(project, encoding="utf-8"), "w.txt")
    assert skip.kind == "decode error" and "input.encoding" in skip.reason


def test_linked_folder_is_read_once(project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (outside / "fred.txt").write_text("Scrooge's nephew Fred.", encoding="utf-8")
    os.symlink(outside, project / "input" / "a_link")
    os.symlink(outside, project / "input" / "b_link")
    result = _load(project)
    assert [d.source for d in result.documents] == ["a_link/fred.txt"]
    assert _skip_for(result, "b_link").kind == "symlink loop"


# -- nothing usable ---------------------------------------------------------------------------------------


def test_missing_input_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist") as err:
        _load(tmp_path)
    assert str(tmp_path / "input") in str(err.value) and "input.dir" in str(err.value)


def test_empty_input_folder(project: Path) -> None:
    with pytest.raises(InputError, match="has no files"):
        _load(project)


def test_nothing_usable_lists_counts_and_top_reasons(project: Path) -> None:
    _write(project, "a.txt", "")
    _write(project, "b.txt", " ")
    _write(project, "c.bin.txt", b"\x00\x01\x02binary")
    _write(project, "d.csv", "x,y\n1,2\n")
    with pytest.raises(InputError) as err:
        _load(project)
    message = str(err.value)
    assert "4 files skipped" in message
    assert "empty (2)" in message and "binary file (1)" in message and "missing column (1)" in message


# -- determinism ------------------------------------------------------------------------------------------


def test_ids_are_deterministic_and_independent_of_creation_order(tmp_path: Path) -> None:
    files = {
        "z.txt": "Ghost of Christmas Past",
        "a/b.md": "# Fezziwig\nA ball.",
        "m.jsonl": '{"text": "one"}\n{"text": "two"}\n',
        "c.csv": "text\nthree\n",
    }
    roots = []
    for name, order in (("first", sorted(files)), ("second", sorted(files, reverse=True))):
        root = tmp_path / name
        (root / "input").mkdir(parents=True)
        for rel in order:
            _write(root, rel, files[rel])
        roots.append(root)
    loads = [_load(root) for root in (*roots, roots[0])]
    views = [[(d.id, d.source, d.title, d.text) for d in result.documents] for result in loads]
    assert views[0] == views[1] == views[2]
    assert [v[1] for v in views[0]] == ["a/b.md", "c.csv:2", "m.jsonl:1", "m.jsonl:2", "z.txt"]


def test_identical_texts_do_not_collide(project: Path) -> None:
    _write(project, "one.txt", "Bah! Humbug!")
    _write(project, "two.txt", "Bah! Humbug!")
    _write(project, "rows.csv", "text\nBah! Humbug!\nBah! Humbug!\n")
    documents = _load(project).documents
    assert len(documents) == 4 and len({d.id for d in documents}) == 4
    assert len({d.content_hash for d in documents}) == 1


def test_christmas_carol_loads_with_bom_and_licence_frame_stripped(project: Path) -> None:
    shutil.copy(CAROL, project / "input" / CAROL.name)
    doc = _load(project).documents[0]
    assert doc.text.startswith("Produced by Suzanne Shell")
    assert "Project Gutenberg" not in doc.text and doc.text.rstrip().endswith("+")
    assert doc.metadata["encoding"] == "utf-8-sig" and "Scrooge" in doc.text
