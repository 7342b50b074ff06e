"""Offline (fast) indexing, two versions of the code side by side: wall time, time per step and peak RSS.

Each variant indexes its own copy of the corpus from scratch, one after the other on the same machine, in a
child process of its own (so its peak RSS is its own), each once the load average settled below one core. A
variant is the current tree or a git commit (checked out as a worktree under --workdir and imported from
there). The default compares a commit (``--before``, repeatable) with the current tree (or ``--after
COMMIT``, so the tree can change while it runs). The ONNX export is made before timing (it is a one-time cost
per machine) and reported apart.

    .venv/bin/python benchmarks/offline_index.py --corpus ../shared/data/ms_podcast/corpus.jsonl \\
        --workdir /tmp/bench_offline --before 325c23d --after HEAD

Prints a Markdown table; --json writes the raw figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SETTINGS = """input:
  dir: input
  file_types: [jsonl]
  text_column: text
  title_column: title
  id_column: doc_id
"""
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
SECRETS = ("GRAPHRAG_API_KEY", "OPENAI_API_KEY", "GRAPHRAG_API_BASE", "OPENAI_BASE_URL")


def _child(root: Path) -> None:
    """Index ``root`` with whatever graphrag_lite is on the path; print the figures as JSON."""
    from graphrag_lite.api.facade import GraphRAG

    started = time.perf_counter()
    with GraphRAG(root) as rag:
        rag.index(method="fast")
    wall = time.perf_counter() - started
    stats = json.loads((root / "output" / "stats.json").read_text())
    import pyarrow.parquet as pq

    tokens = pq.read_table(root / "output" / "text_units.parquet", columns=["n_tokens"])["n_tokens"]
    rss = [resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    print(
        json.dumps(
            {
                "wall_s": wall,
                "steps": {name: step.get("duration_s", 0.0) for name, step in stats["steps"].items()},
                "rows": {name: step.get("rows", {}) for name, step in stats["steps"].items()},
                "peak_rss_mb": max(rss) / 1024,  # Linux reports KiB; spaCy workers are children
                "unit_tokens": int(tokens.to_numpy().sum()),
            }
        )
    )


def _worktree(commit: str, workdir: Path) -> Path:
    path = workdir / f"tree-{commit}"
    if not path.exists():
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(path), commit], check=True)
    return path


def _project(workdir: Path, name: str, corpus: Path) -> Path:
    root = workdir / name
    shutil.rmtree(root, ignore_errors=True)
    (root / "input").mkdir(parents=True)
    shutil.copyfile(corpus, root / "input" / corpus.name)
    (root / "settings.yaml").write_text(SETTINGS)
    return root


def _settle(limit_s: float = 240.0) -> None:
    """Wait (up to ``limit_s``) for the 1-minute load average to fall below one core: the previous variant's
    load must not reach the next one, whose spaCy step picks its worker count from the free cores."""
    deadline = time.monotonic() + limit_s
    while os.getloadavg()[0] >= 1.0 and time.monotonic() < deadline:
        time.sleep(5)


def _run(code: Path, root: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    env.update(OFFLINE_ENV, PYTHONPATH=str(code))
    _settle()
    load_before = os.getloadavg()[0]
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", str(root)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        cwd=code,
    )
    figures: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    figures["load"] = (round(load_before, 2), round(os.getloadavg()[0], 2))
    return figures


def _warm_onnx() -> float:
    """Make the ONNX export of the current tree (a once-per-machine cost) before anything is timed."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "from graphrag_lite.models.onnx_minilm import onnx_model_path as p; p(True)"],
        check=True,
        env={**os.environ, **OFFLINE_ENV, "PYTHONPATH": str(REPO)},
        capture_output=True,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, help="JSONL corpus (doc_id, title, text)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench_offline"))
    parser.add_argument(
        "--before", action="append", help="commit of a 'before' variant (repeatable; default b1f3db8)"
    )
    parser.add_argument("--after", help="commit of the 'after' variant (default: the current tree)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child)
        return
    if args.corpus is None:
        parser.error("--corpus is required")
    args.workdir.mkdir(parents=True, exist_ok=True)
    export_s = _warm_onnx()
    variants = {f"before ({c})": _worktree(c, args.workdir) for c in args.before or ["b1f3db8"]}
    if args.after:
        after = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", args.after],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        variants[f"after ({after})"] = _worktree(after, args.workdir)
    else:
        variants["after (this tree)"] = REPO
    results: dict[str, dict[str, Any]] = {}
    for index, (name, code) in enumerate(variants.items()):
        root = _project(args.workdir, f"project-{index}", args.corpus.resolve())
        results[name] = _run(code, root)
        print(f"{name}: {results[name]['wall_s']:.0f} s", file=sys.stderr)
    steps = list(dict.fromkeys(step for r in results.values() for step in r["steps"]))
    print(f"ONNX export before timing (once per machine): {export_s:.1f} s\n")
    last = list(results.values())[-1]
    print("| variant | wall | per 1M tokens | last one's speed-up | peak RSS | load (start, end) | ", end="")
    print(" | ".join(steps) + " |")
    print("|---|---|---|---|---|---|" + "---|" * len(steps))
    for name, r in results.items():
        cells = [f"{r['steps'].get(s, 0):.1f} s" for s in steps]
        per_million = r["wall_s"] / max(r["unit_tokens"], 1) * 1e6 / 60
        print(
            f"| {name} | {r['wall_s']:.0f} s | {per_million:.1f} min | {r['wall_s'] / last['wall_s']:.2f}x | "
            f"{r['peak_rss_mb'] / 1024:.2f} GB | {r['load']} | " + " | ".join(cells) + " |"
        )
    for name, r in results.items():
        differ = {step: (rows, last["rows"].get(step)) for step, rows in r["rows"].items()}
        differ = {step: pair for step, pair in differ.items() if pair[0] != pair[1]}
        if differ:
            print(f"note: {name} wrote other rows than the last variant (its, last's):", json.dumps(differ))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
