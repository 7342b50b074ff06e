"""Reading PDF: pages per second of ``formats.read_pdf`` (pypdf) on a generated PDF, and of the whole
input step (reading + chunking with page boundaries) over the same file.

The PDF is written with reportlab: ``--pages`` pages of ``--lines`` lines of varied English-like text.

    .venv/bin/python benchmarks/pdf_read.py --pages 200
"""

from __future__ import annotations

import argparse
import io
import random
import tempfile
import time
from pathlib import Path

from graphrag_lite.config import load_settings
from graphrag_lite.index.input.chunking import chunk_documents
from graphrag_lite.index.input.formats import read_pdf
from graphrag_lite.index.input.loading import load_documents
from graphrag_lite.models.tokens import get_tokenizer

WORDS = [
    "harbour",
    "report",
    "revenue",
    "costs",
    "island",
    "ferry",
    "council",
    "budget",
    "winter",
    "survey",
    "river",
    "bridge",
    "office",
    "market",
    "school",
    "station",
    "project",
    "results",
    "growth",
    "plan",
    "staff",
    "north",
    "south",
    "review",
    "museum",
    "library",
    "water",
    "energy",
]


def make_pdf(pages: int, lines: int, seed: int = 7) -> bytes:
    from reportlab.pdfgen import canvas

    rng = random.Random(seed)
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    for page in range(pages):
        pdf.drawString(72, 770, f"Section {page + 1}")
        for line in range(lines):
            words = " ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + "."
            pdf.drawString(72, 750 - 16 * line, words)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--lines", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is reported")
    args = parser.parse_args()
    data = make_pdf(args.pages, args.lines)
    root = Path(tempfile.mkdtemp(prefix="pdf_read_"))
    (root / "input").mkdir()
    (root / "input" / "generated.pdf").write_bytes(data)
    settings = load_settings(root)
    tokenizer = get_tokenizer(settings.chunks.encoding)
    read_times, step_times = [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        extracted = read_pdf(data)
        read_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        documents = load_documents(settings).documents
        units = chunk_documents(
            documents, settings.chunks.size, settings.chunks.overlap, tokenizer, by_section=True
        )
        step_times.append(time.perf_counter() - started)
    chars = len(extracted.text)
    print(f"{args.pages} pages, {len(data) / 1e6:.1f} MB, {chars:,} characters, {len(units)} text units")
    print(f"read_pdf: {min(read_times):.2f} s, {args.pages / min(read_times):.0f} pages/s")
    print(f"load + chunk: {min(step_times):.2f} s, {args.pages / min(step_times):.0f} pages/s")


if __name__ == "__main__":
    main()
