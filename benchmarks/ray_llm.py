"""LLM extraction with local concurrency vs Ray workers, against one endpoint with a fixed latency, with and
without a rate limit: the extraction step's time, its requests, and the highest request rate the endpoint
saw in any 5-second window.

The endpoint is the test server (tests/support/server.py) replying after ``--latency`` seconds. Local runs
``llm.concurrency`` requests at a time in one process; Ray runs ``--workers`` tasks at a time, each with the
same ``llm.concurrency``, all behind one rate-limiter actor when ``llm.requests_per_minute`` is set. Ray's
start-up is not in the step time (it is printed).

    .venv/bin/python benchmarks/ray_llm.py --units 48 --latency 0.5 --rpm 240 --workers 4
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test server

from support.server import TestLLMServer

from graphrag_lite.api.facade import GraphRAG

EXCERPT = Path(__file__).resolve().parents[1] / "tests" / "data" / "carol_excerpt.txt"
KEY = "sk-benchmark"


def peak_rate(stamps: list[float], window: float = 5.0) -> float:
    """The most requests seen in any ``window`` seconds, per second."""
    stamps = sorted(stamps)
    best, start = 0, 0
    for end, stamp in enumerate(stamps):
        while stamp - stamps[start] > window:
            start += 1
        best = max(best, end - start + 1)
    return best / window


def run(root: Path, server: TestLLMServer) -> dict[str, Any]:
    began = time.time()
    with GraphRAG(root) as rag:
        report = rag.index(method="standard")
    step = next(s for s in report.steps if s.name == "extract_graph")
    calls = [e.timestamp for e in server.log if e.timestamp >= began and "Knowledge graph" in e.kind]
    return {"step_s": step.duration_s, "requests": len(calls), "peak": peak_rate(calls)}


def project(root: Path, server: TestLLMServer, text: str, kind: str, rpm: int | None, args: Any) -> Path:
    (root / "input").mkdir(parents=True)
    (root / "input" / "carol.txt").write_text(text, encoding="utf-8")
    limit = f"  requests_per_minute: {rpm}\n" if rpm else ""
    (root / "settings.yaml").write_text(
        f"llm:\n  api_base: {server.base_url}\n  model: test-model\n  request_timeout: 30\n"
        f"  concurrency: {args.concurrency}\n{limit}chunks:\n  size: 200\n  overlap: 0\n"
        f"executor:\n  kind: {kind}\n  batch_size: {args.batch}\n  max_in_flight: {args.workers}\n"
    )
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=48, help="text units (200 tokens each)")
    parser.add_argument("--latency", type=float, default=0.5, help="seconds the endpoint takes per reply")
    parser.add_argument("--rpm", type=int, default=240, help="the endpoint's rate limit, requests/minute")
    parser.add_argument("--workers", type=int, default=4, help="Ray tasks at a time")
    parser.add_argument("--concurrency", type=int, default=4, help="llm.concurrency (per process)")
    parser.add_argument("--batch", type=int, default=4, help="units per Ray task")
    args = parser.parse_args()
    os.environ["GRAPHRAG_API_KEY"] = KEY
    words = EXCERPT.read_text(encoding="utf-8").split()
    text = " ".join((words * 4)[: args.units * 150])
    work = Path(tempfile.mkdtemp(prefix="ray_llm_"))
    import ray

    started = time.perf_counter()
    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
    print(f"Ray start-up {time.perf_counter() - started:.1f} s", file=sys.stderr)
    rows = []
    with TestLLMServer(delay_s=args.latency) as server:
        for rpm in (None, args.rpm):
            for kind in ("local", "ray"):
                root = project(work / f"{kind}-{rpm}", server, text, kind, rpm, args)
                result = run(root, server)
                rows.append((kind, rpm, result))
                print(kind, rpm, result, file=sys.stderr)
    ray.shutdown()
    print("| executor | rate limit | extraction step | requests | peak requests/s (5 s window) |")
    print("|---|---|---|---|---|")
    for kind, rpm, r in rows:
        limit = f"{rpm}/min ({rpm / 60:.1f}/s)" if rpm else "none"
        who = f"local, concurrency {args.concurrency}" if kind == "local" else f"ray, {args.workers} tasks"
        print(f"| {who} | {limit} | {r['step_s']:.1f} s | {r['requests']} | {r['peak']:.1f} |")


if __name__ == "__main__":
    main()
