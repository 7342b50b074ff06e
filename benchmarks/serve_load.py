"""Load on ``graphrag-lite serve``: N concurrent clients asking offline local-search questions for a fixed
time against a real server process; errors, latency percentiles and queries per second.

Questions are "What do we learn about <entity>?" over the index's 200 highest-degree entities, in a
rotating order per client, so the embedding cache does not answer most of them. Needs an index at
``--root`` (the Christmas Carol example: ``graphrag-lite index --root examples/christmas_carol``).

    .venv/bin/python benchmarks/serve_load.py --root examples/christmas_carol --clients 50 --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # ServedProject

from support.serve import ServedProject

KEY = "load-benchmark-key-0123456789"


async def client(
    number: int,
    url: str,
    questions: list[str],
    until: float,
    latencies: list[tuple[float, float]],
    errors: list[str],
) -> None:
    """Ask until ``until``; ``latencies`` gets (start, seconds) per answer."""
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as http:
        turn = number
        while time.monotonic() < until:
            question = questions[turn % len(questions)]
            turn += 7
            started = time.monotonic()
            try:
                response = await http.post("/query", json={"question": question, "method": "local"})
                if response.status_code != 200:
                    errors.append(f"{response.status_code}: {response.text[:200]}")
                    continue
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            latencies.append((started, time.monotonic() - started))


async def run(url: str, clients: int, seconds: float) -> tuple[list[tuple[float, float]], list[str], float]:
    headers = {"Authorization": f"Bearer {KEY}"}
    entities = httpx.get(f"{url}/entities", params={"limit": 200}, headers=headers, timeout=60).json()
    questions = [f"What do we learn about {e['title']}?" for e in entities]
    latencies: list[tuple[float, float]] = []
    errors: list[str] = []
    started = time.monotonic()
    until = started + seconds
    await asyncio.gather(*(client(i, url, questions, until, latencies, errors) for i in range(clients)))
    return [(start - started, seconds) for start, seconds in latencies], errors, time.monotonic() - started


def percentiles(seconds: list[float]) -> str:
    if len(seconds) < 2:
        return "too few answers"
    cuts = statistics.quantiles(seconds, n=100)
    return f"p50 {cuts[49]:.2f} s, p95 {cuts[94]:.2f} s, max {max(seconds):.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=Path("examples/christmas_carol"))
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    with ServedProject(args.root.resolve(), api_key=KEY) as served:
        latencies, errors, elapsed = asyncio.run(run(served.url, args.clients, args.seconds))
    print(f"{args.clients} clients, {elapsed:.0f} s: {len(latencies)} answers, {len(errors)} errors")
    print("latency, all answers:", percentiles([s for _, s in latencies]))
    print("latency, questions asked after the first 10 s:", percentiles([s for t, s in latencies if t >= 10]))
    print(f"throughput {len(latencies) / elapsed:.1f} queries/s")
    for error in errors[:5]:
        print("error:", error)


if __name__ == "__main__":
    main()
