"""The configuration reference lists every settings key with its current default."""

from __future__ import annotations

from pathlib import Path

from graphrag_lite.config.template import render_settings_markdown

DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def test_configuration_doc_matches_settings_model() -> None:
    assert render_settings_markdown() in DOC.read_text(encoding="utf-8"), (
        "docs/configuration.md is out of date: regenerate its table with render_settings_markdown()"
    )
