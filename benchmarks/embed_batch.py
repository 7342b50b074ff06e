"""Seconds the local MiniLM model needs for the same texts at several forward-pass batch sizes.

Texts are the text units and entity descriptions of an existing index (the first ``--texts``). Runs are
interleaved (16, 64, 16, 64, ...) so a change in machine load hits every size alike.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/embed_batch.py --root examples/christmas_carol --sizes 16 64
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from graphrag_lite.config import load_settings
from graphrag_lite.models.embeddings import TorchMiniLMEmbedder
from graphrag_lite.store.tables import read_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="An indexed project.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 64], help="Windows per forward pass.")
    parser.add_argument("--texts", type=int, default=700, help="How many texts to embed per run.")
    parser.add_argument("--reps", type=int, default=3, help="Runs per size.")
    args = parser.parse_args()
    output = load_settings(Path(args.root)).output_path
    units = read_table(output, "text_units")
    entities = read_table(output, "entities")
    texts = list(units["text"]) + [
        f"{t}: {d}" for t, d in zip(entities["title"], entities["description"], strict=True)
    ]
    texts = texts[: args.texts]
    TorchMiniLMEmbedder().embed_sync(texts[:8])  # load the model outside the timing
    times: dict[int, list[float]] = {size: [] for size in args.sizes}
    for _ in range(args.reps):
        for size in args.sizes:
            embedder = TorchMiniLMEmbedder(batch_size=size, encode_batch=size)
            started = time.perf_counter()
            embedder.embed_sync(texts)
            times[size].append(time.perf_counter() - started)
    for size, runs in times.items():
        shown = ", ".join(f"{t:.1f}" for t in runs)
        print(f"batch {size:>4}: mean {sum(runs) / len(runs):.1f} s ({shown}) for {len(texts)} texts")


if __name__ == "__main__":
    main()
