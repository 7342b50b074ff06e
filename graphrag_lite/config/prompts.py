"""Find and fill prompt files. A project's own prompts/ (written by ``init``) wins over the bundled ones."""

from __future__ import annotations

from pathlib import Path

from graphrag_lite.errors import ConfigError

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


def bundled_dir(name: str) -> Path:
    """The folder holding the bundled ``prompts`` or ``workflows``: inside the wheel, or the source tree."""
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise ConfigError(
        f"The bundled {name}/ folder is missing from the installation. Reinstall graphrag-lite."
    )


def prompt_path(name: str, project_root: Path | None = None) -> Path:
    filename = name if name.endswith(".txt") else f"{name}.txt"
    if project_root is not None:
        own = project_root / "prompts" / filename
        if own.is_file():
            return own
    path = bundled_dir("prompts") / filename
    if not path.is_file():
        raise ConfigError(
            f"Prompt '{filename}' not found in {path.parent}. Reinstall graphrag-lite or restore "
            "the file from the bundled prompts."
        )
    return path


def load_prompt(name: str, project_root: Path | None = None) -> str:
    return prompt_path(name, project_root).read_text(encoding="utf-8")


def fill(template: str, **values: object) -> str:
    """Replace ``{name}`` placeholders; braces that are not placeholders (JSON examples) stay as written."""
    out = template
    for key, value in values.items():
        out = out.replace("{" + key + "}", str(value))
    return out
