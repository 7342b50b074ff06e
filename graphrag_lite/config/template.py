"""Render the settings model as a commented settings.yaml (for ``init``) and as a Markdown reference.

Both come from the model's own field descriptions, so the file ``init`` writes and docs/configuration.md
can never drift from what the loader accepts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from graphrag_lite.config.settings import Settings

# Keys written active (uncommented) by init; everything else is a commented default.
_ACTIVE = {
    "llm.api_key": "${GRAPHRAG_API_KEY}",
    "llm.api_base": "${GRAPHRAG_API_BASE}",
    "llm.model": "gpt-4o-mini",
}


def _default(info: FieldInfo) -> Any:
    if info.default_factory is not None:
        return info.default_factory()  # type: ignore[call-arg]
    return info.default


def _yaml_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_scalar(v) for v in value) + "]"
    text = str(value)
    return json.dumps(text) if any(c in text for c in ":#{}[],&*?|<>=!%@`'\"") or not text else text


def iter_fields(model: type[BaseModel] = Settings, prefix: str = "") -> Iterator[tuple[str, FieldInfo, bool]]:
    """(dotted key, field, is_section) for every settings key, depth first, in declaration order."""
    for name, info in model.model_fields.items():
        if name == "root":
            continue
        key = prefix + (info.alias or name)
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield key, info, True
            yield from iter_fields(annotation, key + ".")
        else:
            yield key, info, False


def render_settings_yaml() -> str:
    lines = [
        "# graphrag-lite project settings. Every key is optional: commented keys show their defaults.",
        "# Full reference: docs/configuration.md. Values like ${VAR} are read from the environment or .env.",
        "# With no llm.api_key and no llm.api_base the engine runs offline (spaCy + extractive methods).",
        "",
    ]
    for key, info, is_section in iter_fields():
        depth = key.count(".")
        indent = "  " * depth
        leaf = key.rsplit(".", 1)[-1]
        annotation = info.annotation
        if is_section:
            doc = (annotation.__doc__ or "").strip().splitlines() if annotation else []
            if depth == 0:
                lines.append("")
                if doc and doc[0]:
                    lines.append(f"# {doc[0]}")
            lines.append(f"{indent}{leaf}:")
            continue
        description = info.description or ""
        if key in _ACTIVE:
            lines.append(f"{indent}{leaf}: {_ACTIVE[key]}  # {description}")
        else:
            value = _yaml_scalar(_default(info))
            lines.append(f"{indent}# {leaf}: {value}  # {description}")
    return "\n".join(lines).strip() + "\n"


def render_settings_markdown() -> str:
    lines = [
        "| key | default | meaning |",
        "|---|---|---|",
    ]
    for key, info, is_section in iter_fields():
        if is_section:
            continue
        default = _default(info)
        shown = "(unset)" if default is None else f"`{_yaml_scalar(default)}`"
        lines.append(f"| `{key}` | {shown} | {(info.description or '').replace('|', '/')} |")
    return "\n".join(lines) + "\n"
