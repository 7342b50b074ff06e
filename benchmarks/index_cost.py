"""What a standard (LLM) index costs in calls and tokens, per step, against the scripted test LLM server.

Indexes a corpus with ``--method standard`` over HTTP to ``TestLLMServer`` (own project, own cache), then
prints per step the calls, prompt and completion tokens from ``stats.json`` and the prompt tokens per 1,000
text-unit tokens (sum of ``n_tokens``). With ``--estimate`` it first prints ``graphrag-lite index
--estimate``'s forecast for the same project and compares it with what the run spent. Extra settings (YAML)
go in with ``--settings``. ``--ask`` then asks ``make demo``'s global and DRIFT questions and counts the
reports and sources each answer cites (the scripted model's answers: a check that evidence still reaches
the answer, not a judgement of its quality).

    .venv/bin/python benchmarks/index_cost.py --input examples/christmas_carol/input --estimate
    .venv/bin/python benchmarks/index_cost.py --input examples/christmas_carol/input \\
        --settings 'reports: {min_community_size: 1, source_text: always}'
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test server

from support.server import TestLLMServer

from graphrag_lite.api.facade import GraphRAG
from graphrag_lite.store.tables import read_records


def _cited(rag: GraphRAG) -> list[str]:
    from graphrag_lite.cli.demo import QUESTIONS

    lines = []
    for method in ("global", "drift"):
        answer = rag.query(QUESTIONS[method], method=method).answer
        reports = {r for refs in re.findall(r"Reports \(([^)]*)\)", answer) for r in refs.split(",")}
        sources = {r for refs in re.findall(r"Sources \(([^)]*)\)", answer) for r in refs.split(",")}
        lines.append(f"{method}: cites {len(reports)} report(s), {len(sources)} source(s)")
    return lines


def run(input_dir: Path, extra: str, estimate: bool, ask: bool = False) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="index_cost_"))
    shutil.copytree(input_dir, root / "input")
    with TestLLMServer() as server:
        (root / "settings.yaml").write_text(
            f"llm:\n  api_base: {server.base_url}\n  api_key: test\n  model: test-model\n{extra}\n"
        )
        forecast = None
        with GraphRAG(root) as rag:
            if estimate:
                forecast = rag.estimate()
            rag.index(method="standard")
            cited = _cited(rag) if ask else []
    stats = json.loads((root / "output" / "stats.json").read_text())
    unit_tokens = sum(u.n_tokens for u in read_records(root / "output", "text_units"))
    steps = {
        name: {k: step.get(k, 0) for k in ("llm_calls", "prompt_tokens", "completion_tokens", "cache_hits")}
        for name, step in stats["steps"].items()
    }
    return {
        "root": str(root),
        "unit_tokens": unit_tokens,
        "steps": steps,
        "estimate": forecast,
        "cited": cited,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input", type=Path, required=True, help="input folder to copy into the project")
    parser.add_argument("--settings", default="", help="extra settings.yaml text")
    parser.add_argument("--estimate", action="store_true", help="also forecast the cost first")
    parser.add_argument("--ask", action="store_true", help="then count the evidence demo answers cite")
    args = parser.parse_args()
    for key in ("GRAPHRAG_API_KEY", "OPENAI_API_KEY", "GRAPHRAG_API_BASE", "OPENAI_BASE_URL"):
        os.environ.pop(key, None)
    result = run(args.input, args.settings, args.estimate, args.ask)
    per_k = 1000 / max(1, result["unit_tokens"])
    print(f"text-unit tokens: {result['unit_tokens']:,}  (project {result['root']})\n")
    print("| step | calls | prompt tokens | completion tokens | prompt / 1k unit tokens |")
    print("|---|---|---|---|---|")
    total = {"llm_calls": 0, "prompt_tokens": 0, "completion_tokens": 0}
    for name, step in result["steps"].items():
        if not (step["llm_calls"] or step["cache_hits"]):
            continue
        for key in total:
            total[key] += step[key]
        print(
            f"| {name} | {step['llm_calls']} | {step['prompt_tokens']:,} | {step['completion_tokens']:,} | "
            f"{step['prompt_tokens'] * per_k:,.0f} |"
        )
    print(
        f"| **all** | {total['llm_calls']} | {total['prompt_tokens']:,} | {total['completion_tokens']:,} | "
        f"**{total['prompt_tokens'] * per_k:,.0f}** |"
    )
    for line in result["cited"]:
        print(line)
    forecast = result["estimate"]
    if forecast is not None:
        expected, actual = forecast.prompt_tokens, total["prompt_tokens"]
        print(
            f"\nestimate: {expected:,} prompt tokens, {forecast.calls} calls; actual {actual:,}"
            f" / {total['llm_calls']} ({expected / max(1, actual) - 1:+.1%} prompt tokens)"
        )
        print(forecast.table())


if __name__ == "__main__":
    main()
