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
from graphrag_lite.config.template import iter_fields
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


def _known_keys(loc: tuple[str | int, ...]) -> list[str]:
    """The keys accepted next to the unknown key at ``loc`` (to suggest them)."""
    parent = ".".join(str(part) for part in loc[:-1])
    return sorted(key.rpartition(".")[2] for key, _, _ in iter_fields() if key.rpartition(".")[0] == parent)


def _explain(exc: ValidationError, source: str) -> ConfigError:
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc)
        if err["type"] == "extra_forbidden":
            known = _known_keys(loc)
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


def _node(data: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    """The mapping at ``path`` (created where missing or not a mapping)."""
    node = data
    for part in path:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    return node


def _apply_environment(data: dict[str, Any], env: Mapping[str, str]) -> None:
    """Environment fills what the file leaves unset; blank strings (from ``${UNSET_VAR}``) mean unset."""
    for (*section, key), names in ENV_KEYS.items():
        value = next((env[name] for name in names if env.get(name)), None)
        if value is not None:
            node = _node(data, tuple(section))
            if node.get(key) in (None, ""):
                node[key] = value
    for name in ("llm", "embeddings"):
        sec = data.get(name)
        if isinstance(sec, dict):
            for field in ("api_key", "api_base", "api_version"):
                if sec.get(field) == "":
                    sec[field] = None


def load_settings(root: str | Path = ".", overrides: Mapping[str, Any] | None = None) -> Settings:
    """Load the project at ``root``. A missing settings.yaml means defaults (and environment).

    ``overrides`` maps dotted keys (``llm.api_base``) to values that win over the file and the environment.
    """
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
    _apply_environment(data, env)
    for dotted, value in (overrides or {}).items():
        *section, key = dotted.split(".")
        _node(data, tuple(section))[key] = value
    if "root" in data:
        raise ConfigError(f"{path}: unknown setting 'root'. The root is the folder holding settings.yaml.")
    data["root"] = root_path
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise _explain(exc, str(path if path.is_file() else "settings")) from None
