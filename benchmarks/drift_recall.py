"""Retrieval quality of DRIFT search (offline) against gold evidence, overall and per hop.

Scores the context a DRIFT search gathers — the union of the text units its follow-up local searches read,
most relevant node first — with the measures of ``benchmarks/retrieval.py`` (whose helpers it reuses), and
adds per-hop recall for multi-hop sets whose questions carry a hop chain (MuSiQue's ``decomposition``:
``[{question, answer, doc_id}]``): the share of questions whose n-th hop passage is in the context. The
baselines are local and basic search, at ``--budget`` tokens and at DRIFT's mean gathered tokens, so the
comparison is made at equal context size too. Runs without an LLM (extractive DRIFT).

    .venv/bin/python benchmarks/drift_recall.py \\
        --corpus ../shared/data/musique_100/corpus.jsonl \\
        --questions ../shared/data/musique_100/questions_dev.jsonl \\
        --budget 2000 --workdir /tmp/bench_musique
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from retrieval import (
    Scores,
    build_index,
    corpus_ids,
    ranked_documents,
    read_jsonl,
)

from graphrag_lite.config import Settings, load_settings
from graphrag_lite.models.base import Embedder
from graphrag_lite.query.basic.context import build_basic_context
from graphrag_lite.query.engine import DriftOptions, QueryEnv, run_query
from graphrag_lite.query.index_data import IndexData
from graphrag_lite.query.local.context import build_local_context


@dataclass
class HopQuestion:
    id: str
    text: str
    gold: set[str]
    hops: list[str]  # doc id of each hop, in chain order ("" when the hop names no passage)


@dataclass
class HopScores(Scores):
    by_hop: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))

    def add_hops(self, docs: Sequence[str], hops: Sequence[str]) -> None:
        found = set(docs)
        for position, doc in enumerate(hops, start=1):
            if doc:
                self.by_hop[position].append(1.0 if doc in found else 0.0)


def tree_units(tree: dict[str, Any]) -> list[str]:
    """Text units of every node, most relevant node first (score, then depth-first order)."""
    nodes: list[tuple[int, int, dict[str, Any]]] = []

    def visit(node: dict[str, Any]) -> None:
        nodes.append((-int(node["score"]), len(nodes), node))
        for child in node["children"]:
            visit(child)

    visit(tree)
    nodes.sort(key=lambda item: (item[0], item[1]))
    return list(dict.fromkeys(u for _, _, node in nodes for u in node["sources"]["text_units"]))


def load_questions(path: Path, data: IndexData, limit: int) -> list[HopQuestion]:
    doc_key = corpus_ids(data)
    titles = {d.title: doc_key[d.id] for d in data.documents}
    known = set(doc_key.values())

    def resolve(doc: str) -> str:
        return doc if doc in known else titles.get(doc, doc)

    questions = []
    for row in read_jsonl(path)[: limit or None]:
        hops = [resolve(str(step.get("doc_id") or "")) for step in row.get("decomposition") or []]
        gold = {resolve(g) for g in row["gold_doc_ids"]}
        questions.append(HopQuestion(str(row["id"]), row["question"], gold, hops))
    return questions


async def score_drift(
    questions: Sequence[HopQuestion],
    data: IndexData,
    embedder: Embedder,
    settings: Settings,
    doc_key: dict[str, str],
) -> HopScores:
    scores = HopScores()
    for question in questions:
        started = time.perf_counter()
        result = await run_query(question.text, DriftOptions(), QueryEnv(data, None, embedder, settings))
        elapsed = time.perf_counter() - started
        units = tree_units(result.to_dict()["tree"])
        tokens = sum(data.text_unit_by_id[u].n_tokens for u in units)
        docs = ranked_documents(units, data, doc_key)
        scores.add(docs, question.gold, tokens, elapsed, docs)
        scores.add_hops(docs, question.hops)
    return scores


async def score_context(
    method: str,
    questions: Sequence[HopQuestion],
    data: IndexData,
    embedder: Embedder,
    settings: Settings,
    budget: int,
    doc_key: dict[str, str],
) -> HopScores:
    scores = HopScores()
    for question in questions:
        started = time.perf_counter()
        if method == "basic":
            context: Any = await build_basic_context(question.text, data, embedder, settings, budget)
        else:
            context = await build_local_context(question.text, data, embedder, settings, budget)
        elapsed = time.perf_counter() - started
        docs = ranked_documents(context.records.text_units, data, doc_key)
        scores.add(docs, question.gold, context.tokens, elapsed, docs)
        scores.add_hops(docs, question.hops)
    return scores


def table(results: dict[str, HopScores], n: int) -> str:
    hops = sorted({h for s in results.values() for h in s.by_hop})
    counts = {h: max(len(s.by_hop[h]) for s in results.values()) for h in hops}
    hop_heads = "".join(f"hop {h} (n={counts[h]}) | " for h in hops)
    lines = [
        f"{n} questions. Recall = share of gold passages in the context; per hop = share of questions whose "
        "n-th hop passage is in it.",
        "",
        f"| method | recall | all gold | MRR | recall@5 docs | {hop_heads}docs | context tokens | ms/query |",
        "|---|---|---|---|---|" + "---|" * len(hops) + "---|---|---|",
    ]
    for method, s in results.items():
        per_hop = "".join(f"{statistics.mean(s.by_hop[h]):.3f} | " if s.by_hop[h] else "- | " for h in hops)
        lines.append(
            f"| {method} | {statistics.mean(s.recall):.3f} | {statistics.mean(s.all_gold):.3f} | "
            f"{statistics.mean(s.mrr):.3f} | {statistics.mean(s.recall_at5):.3f} | {per_hop}"
            f"{statistics.mean(s.documents):.1f} | {statistics.mean(s.tokens):.0f} | "
            f"{1000 * statistics.mean(s.seconds):.0f} |"
        )
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> str:
    from graphrag_lite.models.factory import create_embedder

    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="drift_bench_"))
    if not (args.no_update and (workdir / "output").is_dir()):
        build_index(Path(args.corpus), workdir)
    settings = load_settings(workdir)
    settings.llm.api_key = None
    settings.llm.api_base = None
    data = IndexData.load(settings)
    embedder = create_embedder(settings)
    doc_key = corpus_ids(data)
    questions = load_questions(Path(args.questions), data, args.limit)
    await embedder.embed(["warm up"])  # model load is not a per-query cost

    results: dict[str, HopScores] = {}
    for rounds in [int(r) for r in args.drift_rounds.split(",") if r.strip()]:
        drift = settings.model_copy(deep=True)
        drift.query.drift.rounds = rounds
        drift.query.drift.follow_ups_per_round = args.follow_ups
        drift.query.drift.local_max_context_tokens = args.follow_up_budget
        name = f"drift (rounds={rounds}, {args.follow_ups}/round, {args.follow_up_budget} tok each)"
        results[name] = await score_drift(questions, data, embedder, drift, doc_key)
    drift_tokens = [max(500, round(statistics.mean(s.tokens))) for s in results.values()]
    for budget in dict.fromkeys([args.budget, *drift_tokens]):  # baselines at DRIFT's sizes too
        for method in ("local", "basic"):
            results[f"{method} @{budget}"] = await score_context(
                method, questions, data, embedder, settings, budget, doc_key
            )
    return table(results, len(questions))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", required=True, help="JSONL of {doc_id, title, text}.")
    parser.add_argument(
        "--questions", required=True, help="JSONL of {id, question, gold_doc_ids, decomposition?}."
    )
    parser.add_argument(
        "--budget", type=int, default=2000, help="Context tokens of the local/basic baselines."
    )
    parser.add_argument("--drift-rounds", default="1,2", help="Comma-separated follow-up rounds to score.")
    parser.add_argument("--follow-ups", type=int, default=5, help="Follow-ups answered per round.")
    parser.add_argument(
        "--follow-up-budget", type=int, default=2000, help="Context tokens of each follow-up."
    )
    parser.add_argument("--limit", type=int, default=0, help="Score only the first N questions (0 = all).")
    parser.add_argument("--workdir", default="", help="Project folder for the index (reused when present).")
    parser.add_argument(
        "--no-update",
        action="store_true",
        help="Use the index in --workdir as it is, without bringing it up to date.",
    )
    args = parser.parse_args(argv)
    print(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
