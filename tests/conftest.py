"""Shared fixtures: the local OpenAI-compatible test server and settings that point at it.

    def test_something(llm_server, tmp_path):
        settings = llm_settings(llm_server, tmp_path)          # from conftest import llm_settings
        chat = create_chat(settings, UsageMeter())

Every test gets its own server (function scope), so request logs and injected faults never leak between
tests. ``TEST_API_KEY`` is a distinctive fake key: tests assert it never reaches a file, a log or an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from support import TestLLMServer

from graphrag_lite.config.settings import Settings

if TYPE_CHECKING:
    from graphrag_lite.models.base import Embedder
    from graphrag_lite.query.index_data import IndexData

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

TEST_API_KEY = "sk-test-SECRET-do-not-leak-1234"
TEST_MODEL = "test-model"


@pytest.fixture
def data(tmp_path_factory: pytest.TempPathFactory) -> IndexData:
    """The hand-made Christmas Carol index (built once per session) of the query tests."""
    from query_fixtures import carol_data

    return carol_data(tmp_path_factory.getbasetemp())


@pytest.fixture
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    """The embedder the Carol index was built with."""
    from query_fixtures import carol_embedder

    return carol_embedder(tmp_path_factory.getbasetemp())


@pytest.fixture
def llm_server() -> Iterator[TestLLMServer]:
    """A started TestLLMServer on a free port; ``llm_server.base_url`` ends with /v1."""
    with TestLLMServer() as server:
        yield server


def llm_settings(server: TestLLMServer, tmp_path: Path, **llm: Any) -> Settings:
    """Project settings rooted at ``tmp_path`` whose LLM is ``server`` (fast timeouts, 3 retries).

    Keyword arguments override llm settings, e.g. ``llm_settings(srv, tmp_path, concurrency=2)``.
    """
    section: dict[str, Any] = {
        "api_base": server.base_url,
        "api_key": TEST_API_KEY,
        "model": TEST_MODEL,
        "request_timeout": 2.0,
        "max_retries": 3,
        **llm,
    }
    return Settings.model_validate({"root": tmp_path, "llm": section})
