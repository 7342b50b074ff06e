"""The local embedders side by side: torch fp32 and bf16, ONNX Runtime fp32 and int8, on the same texts.

Each embedder is loaded and warmed first (model load is not counted), then embeds the texts in batches of
``--batch`` (as the embed step sends them); the order of the runs is repeated ``--rounds`` times so a noisy
machine shows in the spread. Prints texts per second and the bf16 and int8 vectors' cosine with fp32.

    .venv/bin/python benchmarks/embed_speed.py --corpus ../shared/data/musique_100/corpus.jsonl --limit 400
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from graphrag_lite.models.embeddings import TorchMiniLMEmbedder
from graphrag_lite.models.onnx_minilm import MINILM, MINILM_INT8, OnnxMiniLMEmbedder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="JSONL with a 'text' field")
    parser.add_argument("--limit", type=int, default=400)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with args.corpus.open(encoding="utf-8") as handle:
        texts = [json.loads(line)["text"] for line in handle][: args.limit]
    embedders = {
        "torch fp32": TorchMiniLMEmbedder(precision="fp32"),
        "torch bf16": TorchMiniLMEmbedder(precision="bf16"),
        "onnx fp32": OnnxMiniLMEmbedder(MINILM),
        "onnx int8": OnnxMiniLMEmbedder(MINILM_INT8),
    }
    for embedder in embedders.values():
        embedder.embed_sync(texts[:8])
    seconds: dict[str, list[float]] = {name: [] for name in embedders}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for name, embedder in embedders.items():
            started = time.perf_counter()
            parts = [embedder.embed_sync(texts[i : i + args.batch]) for i in range(0, len(texts), args.batch)]
            seconds[name].append(time.perf_counter() - started)
            vectors[name] = np.vstack(parts)
    words = sum(len(t.split()) for t in texts) / len(texts)
    print(f"{len(texts)} texts, {words:.0f} words each on average, batches of {args.batch}\n")
    print("| embedder | seconds (each round) | texts/s (best) | vs torch fp32 |")
    print("|---|---|---|---|")
    best_torch = min(seconds["torch fp32"])
    for name, times in seconds.items():
        rounds = ", ".join(f"{t:.2f}" for t in times)
        print(f"| {name} | {rounds} | {len(texts) / min(times):.0f} | {best_torch / min(times):.2f}x |")
    print()
    for name in ("torch bf16", "onnx int8", "onnx fp32"):
        cosine = np.sum(vectors[name] * vectors["torch fp32"], axis=1)
        print(f"{name} vs torch fp32, cosine: min {cosine.min():.6f}, mean {cosine.mean():.6f}")


if __name__ == "__main__":
    main()
