"""Project Gutenberg's licence header and footer are not indexed; other texts pass unchanged."""

from __future__ import annotations

from pathlib import Path

from graphrag_lite.config.settings import Settings
from graphrag_lite.index.input.boilerplate import strip_gutenberg
from graphrag_lite.index.input.loading import load_documents

BOOK = """\ufeffThe Project Gutenberg eBook of A Tale

This ebook is for the use of anyone anywhere in the United States.

*** START OF THE PROJECT GUTENBERG EBOOK A TALE ***

Marley was dead: to begin with.
Scrooge signed it.

*** END OF THE PROJECT GUTENBERG EBOOK A TALE ***

Section 1. General Terms of Use and Redistributing Project Gutenberg works.
"""


def test_only_the_text_between_the_markers_is_kept() -> None:
    body, cut = strip_gutenberg(BOOK)
    assert cut
    assert body == "Marley was dead: to begin with.\nScrooge signed it."


def test_older_marker_wording_and_a_missing_end_marker() -> None:
    body, cut = strip_gutenberg("Header\n***START OF THIS PROJECT GUTENBERG EBOOK X***\nText here.\n")
    assert cut and body == "Text here."


def test_a_text_without_the_start_marker_is_unchanged() -> None:
    text = "It mentions the Project Gutenberg licence and *** END OF THE PROJECT GUTENBERG EBOOK *** only."
    assert strip_gutenberg(text) == (text, False)


def _project(tmp_path: Path, **input_options: object) -> Settings:
    (tmp_path / "input").mkdir()
    (tmp_path / "input" / "tale.txt").write_text(BOOK, encoding="utf-8")
    return Settings.model_validate({"root": tmp_path, "input": input_options})


def test_loading_strips_by_default_and_records_it(tmp_path: Path) -> None:
    (doc,) = load_documents(_project(tmp_path)).documents
    assert doc.text.startswith("Marley was dead") and "Gutenberg" not in doc.text
    assert doc.metadata["boilerplate_removed"] == "project_gutenberg"


def test_loading_keeps_everything_when_asked(tmp_path: Path) -> None:
    (doc,) = load_documents(_project(tmp_path, strip_boilerplate=False)).documents
    assert "General Terms of Use" in doc.text and "boilerplate_removed" not in doc.metadata
