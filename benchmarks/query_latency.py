"""How long a question takes: cold from the command line, and warm on one Python API object, offline.

Cold: ``graphrag-lite query`` in a fresh process for each method, a new question each time (so nothing is
answered from a cache), best of ``--runs``; beside it, the floor of reading the tables at all: a process
that only imports pandas and pyarrow.parquet, measured in the same run. Warm: one ``GraphRAG`` object
answers ``--questions`` new questions per method after one warm-up question; p50 and p95 per method, and
the time breakdown of the last question (``result.extra["timings"]``).

    make demo   # indexes examples/christmas_carol offline, once
    .venv/bin/python benchmarks/query_latency.py --root examples/christmas_carol
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

METHODS = ("local", "basic", "global", "drift")
SUBJECTS = ("Scrooge", "Marley", "Fred", "Bob Cratchit", "Tiny Tim", "the Ghost", "Belle", "Fezziwig")
ASKS = ("Who is {}?", "What happens to {}?", "What does {} want?", "Why does {} matter?", "Where is {}?")
OFFLINE = {"GRAPHRAG_API_KEY": "", "GRAPHRAG_API_BASE": "", "OPENAI_API_KEY": "", "HF_HUB_OFFLINE": "1"}


def questions(n: int, salt: str) -> list[str]:
    """``n`` different questions (the salt keeps cold and warm runs from sharing any)."""
    out = [ask.format(who) for ask in ASKS for who in SUBJECTS]
    return [f"{q} ({salt}{i})" for i, q in enumerate((out * (n // len(out) + 1))[:n])]


def wall(command: list[str]) -> float:
    env = {**os.environ, **OFFLINE}
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=Path("examples/christmas_carol"))
    parser.add_argument("--runs", type=int, default=3, help="cold runs per method (best is reported)")
    parser.add_argument("--questions", type=int, default=20, help="warm questions per method")
    parser.add_argument(
        "--empty-cache",
        action="store_true",
        help="cold runs on a copy of the project whose cache/ is emptied before each run (no embedding "
        "of an earlier question or sentence is reused)",
    )
    args = parser.parse_args()
    cli = [sys.executable, "-m", "graphrag_lite.cli.main", "query"]
    floor = min(wall([sys.executable, "-c", "import pandas, pyarrow.parquet"]) for _ in range(args.runs))
    cold: dict[str, float] = {}
    salt = f"c{int(time.time())}-"
    root = args.root
    if args.empty_cache:
        root = Path(tempfile.mkdtemp(prefix="query_latency_")) / "project"
        shutil.copytree(args.root, root, ignore=shutil.ignore_patterns("cache"))

    def cold_run(question: str, method: str) -> float:
        if args.empty_cache:
            shutil.rmtree(root / "cache", ignore_errors=True)
        return wall([*cli, question, "--root", str(root), "--method", method])

    for method in METHODS:
        cold[method] = min(cold_run(q, method) for q in questions(args.runs, f"{salt}{method}"))

    for key, value in OFFLINE.items():
        os.environ[key] = value
    from graphrag_lite.api.facade import GraphRAG

    warm: dict[str, tuple[float, float]] = {}
    breakdown: dict[str, dict[str, float]] = {}
    with GraphRAG(args.root) as rag:
        for method in METHODS:
            rag.query(f"Warm-up question about Scrooge ({method})", method)
            times = []
            for question in questions(args.questions, f"w{int(time.time())}-{method}"):
                started = time.perf_counter()
                result = rag.query(question, method)
                times.append(time.perf_counter() - started)
            times.sort()
            warm[method] = (statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)])
            breakdown[method] = result.extra.get("timings", {})

    print(f"floor (a process importing pandas and pyarrow.parquet): {floor:.2f} s")
    print(f"cold runs: {'cache/ emptied before each' if args.empty_cache else 'the project as it is'}\n")
    print("| method | cold CLI (best of 3) | × floor | warm p50 | warm p95 | warm breakdown, last question |")
    print("|---|---|---|---|---|---|")
    for method in METHODS:
        p50, p95 = warm[method]
        parts = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in breakdown[method].items() if k != "total")
        print(
            f"| {method} | {cold[method]:.2f} s | {cold[method] / floor:.1f}× | {p50 * 1000:.0f} ms | "
            f"{p95 * 1000:.0f} ms | {parts} |"
        )


if __name__ == "__main__":
    main()
