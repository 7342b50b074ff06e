"""Offline indexing with the local executor vs the Ray executor, one after the other on this machine:
total and NLP-extraction time, and whether both give the same graph.

Rows of a JSONL corpus (evenly spaced, ``--parts``) go into two projects with the same settings but
``executor.kind``. Ray starts locally with ``--ray-cpus`` CPUs (its start-up is included in the Ray run's
time, since a user pays it too). On 2 cores Ray is not expected to win: this measures its overhead.

    .venv/bin/python benchmarks/ray_executor.py --parts 200 --ray-cpus 2
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from graphrag_lite.api.facade import GraphRAG
from graphrag_lite.store.tables import read_records

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def run(root: Path) -> dict[str, Any]:
    started = time.perf_counter()
    with GraphRAG(root) as rag:
        report = rag.index(method="fast")
    total = time.perf_counter() - started
    nlp = next(s for s in report.steps if s.name == "extract_graph_nlp")
    entities = sorted(e.id for e in read_records(root / "output", "entities"))
    return {"total_s": total, "nlp_s": nlp.duration_s, "entities": entities}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=DATA / "ms_podcast" / "corpus.jsonl")
    parser.add_argument("--parts", type=int, default=200)
    parser.add_argument("--ray-cpus", type=int, default=2)
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.parts and args.parts < len(rows):
        rows = [rows[int(i * len(rows) / args.parts)] for i in range(args.parts)]
    work = Path(tempfile.mkdtemp(prefix="ray_executor_"))
    results = {}
    for kind in ("local", "ray"):
        root = work / kind
        (root / "input").mkdir(parents=True)
        with (root / "input" / "corpus.jsonl").open("w", encoding="utf-8") as out:
            for row in rows:
                out.write(
                    json.dumps({"doc_id": row["doc_id"], "title": row["title"], "text": row["text"]}) + "\n"
                )
        (root / "settings.yaml").write_text(f"input:\n  id_column: doc_id\nexecutor:\n  kind: {kind}\n")
        if kind == "ray":
            import ray

            started = time.perf_counter()
            ray.init(num_cpus=args.ray_cpus, include_dashboard=False, log_to_driver=False)
            startup = time.perf_counter() - started
        results[kind] = run(root)
        if kind == "ray":
            results[kind]["total_s"] += startup
            results[kind]["ray_start_s"] = startup
    same = results["local"]["entities"] == results["ray"]["entities"]
    print(f"{len(rows)} corpus rows; same entities: {same}", file=sys.stderr)
    print("| executor | total | NLP extraction step | Ray start-up |\n|---|---|---|---|")
    for kind, r in results.items():
        print(f"| {kind} | {r['total_s']:.1f} s | {r['nlp_s']:.1f} s | {r.get('ray_start_s', 0):.1f} s |")


if __name__ == "__main__":
    main()
