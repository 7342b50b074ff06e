"""How much text the `embed` step of a finished index had to encode, to turn its duration into rates.

The step's row counts hide the real work: entity descriptions and report texts can be long and are cut into
several model windows. This script rebuilds the texts the step embeds (same rules as ``index/embed.py``),
counts texts, model windows and word pieces per table with the model's own tokenizer (no inference), and
divides by the step duration recorded in ``output/stats.json``.

    .venv/bin/python benchmarks/embed_load.py --root /tmp/bench4/carol
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from graphrag_lite.models.embeddings import TorchMiniLMEmbedder


def embedded_texts(output: Path) -> dict[str, list[str]]:
    """The texts ``embed_index`` encodes, per vector table."""
    units = pd.read_parquet(output / "text_units.parquet", columns=["text"])
    entities = pd.read_parquet(output / "entities.parquet", columns=["title", "description"])
    reports = pd.read_parquet(output / "community_reports.parquet", columns=["full_content", "summary"])
    titles, descriptions = entities["title"], entities["description"]
    full, summaries = reports["full_content"], reports["summary"]
    return {
        "text_units": units["text"].tolist(),
        "entities": [f"{t}: {d}".strip() for t, d in zip(titles, descriptions, strict=True)],
        "community_reports": [f or s for f, s in zip(full, summaries, strict=True)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True, help="Project root with a finished fast index.")
    args = parser.parse_args()
    output = args.root / "output"
    step = json.loads((output / "stats.json").read_text())["steps"]["embed"]
    seconds = float(step["duration_s"])
    embedder = TorchMiniLMEmbedder()
    tokenizer = embedder._st().tokenizer
    totals = {"texts": 0, "windows": 0, "pieces": 0}
    print(f"embed step: {seconds:.1f} s")
    for table, texts in embedded_texts(output).items():
        windows = [w for text in texts for w, _ in embedder.windows(text)]
        # windows() reports 1 piece for short texts without tokenising them: count every window here.
        pieces = sum(len(ids) for ids in tokenizer(windows, add_special_tokens=False)["input_ids"])
        print(f"{table:>18}: {len(texts):>7,} texts, {len(windows):>7,} windows, {pieces:>10,} word pieces")
        for key, value in zip(totals, (len(texts), len(windows), pieces), strict=True):
            totals[key] += value
    n_texts, n_windows, n_pieces = totals["texts"], totals["windows"], totals["pieces"]
    print(f"{'total':>18}: {n_texts:>7,} texts, {n_windows:>7,} windows, {n_pieces:>10,} word pieces")
    rates = (n_texts / seconds, n_windows / seconds, n_pieces / seconds)
    print(f"{'rates':>18}: {rates[0]:.1f} texts/s, {rates[1]:.1f} windows/s, {rates[2]:,.0f} word pieces/s")


if __name__ == "__main__":
    main()
