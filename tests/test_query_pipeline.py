"""Every query method over a real fast (offline) index of the Christmas Carol excerpt: spaCy entities,
Leiden communities, extractive reports, MiniLM vectors in LanceDB, and the test LLM server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import llm_settings
from query_fixtures import EXCERPT, open_chat
from support import TestLLMServer

from graphrag_lite.api.facade import GraphRAG
from graphrag_lite.config import load_settings
from graphrag_lite.models.factory import create_embedder
from graphrag_lite.query.engine import (
    BasicOptions,
    GlobalOptions,
    LocalOptions,
    QueryEnv,
    open_stream,
    run_query,
)
from graphrag_lite.query.global_.search import NOT_FOUND
from graphrag_lite.query.index_data import IndexData

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fast_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("query_fast") / "carol"
    (root / "input").mkdir(parents=True)
    shutil.copyfile(EXCERPT, root / "input" / "carol.txt")
    (root / "settings.yaml").write_text("method: fast\n", encoding="utf-8")
    with GraphRAG(root, overrides={"llm.api_base": None, "llm.api_key": None}) as rag:
        rag.index(method="fast")
    return root


@pytest.fixture(scope="module")
def fast_data(fast_root: Path) -> IndexData:
    return IndexData.load(load_settings(fast_root))


async def test_local_extractive_on_real_index_cites_bob(fast_root: Path, fast_data: IndexData) -> None:
    settings = load_settings(fast_root)
    env = QueryEnv(fast_data, None, create_embedder(settings), settings)
    result = await run_query("Who is Tiny Tim's father?", LocalOptions(), env)
    assert result.extractive and result.citations
    cited = [fast_data.text_unit_by_id[c.text_unit_id].text for c in result.citations]
    assert any("Bob" in text and "Tim" in text for text in cited), result.answer
    assert any(m["how"] == "name" for m in result.extra["matched_entities"])


async def test_all_methods_over_http_on_real_index(
    fast_root: Path, fast_data: IndexData, llm_server: TestLLMServer, tmp_path: Path
) -> None:
    settings = llm_settings(llm_server, tmp_path)
    embedder = create_embedder(load_settings(fast_root))
    async with open_chat(settings) as chat:
        local = await run_query(
            "Who is Tiny Tim's father?", LocalOptions(), QueryEnv(fast_data, chat, embedder, settings)
        )
        env = QueryEnv(fast_data, chat, embedder, settings)
        basic = await run_query("Who went down a slide on Cornhill?", BasicOptions(), env)
        unrelated = await run_query("What is the boiling point of mercury?", GlobalOptions(), env)
        stream = open_stream("Who is Marley?", GlobalOptions(), QueryEnv(fast_data, chat, embedder, settings))
        deltas = [d async for d in stream]
    assert any("Bob" in fast_data.text_unit_by_id[c.text_unit_id].text for c in local.citations)
    assert any("Cornhill" in fast_data.text_unit_by_id[c.text_unit_id].text for c in basic.citations)
    assert unrelated.answer == NOT_FOUND
    assert stream.result is not None and "".join(deltas) == stream.result.answer
    assert "Marley" in stream.result.answer and stream.result.citations
