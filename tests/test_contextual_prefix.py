"""Contextual prefixes (chunks.contextual_prefix): one LLM sentence per text unit that search sees before it.

End to end over HTTP to the test server: the contexts are stored, embedded and searched, counted in
stats.json (prompt-cache hits included), and an update asks only about the new units.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import TEST_API_KEY
from support.projects import write_project
from support.replies.context import CONTEXT_MARKER
from support.server import TestLLMServer

from graphrag_lite.api.facade import GraphRAG
from graphrag_lite.index.input.context import document_window
from graphrag_lite.query.basic.context import bm25_search
from graphrag_lite.query.index_data import IndexData
from graphrag_lite.store.atomic import read_json
from graphrag_lite.store.records import search_text
from graphrag_lite.store.tables import read_records
from graphrag_lite.store.vectors import VectorStore

CAROL = (Path(__file__).parent / "data" / "carol_excerpt.txt").read_text(encoding="utf-8")
OPENING = " ".join(CAROL.split()[:1400])  # ~1,900 tokens: past the 1,024 a prompt cache needs
LATER = " ".join(CAROL.split()[3000:3300])


def _requests(server: TestLLMServer) -> int:
    return sum(1 for e in server.log if CONTEXT_MARKER in "".join(m["content"] for m in e.messages))


def test_a_short_document_is_sent_whole_and_a_long_one_by_shared_windows() -> None:
    text = " ".join(f"w{i}" for i in range(1000))
    assert document_window(text, 10, 40, n_tokens=500, window_tokens=600) == text
    first = document_window(text, 10, 40, n_tokens=2000, window_tokens=400)
    assert first.startswith("w0 ") and len(first) < len(text) / 3
    assert document_window(text, 60, 90, n_tokens=2000, window_tokens=400) == first  # same prefix
    start = text.index("w700 ")
    later = document_window(text, start, start + 30, n_tokens=2000, window_tokens=400)
    assert "w700 w701" in later and not later.startswith("w0 ")
    assert later.split()[0].startswith("w") and later.split()[-1].startswith("w")  # cut at whitespace


@pytest.mark.slow
def test_contexts_are_searched_counted_and_reused_on_update(
    llm_server: TestLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRAPHRAG_API_KEY", TEST_API_KEY)
    settings = (
        f"llm:\n  api_base: {llm_server.base_url}\n  model: test-model\n  request_timeout: 5\n"
        "chunks:\n  contextual_prefix: true\n"
    )
    root = write_project(tmp_path, {"stave_one.txt": OPENING}, settings)
    with GraphRAG(root) as rag:
        rag.index(method="fast")
    output = root / "output"
    units = read_records(output, "text_units")
    contexts = {c.id: c.context for c in read_records(output, "unit_contexts")}
    assert len(units) >= 4 and set(contexts) == {u.id for u in units}
    assert _requests(llm_server) == len(units)
    opening_words = " ".join(OPENING.split()[:12])
    assert all(c == f'From "stave_one", the document that opens: {opening_words}' for c in contexts.values())

    # Cost in stats.json: one call per unit, and the shared document prefix came from the prompt cache.
    step = read_json(output / "stats.json", {})["steps"]["contextualize_units"]
    assert step["llm_calls"] == len(units) and step["prompt_tokens"] > 0
    assert 0 < step["cached_prompt_tokens"] < step["prompt_tokens"]
    assert step["stats"]["contexts"]["with_context"] == len(units)

    # Search sees title + context + text: BM25 and the stored vectors' text.
    data = IndexData.load(rag.settings)
    last = units[-1]
    assert "Peter" not in last.text  # a name only the document's opening has
    assert search_text("stave_one", contexts[last.id], last.text) in data.unit_search_texts
    assert last.id in bm25_search(data, "Peter", len(units))  # found through its context
    stored = VectorStore(output / "lancedb").columns("text_units", ["id", "text"]).to_pydict()
    embedded = dict(zip(stored["id"], stored["text"], strict=True))
    assert embedded[last.id] == search_text("stave_one", contexts[last.id], last.text)

    # An update asks only about the new document's units; the others come from the step's memo.
    before = _requests(llm_server)
    write_project(root, {"stave_one.txt": OPENING, "later.txt": LATER}, settings)
    with GraphRAG(root) as rag:
        rag.update()
    new_units = [u for u in read_records(output, "text_units") if u.id not in contexts]
    assert new_units and _requests(llm_server) - before == len(new_units)
    step = read_json(output / "stats.json", {})["steps"]["contextualize_units"]
    assert step["stats"]["contexts"]["reused"] == len(units)


def test_without_an_llm_the_title_is_the_only_prefix(tmp_path: Path) -> None:
    root = write_project(
        tmp_path, {"stave_one.txt": " ".join(OPENING.split()[:200])}, "chunks:\n  contextual_prefix: true\n"
    )
    with GraphRAG(root) as rag:
        report = rag.index(method="fast")
    assert read_records(root / "output", "unit_contexts") == []
    assert not [f for s in report.steps for f in s.failures]
