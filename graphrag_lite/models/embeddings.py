"""Embedders: all-MiniLM-L6-v2 on CPU (offline, the default), any OpenAI-compatible /embeddings endpoint,
and a SQLite cache in front of either. All return unit-length float32 rows.

Long texts are never silently truncated: they are cut into windows the model accepts, each window is
embedded, and the text's vector is the token-weighted mean of its windows, renormalised.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from graphrag_lite.config.settings import EmbeddingPrecision
from graphrag_lite.errors import EmbeddingError
from graphrag_lite.models.base import Embedder, Usage, UsageMeter, close_model, expect_bulk
from graphrag_lite.models.cache import SQLiteCache, embedding_cache_key
from graphrag_lite.models.fair_lock import FairLock
from graphrag_lite.models.onnx_minilm import MINILM, MINILM_DIM, minilm_weights_dir, quiet_transformers
from graphrag_lite.models.windows import Windows

log = logging.getLogger(__name__)

# Dimensions of well-known hosted models, so ``dim`` is right before the first call.


# -- local MiniLM -------------------------------------------------------------------------------------------

_MODELS: dict[str, Any] = {}
_MODELS_LOCK = threading.Lock()
_ENCODE_LOCK = FairLock()  # one batch at a time: torch already uses every core for it


def _load_sentence_transformer(name_or_path: str) -> Any:
    """Load (once per process) the local model; offline only."""
    with _MODELS_LOCK:
        if name_or_path in _MODELS:
            return _MODELS[name_or_path]
        if name_or_path == MINILM:
            path = str(minilm_weights_dir())
        elif Path(name_or_path).is_dir():
            path = name_or_path
        else:
            raise EmbeddingError(
                f"embeddings.model '{name_or_path}' is not available offline. The local provider ships "
                f"'{MINILM}'; set embeddings.model to it or to a sentence-transformers model folder."
            )
        try:
            quiet_transformers()
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise EmbeddingError(
                "sentence-transformers is missing. Install it with `pip install sentence-transformers` "
                "(and a CPU torch: `pip install torch --index-url https://download.pytorch.org/whl/cpu`)."
            ) from None
        try:
            model = SentenceTransformer(path, device="cpu")
        except Exception as exc:
            raise EmbeddingError(
                f"Cannot load the embedding model from {path}: {exc}. Reinstall it."
            ) from exc
        _MODELS[name_or_path] = model
        return model


def native_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (Intel AMX, or AVX-512 BF16). There torch's bf16 autocast
    runs MiniLM about 2.3x as fast as fp32 (benchmarks/embed_speed.py); elsewhere bf16 is emulated."""
    import torch

    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")  # torch.cpu's own probes
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def resolve_precision(precision: EmbeddingPrecision) -> EmbeddingPrecision:
    """``auto`` -> ``bf16`` where the CPU does bf16 natively, else ``fp32``; the others as they are."""
    if precision == "auto":
        return "bf16" if native_bf16() else "fp32"
    return precision


# Windows per forward pass of the local model. Each pass pads to its longest window, so small passes waste
# less; on 2 CPU cores 16 was about 18 % faster than 64 (benchmarks/embed_batch.py, BENCHMARKS.md).
ENCODE_BATCH = 16


class TorchMiniLMEmbedder:
    """all-MiniLM-L6-v2 (or a local sentence-transformers folder) on CPU, loaded lazily once per process.

    Inference runs in a worker thread (``asyncio.to_thread``) so the event loop stays responsive; batches
    are serialised process-wide because torch already uses every core for one batch.

    ``precision`` bf16 runs the matrix products in bfloat16 (torch autocast): the same model, vectors with
    cosine >= 0.9999 to fp32's, so it keeps the model's name and an index never re-embeds for it.
    """

    def __init__(
        self,
        model: str = MINILM,
        *,
        batch_size: int = 64,
        encode_batch: int = ENCODE_BATCH,
        precision: EmbeddingPrecision = "fp32",
    ) -> None:
        self.model = model
        self.batch_size = batch_size
        self.encode_batch = encode_batch
        self.precision = precision  # resolved on first use: probing the CPU needs torch
        self._dim = MINILM_DIM if model == MINILM else 0

    @property
    def dim(self) -> int:
        if not self._dim:
            self._dim = int(self._st().get_embedding_dimension())
        return self._dim

    def _st(self) -> Any:
        return _load_sentence_transformer(self.model)

    def windows(self, text: str) -> list[tuple[str, int]]:
        """``(window text, word pieces)`` pieces of ``text``, each short enough for the model (no cut-off)."""
        st = self._st()
        limit = int(st.max_seq_length) - 2 - 6  # room for [CLS]/[SEP] and re-tokenisation at the cut
        if len(text) <= limit:  # a word piece covers at least one character
            return [(text, 1)]
        enc = st.tokenizer(
            text, add_special_tokens=False, return_offsets_mapping=True, truncation=False, verbose=False
        )
        offsets: list[tuple[int, int]] = list(enc["offset_mapping"])
        if len(offsets) <= limit:
            return [(text, len(offsets))]
        pieces = []
        for start in range(0, len(offsets), limit):
            span = offsets[start : start + limit]
            pieces.append((text[span[0][0] : span[-1][1]], len(span)))
        return pieces

    def embed_sync(self, texts: Sequence[str]) -> np.ndarray:
        """Blocking version of :meth:`embed` (for threads and scripts)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        self.precision = resolve_precision(self.precision)
        # The fast tokenizer is not safe for concurrent use: windowing runs under the same lock as encoding.
        # Autocast is per thread, so it is entered here, in the thread that encodes.
        with _ENCODE_LOCK, torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            windows = Windows.of(texts, self.windows)
            vectors = self._st().encode(
                windows.texts,
                batch_size=min(self.batch_size, self.encode_batch),
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return windows.pool(np.asarray(vectors, dtype=np.float32), len(texts))

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        return await asyncio.to_thread(self.embed_sync, list(texts))


TORCH_AFTER_TEXTS = 2000  # unannounced calls: a long run of full batches (never a question's few texts)
# An index announced by ``expect_bulk`` runs on torch from this many texts on. Torch takes about 3.4 s longer
# to load than ONNX Runtime; ONNX fp32 embeds about 40 passages/s on 2 cores, torch 78 (fp32) to 180 (bf16),
# so torch pays back its load after about 280 passages in fp32, 175 in bf16. The Carol's 1,252 mostly short
# texts: 29.6 s on ONNX fp32, 11.0 s on torch bf16 (BENCHMARKS.md, "Offline index in bf16").
TORCH_FOR_INDEX = 300


class AutoMiniLMEmbedder:
    """MiniLM on the faster runtime for each call, with the same vectors either way (fp32: cosine 1.0 to
    1e-6; torch in bf16: >= 0.9999): an index's texts on torch, everything else (a question, the sentences an
    offline answer ranks) on ONNX Runtime, which loads in a fraction of a second and imports no torch. An
    index is recognised by ``expect_bulk`` (``TORCH_FOR_INDEX`` texts or more), or after
    ``TORCH_AFTER_TEXTS`` texts in full batches of ``batch_size``. Each runtime loads on first use."""

    def __init__(self, *, batch_size: int = 64, precision: EmbeddingPrecision = "auto") -> None:
        from graphrag_lite.models.onnx_minilm import OnnxMiniLMEmbedder

        self.model = MINILM
        self.dim = MINILM_DIM
        self.bulk = batch_size  # calls of at least this many texts may go to torch ...
        self._few = OnnxMiniLMEmbedder(MINILM)
        self._bulk = TorchMiniLMEmbedder(MINILM, batch_size=batch_size, precision=precision)
        self._seen = 0  # ... once this many texts were embedded: torch takes seconds to load
        self._on_torch = False

    def embed_sync(self, texts: Sequence[str]) -> np.ndarray:
        # Torch pays back its load time only over hundreds of texts (an index), never in a question's
        # calls: a query's 65-sentence ranking call must not load it.
        if self._on_torch or (len(texts) >= self.bulk and self._seen >= TORCH_AFTER_TEXTS):
            self._on_torch = True
            return self._bulk.embed_sync(texts)
        self._seen += len(texts)
        return self._few.embed_sync(texts)

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        return await asyncio.to_thread(self.embed_sync, list(texts))

    def expect_bulk(self, texts: int) -> None:
        """An index is about to embed ``texts`` texts: from ``TORCH_FOR_INDEX`` on, run every call on torch
        from the first one, so ONNX Runtime (and its memory arena, 0.5 GB on long texts) never loads."""
        if texts >= TORCH_FOR_INDEX:
            self._on_torch = True


# -- OpenAI-compatible endpoint -----------------------------------------------------------------------------


class CachedEmbedder:
    """Any embedder behind a SQLite cache keyed by model + sha256(text); only missing texts are embedded."""

    def __init__(self, inner: Embedder, cache: SQLiteCache, meter: UsageMeter | None = None) -> None:
        self.inner = inner
        self.cache = cache
        self.meter = meter
        self.model = inner.model

    @property
    def dim(self) -> int:
        return self.inner.dim

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        keys = [embedding_cache_key(self.model, text) for text in texts]
        stored = await self.cache.get_many(keys)
        found: dict[str, np.ndarray] = {}
        for key, value in stored.items():
            vector = np.frombuffer(value, dtype="<f4") if isinstance(value, bytes) else None
            if vector is not None and vector.size and self.inner.dim in (0, vector.size):
                found[key] = vector.astype(np.float32)
        missing = {key: text for key, text in zip(keys, texts, strict=True) if key not in found}
        if missing:
            fresh = await self.inner.embed(list(missing.values()))
            new = dict(zip(missing, fresh, strict=True))
            await self.cache.set_many((key, vec.astype("<f4").tobytes()) for key, vec in new.items())
            found.update(new)
        hits = len(set(keys)) - len(missing)
        if self.meter is not None and hits:
            self.meter.record(Usage(cache_hits=hits))
        return np.stack([found[key] for key in keys]).astype(np.float32)

    def expect_bulk(self, texts: int) -> None:
        expect_bulk(self.inner, texts)

    async def aclose(self) -> None:
        """Close the inner embedder's connections on this loop and the cache file."""
        await close_model(self.inner)
        self.cache.close()
