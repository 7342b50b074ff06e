"""The default offline embedder: MiniLM exported to ONNX from the installed weights, int8, no download."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from graphrag_lite.config.settings import Settings
from graphrag_lite.errors import ConfigError
from graphrag_lite.index.embed import embed_index
from graphrag_lite.models import onnx_minilm
from graphrag_lite.models.embeddings import AutoMiniLMEmbedder, CachedEmbedder, TorchMiniLMEmbedder
from graphrag_lite.models.factory import create_embedder
from graphrag_lite.models.onnx_minilm import MINILM, MINILM_INT8, OnnxMiniLMEmbedder, onnx_model_path
from graphrag_lite.store.reader import IndexReader
from graphrag_lite.store.records import CommunityReport, TextUnit
from graphrag_lite.store.vectors import VectorStore

CAROL = (Path(__file__).parent / "data" / "carol_excerpt.txt").read_text(encoding="utf-8")
# Sample texts: passages of the excerpt (several sizes, two past the model's 256 word pieces) and short ones.
SAMPLES = [
    " ".join(CAROL.split()[start : start + size])
    for start, size in ((0, 40), (500, 120), (1200, 180), (2000, 400), (4000, 600))
] + ["Scrooge is a miser.", "Ebenezer Scrooge hoards money", "The weather in Paris", "Bob Cratchit's clerk"]


def _no_network(*_args: Any, **_kwargs: Any) -> None:
    raise AssertionError("the ONNX export tried to open a network connection")


@pytest.mark.slow
def test_export_runs_offline_from_the_installed_weights_and_is_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(socket.socket, "connect", _no_network)
    monkeypatch.setattr(socket, "create_connection", _no_network)
    int8 = onnx_model_path(quantized=True, cache=tmp_path)
    fp32 = onnx_model_path(quantized=False, cache=tmp_path)
    assert int8.is_file() and fp32.is_file() and int8.parent == tmp_path / "models"
    assert int8.stat().st_size < fp32.stat().st_size * 0.8  # the matrix products are int8
    assert not [p for p in (tmp_path / "models").iterdir() if p.name.endswith(".tmp")]

    def no_export(*_args: Any) -> None:
        raise AssertionError("exported again although the cache holds the model")

    monkeypatch.setattr(onnx_minilm, "_export", no_export)
    monkeypatch.setattr(onnx_minilm, "_quantize", no_export)
    assert onnx_model_path(quantized=True, cache=tmp_path) == int8


def test_int8_vectors_stay_close_to_fp32_and_onnx_fp32_equals_torch() -> None:
    reference = TorchMiniLMEmbedder().embed_sync(SAMPLES)
    fp32 = OnnxMiniLMEmbedder(MINILM).embed_sync(SAMPLES)
    int8 = OnnxMiniLMEmbedder().embed_sync(SAMPLES)
    assert int8.shape == (len(SAMPLES), 384) and int8.dtype == np.float32
    assert np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(fp32 * reference, axis=1)) > 0.9999
    assert np.min(np.sum(int8 * reference, axis=1)) >= 0.98


def test_int8_keeps_meaning_and_windows_long_texts() -> None:
    embedder = OnnxMiniLMEmbedder()
    miser, hoards, paris = embedder.embed_sync(SAMPLES[-4:-1])
    assert miser @ hoards > miser @ paris + 0.2
    windows = embedder.windows(SAMPLES[4])
    assert len(windows) >= 3 and all(len(ids) <= 256 for ids, _ in windows)
    whole, first = embedder.embed_sync([SAMPLES[4], embedder._load()[1].decode(windows[0][0])])
    assert whole @ first < 0.99  # later windows count: nothing is cut off
    assert embedder.embed_sync([]).shape == (0, 384)
    # Batches are sorted by length; the order of the texts asked for does not change a vector.
    assert np.allclose(embedder.embed_sync(SAMPLES[::-1])[::-1], embedder.embed_sync(SAMPLES), atol=1e-6)


def test_the_factory_picks_the_runtime_and_refuses_int8_on_torch(tmp_path: Path) -> None:
    def inner(**embeddings: str) -> object:
        embedder = create_embedder(Settings.model_validate({"root": tmp_path, "embeddings": embeddings}))
        assert isinstance(embedder, CachedEmbedder)
        return embedder.inner

    assert isinstance(inner(), AutoMiniLMEmbedder) and inner().model == MINILM  # fp32, runtime auto
    int8 = inner(model=MINILM_INT8)
    assert isinstance(int8, OnnxMiniLMEmbedder) and int8.model == MINILM_INT8
    assert isinstance(inner(runtime="onnx"), OnnxMiniLMEmbedder)
    assert isinstance(inner(runtime="torch"), TorchMiniLMEmbedder)
    on_torch = inner(runtime="torch", precision="bf16")
    assert isinstance(on_torch, TorchMiniLMEmbedder) and on_torch.precision == "bf16"
    auto = inner(precision="fp32")
    assert isinstance(auto, AutoMiniLMEmbedder) and auto._bulk.precision == "fp32"
    with pytest.raises(ConfigError, match="ONNX Runtime only"):
        inner(model=MINILM_INT8, runtime="torch")


def test_auto_embeds_questions_on_onnx_and_a_long_run_on_torch_with_the_same_vectors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from graphrag_lite.models import embeddings

    monkeypatch.setattr(embeddings, "TORCH_AFTER_TEXTS", 6)  # a long run, in miniature
    auto = AutoMiniLMEmbedder(batch_size=4)
    few = auto.embed_sync(SAMPLES[:2])  # a question: ONNX Runtime
    assert auto._few._session is not None and not auto._on_torch
    first_batch = auto.embed_sync(SAMPLES)  # a full batch, but torch has not paid back its load yet
    assert not auto._on_torch
    many = auto.embed_sync(SAMPLES)  # past TORCH_AFTER_TEXTS: full batches go to torch
    assert auto._on_torch and auto._bulk.model == MINILM
    assert np.min(np.sum(few * many[:2], axis=1)) > 0.9999
    assert np.min(np.sum(first_batch * many, axis=1)) > 0.9999


def test_an_index_announced_as_long_runs_on_torch_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from graphrag_lite.models import embeddings
    from graphrag_lite.models.base import expect_bulk
    from graphrag_lite.models.cache import SQLiteCache

    monkeypatch.setattr(embeddings, "TORCH_FOR_INDEX", 6)
    short = AutoMiniLMEmbedder(batch_size=4)
    expect_bulk(short, 5)  # too few to pay back torch's load
    short.embed_sync(SAMPLES[:2])
    assert not short._on_torch
    long = AutoMiniLMEmbedder(batch_size=4)
    cache = SQLiteCache(tmp_path / "embeddings.sqlite", table="embeddings")
    expect_bulk(CachedEmbedder(long, cache), 6)  # through the cache wrapper, as the embed step calls it
    cache.close()
    long.embed_sync(SAMPLES[:2])  # even a partial batch: ONNX Runtime never loads beside torch
    assert long._on_torch and long._few._session is None


def test_bf16_keeps_the_vectors_of_fp32_and_auto_follows_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    from graphrag_lite.models import embeddings

    fp32 = TorchMiniLMEmbedder(precision="fp32").embed_sync(SAMPLES)
    bf16 = TorchMiniLMEmbedder(precision="bf16").embed_sync(SAMPLES)
    assert bf16.dtype == np.float32 and np.allclose(np.linalg.norm(bf16, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(fp32 * bf16, axis=1)) > 0.9999  # the same model: no re-embedding for it
    assert not np.array_equal(fp32, bf16)  # ... but the products did run in bf16
    for native, resolved in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(embeddings, "native_bf16", lambda native=native: native)
        auto = TorchMiniLMEmbedder(precision="auto")
        auto.embed_sync(SAMPLES[:1])
        assert auto.precision == resolved
    assert embeddings.resolve_precision("fp32") == "fp32"  # a choice is kept on any CPU


def test_changing_the_embedder_re_embeds_and_a_query_refuses_a_mixed_index(tmp_path: Path) -> None:
    db = tmp_path / "output" / "lancedb"
    units = [TextUnit(f"t{i}", "d", i, text, 10) for i, text in enumerate(SAMPLES[-4:])]

    def embed(embedder: OnnxMiniLMEmbedder) -> dict[str, dict[str, int]]:
        return asyncio.run(embed_index(db, {"d": "Carol"}, {}, units, [], [], embedder))

    assert embed(OnnxMiniLMEmbedder(MINILM))["text_units"]["embedded"] == 4
    assert embed(OnnxMiniLMEmbedder(MINILM))["text_units"]["embedded"] == 0  # same model: kept
    assert embed(OnnxMiniLMEmbedder(MINILM_INT8))["text_units"]["embedded"] == 4  # another: all again
    reader = IndexReader(tmp_path / "output")
    assert reader.vectors(MINILM_INT8).count("text_units") == 4
    with pytest.raises(ConfigError, match=f"embedded with '{MINILM_INT8}'.*re-embed"):
        reader.vectors(MINILM)


def test_reports_can_be_embedded_by_title_and_summary_and_switching_re_embeds_only_them(
    tmp_path: Path,
) -> None:
    db = tmp_path / "lancedb"
    units = [TextUnit("t0", "d", 0, SAMPLES[-4], 10)]
    report = CommunityReport(
        "cr-c1",
        "c1",
        0,
        "Scrooge and Marley",
        "The partners of the firm.",
        [],
        5.0,
        "",
        "# Scrooge and Marley\nThe partners of the firm.\n\n## Findings\n" + SAMPLES[3],
        "extractive",
        "ok",
        "entities",
    )
    embedder = OnnxMiniLMEmbedder(MINILM)

    def embed(what: str) -> dict[str, dict[str, int]]:
        return asyncio.run(embed_index(db, {}, {}, units, [], [report], embedder, report_text=what))

    assert embed("full")["community_reports"]["embedded"] == 1
    counts = embed("summary")
    assert counts["community_reports"]["embedded"] == 1 and counts["text_units"]["embedded"] == 0
    stored = VectorStore(db).columns("community_reports", ["text"]).to_pydict()["text"]
    assert stored == ["Scrooge and Marley\nThe partners of the firm."]
