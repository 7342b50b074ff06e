"""A question pays for its own work, not for start-up (issue 26): an offline query loads neither torch,
the openai package nor LanceDB, and every result says where its time went. Speed itself is measured in
benchmarks/query_latency.py, never here."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from query_fixtures import carol_index

from graphrag_lite.api.facade import GraphRAG

PROBE = """
import json, sys
from graphrag_lite.api.facade import GraphRAG
with GraphRAG(sys.argv[1], overrides={"cache.enabled": False}) as rag:  # every text embedded afresh
    result = rag.query("Who is Marley?", sys.argv[2])
heavy = [m for m in ("torch", "openai", "lancedb", "spacy", "sentence_transformers") if m in sys.modules]
print(json.dumps({"heavy": heavy, "answer": bool(result.answer)}))
"""
OFFLINE = {"GRAPHRAG_API_KEY": "", "GRAPHRAG_API_BASE": "", "OPENAI_API_KEY": "", "HF_HUB_OFFLINE": "1"}


@pytest.mark.parametrize("method", ["local", "basic", "global", "drift"])
def test_an_offline_question_imports_no_heavy_package(
    tmp_path_factory: pytest.TempPathFactory, method: str
) -> None:
    root = carol_index(tmp_path_factory.getbasetemp())
    env = {**os.environ, **OFFLINE}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(root), method], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"heavy": [], "answer": True}


def test_every_result_says_where_its_time_went(tmp_path_factory: pytest.TempPathFactory) -> None:
    root = carol_index(tmp_path_factory.getbasetemp())
    with GraphRAG(root) as rag:
        first = rag.query("Who is Scrooge?", "local").extra["timings"]
        second = rag.query("Who is Fred?", "local").extra["timings"]
    for timings in (first, second):
        assert set(timings) == {"load", "embed", "retrieve_pack", "llm", "total"}
        assert all(value >= 0 for value in timings.values())
        parts = timings["load"] + timings["embed"] + timings["retrieve_pack"] + timings["llm"]
        assert parts == pytest.approx(timings["total"], abs=0.002)
    assert first["load"] > 0 and second["load"] < first["load"]  # the warm object reads the index once
