"""Lazy search over a fast index vs global search over an LLM index of the same corpus slice: what each
index costs, and LLM calls and tokens per question.

Builds two projects from the same rows of a JSONL corpus (evenly spaced, ``--parts``): a ``fast`` index
(spaCy, no LLM) and a ``standard`` index (LLM). Then asks each question with lazy search at each
``--budgets`` value over the fast index, and with global search over the standard index. By default the
LLM is the scripted test server (tests/support), so calls and tokens are real counts of real HTTP requests
but answers are not judged. Point ``--base-url`` (and ``--model``, ``--api-key``) at any OpenAI-compatible
server to run a real model; ``--pairs FILE`` then keeps every answer side by side for
``benchmarks/judge_pairs.py``.

    .venv/bin/python benchmarks/lazy_vs_global.py --parts 200 --questions-limit 10
    .venv/bin/python benchmarks/lazy_vs_global.py --base-url http://localhost:8000/v1 --model my-model \\
        --pairs /tmp/lazy_pairs.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test server

from graphrag_lite.api.facade import GraphRAG

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
INPUT_SETTINGS = "input:\n  file_types: [jsonl]\n  id_column: doc_id\n"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_project(root: Path, rows: list[dict[str, Any]], llm: str) -> Path:
    (root / "input").mkdir(parents=True)
    with (root / "input" / "corpus.jsonl").open("w", encoding="utf-8") as out:
        for row in rows:
            record = {"doc_id": row["doc_id"], "title": row.get("title", ""), "text": row["text"]}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    (root / "settings.yaml").write_text(INPUT_SETTINGS + llm, encoding="utf-8")
    return root


@contextmanager
def llm_endpoint(args: argparse.Namespace) -> Iterator[str]:
    """The ``llm:`` settings block: the given server, or a scripted test server for the run."""
    if args.base_url:
        yield f"llm:\n  api_base: {args.base_url}\n  api_key: {args.api_key}\n  model: {args.model}\n"
        return
    from support.server import TestLLMServer

    with TestLLMServer() as server:
        yield f"llm:\n  api_base: {server.base_url}\n  api_key: test\n  model: test-model\n"


def index_cost(root: Path, method: str) -> dict[str, Any]:
    started = time.perf_counter()
    with GraphRAG(root) as rag:
        rag.index(method=method)
    stats = json.loads((root / "output" / "stats.json").read_text())
    steps = stats["steps"].values()
    return {
        "seconds": time.perf_counter() - started,
        "calls": sum(s.get("llm_calls", 0) for s in steps),
        "prompt_tokens": sum(s.get("prompt_tokens", 0) for s in steps),
        "completion_tokens": sum(s.get("completion_tokens", 0) for s in steps),
    }


def ask(root: Path, questions: list[str], method: str, cache: Path, **options: Any) -> list[dict[str, Any]]:
    """Every question once; ``cache``: this run's own LLM cache, so no run reuses another's replies."""
    out = []
    with GraphRAG(root, overrides={"cache.dir": str(cache)}) as rag:
        for question in questions:
            result = rag.query(question, method, **options)
            out.append(
                {
                    "calls": result.llm_calls,
                    "prompt_tokens": result.prompt_tokens,
                    "completion_tokens": result.completion_tokens,
                    "answer": result.answer,
                    "sources": len({c.text_unit_id for c in result.citations}),
                    "extra": {k: v for k, v in result.extra.items() if k not in ("lazy", "tree")},
                }
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=DATA / "ms_podcast" / "corpus.jsonl")
    parser.add_argument("--questions", type=Path, default=DATA / "ms_podcast" / "questions_dev.jsonl")
    parser.add_argument("--parts", type=int, default=200, help="corpus rows, evenly spaced (0: all)")
    parser.add_argument("--questions-limit", type=int, default=10)
    parser.add_argument("--budgets", default="100,500", help="lazy relevance budgets, comma-separated")
    parser.add_argument("--global-levels", default="0,1", help="community levels global search maps")
    parser.add_argument("--base-url", help="an OpenAI-compatible server (default: the scripted test server)")
    parser.add_argument("--model", default="gpt-4o-mini")
    parser.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY", "none"))
    parser.add_argument("--pairs", type=Path, help="write every answer, side by side, to this JSONL file")
    parser.add_argument("--workdir", type=Path, help="keep the two projects here (default: a temp folder)")
    args = parser.parse_args()
    for key in ("GRAPHRAG_API_KEY", "OPENAI_API_KEY", "GRAPHRAG_API_BASE", "OPENAI_BASE_URL"):
        os.environ.pop(key, None)

    rows = read_jsonl(args.corpus)
    if args.parts and args.parts < len(rows):
        step = len(rows) / args.parts
        rows = [rows[int(i * step)] for i in range(args.parts)]
    questions = [q["question"] for q in read_jsonl(args.questions)][: args.questions_limit]
    budgets = [int(b) for b in args.budgets.split(",")]
    work = args.workdir or Path(tempfile.mkdtemp(prefix="lazy_vs_global_"))
    print(f"{len(rows)} corpus rows, {len(questions)} questions, projects in {work}", file=sys.stderr)

    runs: dict[str, list[dict[str, Any]]] = {}
    with llm_endpoint(args) as llm:
        fast = write_project(work / "fast", rows, "")
        costs = {"fast": index_cost(fast, "fast")}
        (fast / "settings.yaml").write_text(INPUT_SETTINGS + llm, encoding="utf-8")  # the LLM, at query time
        standard = write_project(work / "standard", rows, llm)
        costs["standard"] = index_cost(standard, "standard")
        for budget in budgets:
            runs[f"lazy {budget}"] = ask(
                fast, questions, "lazy", work / f"cache_lazy_{budget}", budget=budget
            )
        for level in (int(x) for x in args.global_levels.split(",")):
            cache = work / f"cache_global_{level}"
            runs[f"global L{level}"] = ask(standard, questions, "global", cache, community_level=level)

    print("| index | LLM calls | prompt tokens | completion tokens |\n|---|---|---|---|")
    for name, cost in costs.items():
        print(f"| {name} | {cost['calls']:,} | {cost['prompt_tokens']:,} | {cost['completion_tokens']:,} |")
    print(
        "\n| method (index) | calls / question (max) | prompt tokens / question | completion / question "
        "| sources cited / question | units judged relevant |\n|---|---|---|---|---|---|"
    )
    for name, results in runs.items():
        index = "standard" if name.startswith("global") else "fast"
        tests = sum(r["extra"].get("relevance_tests", 0) for r in results)
        relevant = sum(r["extra"].get("relevant_units", 0) for r in results)
        calls = [r["calls"] for r in results]
        print(
            f"| {name} ({index}) | {statistics.mean(calls):.1f} ({max(calls)}) "
            f"| {statistics.mean(r['prompt_tokens'] for r in results):,.0f} "
            f"| {statistics.mean(r['completion_tokens'] for r in results):,.0f} "
            f"| {statistics.mean(r['sources'] for r in results):.1f} "
            f"| {f'{relevant / tests:.0%}' if tests else '–'} |"
        )
    if args.pairs:
        with args.pairs.open("w", encoding="utf-8") as out:
            for i, question in enumerate(questions):
                answers = {name: results[i]["answer"] for name, results in runs.items()}
                out.write(json.dumps({"question": question, "answers": answers}, ensure_ascii=False) + "\n")
        print(f"\nanswers side by side: {args.pairs}", file=sys.stderr)


if __name__ == "__main__":
    main()
