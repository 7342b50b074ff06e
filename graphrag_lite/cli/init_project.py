"""``graphrag-lite init``: a commented settings.yaml, editable copies of the prompts, and an input folder."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from graphrag_lite.config.loader import SETTINGS_FILE
from graphrag_lite.config.prompts import bundled_dir
from graphrag_lite.config.template import render_settings_yaml
from graphrag_lite.errors import ConfigError


@dataclass
class InitResult:
    root: Path
    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)


def init_project(root: Path, *, force: bool = False) -> InitResult:
    """Create the project skeleton. Existing files are kept unless ``force`` is set."""
    root = root.expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root} exists and is not a folder. Choose another --root.")
    result = InitResult(root)
    (root / "input").mkdir(parents=True, exist_ok=True)
    settings = root / SETTINGS_FILE
    if settings.exists() and not force:
        result.kept.append(settings)
    else:
        settings.write_text(render_settings_yaml(), encoding="utf-8")
        result.written.append(settings)
    env = root / ".env"
    if not env.exists():
        # Secrets go here: readable by the owner only (0600) from the first byte.
        with os.fdopen(
            os.open(env, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8"
        ) as out:
            out.write(
                "# Secrets for this project (never commit this file).\n# GRAPHRAG_API_KEY=sk-...\n"
                "# GRAPHRAG_API_BASE=http://localhost:11434/v1\n"
            )
        result.written.append(env)
    prompts = root / "prompts"
    prompts.mkdir(exist_ok=True)
    for source in sorted(bundled_dir("prompts").glob("*.txt")):
        target = prompts / source.name
        if target.exists() and not force:
            result.kept.append(target)
            continue
        shutil.copyfile(source, target)
        result.written.append(target)
    return result
