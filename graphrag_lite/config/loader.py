"""Load settings.yaml (+ .env + environment) into a validated :class:`Settings`.

Precedence, lowest to highest: built-in defaults, settings.yaml, environment (and .env). ``${VAR}`` in the
YAML is replaced by the variable's value, so keys can stay out of the file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from graphrag_lite.config.settings import Settings
from graphrag_lite.errors import ConfigError

SETTINGS_FILE = "settings.yaml"

# Environment variables that fill settings; the first one set wins.
ENV_KEYS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("llm", "api_key"): ("GRAPHRAG_API_KEY", "OPENAI_API_KEY"),
    ("llm", "api_base"): ("GRAPHRAG_API_BASE", "OPENAI_BASE_URL"),
    ("llm", "model"): ("GRAPHRAG_LLM_MODEL",),
    ("llm", "api_version"): ("GRAPHRAG_API_VERSION",),
    ("embeddings", "provider"): ("GRAPHRAG_EMBEDDING_PROVIDER",),
    ("embeddings", "model"): ("GRAPHRAG_EMBEDDING_MODEL",),
    ("embeddings", "api_base"): ("GRAPHRAG_EMBEDDING_API_BASE",),
    ("embeddings", "api_key"): ("GRAPHRAG_EMBEDDING_API_KEY",),
}

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _environment(root: Path) -> dict[str, str]:
    """os.environ over the project's .env (real environment wins), without touching os.environ."""
    env: dict[str, str] = {}
    dotenv = root / ".env"
    if dotenv.is_file():
        from dotenv import dotenv_values

        env.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None})
    env.update(os.environ)
    return env


def _substitute(value: Any, env: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return _VAR.sub(lambda m: env.get(m.group(1), ""), value)
    if isinstance(value, dict):
        return {k: _substitute(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, env) for v in value]
    return value


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"{path}: not valid YAML ({exc}). Fix the syntax, or run "
            f"`graphrag-lite init --root {path.parent} --force` to write a fresh file."
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text. Save it as UTF-8.") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of settings, not {type(data).__name__}.")
    return data


def _known_keys(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The keys accepted at ``loc`` (to suggest them next to an unknown key)."""
    current: Any = model
    for part in loc[:-1]:
        field = None
        for name, info in current.model_fields.items():
            if part in (name, info.alias):
                field = info
        if field is None or not (
            isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
        ):
            return []
        current = field.annotation
    return sorted((info.alias or name) for name, info in current.model_fields.items() if name != "root")


def _explain(exc: ValidationError, source: str) -> ConfigError:
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc)
        if err["type"] == "extra_forbidden":
            known = _known_keys(Settings, loc)
            hint = f" Known keys here: {', '.join(known)}." if known else ""
            lines.append(f"{source}: unknown setting '{key}'.{hint} Fix the spelling or remove it.")
        else:
            got = err.get("input")
            shown = "" if isinstance(got, dict | list) else f" (got {got!r})"
            if key.endswith("api_key"):
                shown = ""
            lines.append(f"{source}: bad value for '{key}'{shown}: {err['msg']}.")
    return ConfigError("\n".join(lines))


def _drop_empty_sections(data: dict[str, Any], model: type[BaseModel]) -> None:
    """A section whose keys are all commented out parses as None: treat it as empty (all defaults)."""
    for name, info in model.model_fields.items():
        key = info.alias or name
        annotation = info.annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)) or key not in data:
            continue
        if data[key] is None:
            del data[key]
        elif isinstance(data[key], dict):
            _drop_empty_sections(data[key], annotation)


def _set(data: dict[str, Any], path: tuple[str, ...], value: str) -> None:
    node = data
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    if node.get(path[-1]) in (None, ""):
        node[path[-1]] = value


def load_settings(root: str | Path = ".", overrides: Mapping[str, Any] | None = None) -> Settings:
    """Load the project at ``root``. A missing settings.yaml means defaults (and environment)."""
    root_path = Path(root).expanduser().resolve()
    if not root_path.is_dir():
        raise ConfigError(
            f"Project root {root_path} does not exist. Create it with "
            f"`graphrag-lite init --root {root_path}`."
        )
    env = _environment(root_path)
    path = root_path / SETTINGS_FILE
    data = _substitute(_read_yaml(path), env) if path.is_file() else {}
    _drop_empty_sections(data, Settings)
    # Environment fills what the file leaves unset (empty strings count as unset).
    for key_path, names in ENV_KEYS.items():
        for name in names:
            if env.get(name):
                _set(data, key_path, env[name])
                break
    # Blank strings from ${UNSET_VAR} mean "not set".
    for section in ("llm", "embeddings"):
        sec = data.get(section)
        if isinstance(sec, dict):
            for key in ("api_key", "api_base", "api_version"):
                if sec.get(key) == "":
                    sec[key] = None
    if overrides:
        for dotted, value in overrides.items():
            node = data
            parts = dotted.split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
    if "root" in data:
        raise ConfigError(f"{path}: unknown setting 'root'. The root is the folder holding settings.yaml.")
    data["root"] = root_path
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise _explain(exc, str(path if path.is_file() else "settings")) from None
