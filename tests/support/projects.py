"""Throwaway projects for tests and benchmarks: an input folder with given documents and a settings file."""

from __future__ import annotations

from pathlib import Path


def write_project(root: Path, documents: dict[str, str], settings: str = "") -> Path:
    """Make ``root/input`` hold exactly ``documents`` (name -> text) and write ``settings.yaml``."""
    folder = root / "input"
    folder.mkdir(parents=True, exist_ok=True)
    for path in folder.iterdir():
        if path.name not in documents:
            path.unlink()
    for name, text in documents.items():
        (folder / name).write_text(text, encoding="utf-8")
    (root / "settings.yaml").write_text(settings, encoding="utf-8")
    return root
