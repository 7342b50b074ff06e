"""Settings: defaults, environment, .env, and errors that name the key and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphrag_lite.config import load_settings
from graphrag_lite.config.template import iter_fields, render_settings_markdown, render_settings_yaml
from graphrag_lite.errors import ConfigError
from graphrag_lite.workflows.runner import setting_value

ENV_NAMES = (
    "GRAPHRAG_API_KEY",
    "OPENAI_API_KEY",
    "GRAPHRAG_API_BASE",
    "OPENAI_BASE_URL",
    "GRAPHRAG_LLM_MODEL",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def test_defaults_without_file_are_offline(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    assert settings.llm.configured is False
    assert settings.resolved_method == "fast"
    assert settings.chunks.size == 1200 and settings.chunks.overlap == 100
    assert settings.extraction.entity_types == ["organization", "person", "geo", "event"]
    assert settings.communities.max_cluster_size == 10
    assert settings.query.local.max_context_tokens == 12000
    assert settings.query.drift.top_k_reports == 20
    assert settings.output_path == tmp_path.resolve() / "output"


def test_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text("llm:\n  temprature: 0.5\n")
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    message = str(info.value)
    assert "llm.temprature" in message
    assert str(tmp_path / "settings.yaml") in message
    assert "temperature" in message  # the known keys are suggested


def test_bad_value_names_key_and_value(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text("chunks:\n  size: lots\nquery:\n  global:\n    min_score: 500\n")
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    message = str(info.value)
    assert "chunks.size" in message and "'lots'" in message
    assert "query.global.min_score" in message


def test_invalid_yaml_is_explained(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text("llm: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(tmp_path)


def test_environment_and_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("GRAPHRAG_API_KEY=sk-from-dotenv\nGRAPHRAG_LLM_MODEL=tiny\n")
    settings = load_settings(tmp_path)
    assert settings.llm.api_key is not None
    assert settings.llm.api_key.get_secret_value() == "sk-from-dotenv"
    assert settings.llm.model == "tiny"
    assert settings.resolved_method == "standard"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("GRAPHRAG_API_KEY", "sk-real-env-wins")
    settings = load_settings(tmp_path)
    assert settings.llm.api_base == "http://127.0.0.1:9/v1"
    assert settings.llm.api_key is not None and settings.llm.api_key.get_secret_value() == "sk-real-env-wins"


def test_variable_substitution_and_blank_means_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "settings.yaml").write_text("llm:\n  api_key: ${MY_KEY}\n  api_base: ${MY_BASE}\n")
    assert load_settings(tmp_path).llm.configured is False
    monkeypatch.setenv("MY_BASE", "http://localhost:11434/v1")
    assert load_settings(tmp_path).llm.api_base == "http://localhost:11434/v1"


def test_secret_is_not_shown_in_repr_or_step_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPHRAG_API_KEY", "sk-SECRET-xyz")
    settings = load_settings(tmp_path)
    assert "sk-SECRET-xyz" not in repr(settings)
    # what a workflow step key hashes when a step declares a whole section
    assert "sk-SECRET-xyz" not in str([setting_value(settings, s) for s in ("llm", "embeddings")])


def test_rendered_template_loads_and_lists_every_key(tmp_path: Path) -> None:
    text = render_settings_yaml()
    (tmp_path / "settings.yaml").write_text(text)
    settings = load_settings(tmp_path)
    assert settings.llm.configured is False
    for key, _info, _is_section in iter_fields():
        leaf = key.rsplit(".", 1)[-1]
        assert f"{leaf}:" in text, key
    markdown = render_settings_markdown()
    assert "`query.drift.top_k_reports`" in markdown


def test_missing_root_is_explained(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope")


def test_unquoted_azure_api_version_is_read_as_text(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text("llm:\n  api_version: 2024-10-21\n")
    assert load_settings(tmp_path).llm.api_version == "2024-10-21"
