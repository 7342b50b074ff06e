"""Retrieval quality of the query context builders against gold evidence documents.

Indexes a corpus with the fast (offline) pipeline, then for every question builds the context each method
would send to the model — within ``--budget`` tokens — and scores the documents that context covers (not the
answer): gold-document recall, the share of questions with every gold document, MRR of the first gold
document, and recall within the first five distinct documents.

    .venv/bin/python benchmarks/retrieval.py \\
        --corpus ../shared/data/hotpotqa_100/corpus.jsonl \\
        --questions ../shared/data/hotpotqa_100/questions_dev.jsonl \\
        --budget 2000 --methods bm25,basic,local --workdir /tmp/bench_hotpot

Corpus lines: ``{"doc_id", "title", "text"}``; question lines: ``{"id", "question", "gold_doc_ids"}`` where
gold ids name ``doc_id`` (or the title). The index is reused when ``--workdir`` already holds one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
for _key in ("OPENAI_API_KEY", "GRAPHRAG_API_KEY", "OPENAI_BASE_URL", "GRAPHRAG_API_BASE"):
    os.environ.pop(_key, None)  # the fast index and the context builders never need an LLM

from graphrag_lite.config import Settings, load_settings  # noqa: E402
from graphrag_lite.models.base import Embedder  # noqa: E402
from graphrag_lite.models.tokens import get_tokenizer  # noqa: E402
from graphrag_lite.query.basic.context import bm25_search, build_basic_context  # noqa: E402
from graphrag_lite.query.index_data import IndexData  # noqa: E402
from graphrag_lite.query.local.context import build_local_context  # noqa: E402
from graphrag_lite.query.sections import TableSection  # noqa: E402

# local variants switch one ranking aid off, to check that it earns its place.
LOCAL_VARIANTS: dict[str, dict[str, object]] = {
    "local": {},
    "local_no_pagerank": {"use_pagerank": False},
    "local_no_relevance": {"relevance_weight": 0.0},
    "local_graph_only": {"use_pagerank": False, "relevance_weight": 0.0},
}
METHODS = ("bm25", "basic", *LOCAL_VARIANTS)


@dataclass
class Question:
    id: str
    text: str
    gold: set[str]


@dataclass
class Scores:
    recall: list[float] = field(default_factory=list)
    all_gold: list[float] = field(default_factory=list)
    mrr: list[float] = field(default_factory=list)
    recall_at5: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    documents: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def add(self, ranked_docs: Sequence[str], gold: set[str], tokens: int, seconds: float) -> None:
        found = gold.intersection(ranked_docs)
        self.recall.append(len(found) / len(gold))
        self.all_gold.append(1.0 if found == gold else 0.0)
        first = next((rank for rank, doc in enumerate(ranked_docs, start=1) if doc in gold), None)
        self.mrr.append(1.0 / first if first else 0.0)
        self.recall_at5.append(len(gold.intersection(ranked_docs[:5])) / len(gold))
        self.tokens.append(tokens)
        self.documents.append(len(ranked_docs))
        self.seconds.append(seconds)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def build_index(corpus: Path, workdir: Path) -> None:
    """A fast (offline) index of the corpus at ``workdir`` unless one is already there."""
    from graphrag_lite.api.facade import GraphRAG

    if (workdir / "output" / "community_reports.parquet").exists() and (
        workdir / "output" / "lancedb"
    ).exists():
        print(f"reusing the index in {workdir}", file=sys.stderr)
        return
    (workdir / "input").mkdir(parents=True, exist_ok=True)
    rows = read_jsonl(corpus)
    with (workdir / "input" / "corpus.jsonl").open("w", encoding="utf-8") as out:
        for row in rows:
            record = {"doc_id": row["doc_id"], "title": row.get("title", ""), "text": row["text"]}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    (workdir / "settings.yaml").write_text("method: fast\ninput:\n  id_column: doc_id\n", encoding="utf-8")
    started = time.perf_counter()
    with GraphRAG(workdir) as rag:
        rag.index(method="fast", show_progress=sys.stderr.isatty())
    print(f"indexed {len(rows)} documents in {time.perf_counter() - started:.1f} s", file=sys.stderr)


def corpus_ids(data: IndexData) -> dict[str, str]:
    """Index document id -> corpus doc_id (from the row's metadata; the title when there is none)."""
    return {d.id: d.metadata.get("doc_id") or d.title for d in data.documents}


def ranked_documents(unit_ids: Sequence[str], data: IndexData, doc_key: dict[str, str]) -> list[str]:
    """Corpus doc ids of the context's text units, in context order, without repeats."""
    docs: list[str] = []
    for unit_id in unit_ids:
        unit = data.text_unit_by_id.get(unit_id)
        if unit is not None:
            key = doc_key.get(unit.document_id, unit.document_id)
            if key not in docs:
                docs.append(key)
    return docs


def bm25_context(query: str, data: IndexData, settings: Settings, budget: int) -> tuple[list[str], int]:
    """Plain BM25 over text units, filled in rank order under the budget (the lexical baseline)."""
    section = TableSection(get_tokenizer(settings.chunks.encoding), "Sources", ["id", "text"], budget)
    for unit_id in bm25_search(data, query, 200):
        if not section.add(unit_id, [data.text_unit_by_id[unit_id].text]):
            break
    return list(section.record_ids), section.tokens


async def score_method(
    method: str,
    questions: Sequence[Question],
    data: IndexData,
    embedder: Embedder,
    settings: Settings,
    budget: int,
    doc_key: dict[str, str],
) -> Scores:
    scores = Scores()
    for question in questions:
        started = time.perf_counter()
        if method == "bm25":
            units, tokens = bm25_context(question.text, data, settings, budget)
        elif method == "basic":
            basic = await build_basic_context(question.text, data, embedder, settings, budget)
            units, tokens = basic.records.text_units, basic.tokens
        else:
            variant = settings.model_copy(deep=True)
            for key, value in LOCAL_VARIANTS[method].items():
                setattr(variant.query.local, key, value)
            local = await build_local_context(question.text, data, embedder, variant, budget)
            units, tokens = local.records.text_units, local.tokens
        elapsed = time.perf_counter() - started
        scores.add(ranked_documents(units, data, doc_key), question.gold, tokens, elapsed)
    return scores


def table(results: dict[str, Scores], budget: int, n: int) -> str:
    lines = [
        f"Budget {budget} tokens, {n} questions.",
        "",
        "| method | recall | all gold | MRR | recall@5 docs | docs in context | context tokens | ms/query |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for method, s in results.items():
        lines.append(
            f"| {method} | {statistics.mean(s.recall):.3f} | {statistics.mean(s.all_gold):.3f} | "
            f"{statistics.mean(s.mrr):.3f} | {statistics.mean(s.recall_at5):.3f} | "
            f"{statistics.mean(s.documents):.1f} | {statistics.mean(s.tokens):.0f} | "
            f"{1000 * statistics.mean(s.seconds):.0f} |"
        )
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> str:
    from graphrag_lite.models.factory import create_embedder

    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="retrieval_bench_"))
    build_index(Path(args.corpus), workdir)
    settings = load_settings(workdir)
    data = IndexData.load(settings)
    embedder = create_embedder(settings)
    doc_key = corpus_ids(data)
    titles = {d.title: doc_key[d.id] for d in data.documents}
    known = set(doc_key.values())
    questions = []
    for row in read_jsonl(Path(args.questions))[: args.limit or None]:
        gold = {g if g in known else titles.get(g, g) for g in row["gold_doc_ids"]}
        questions.append(Question(str(row["id"]), row["question"], gold))
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise SystemExit(f"unknown methods {sorted(unknown)}; use some of {', '.join(METHODS)}")
    await embedder.embed(["warm up"])  # model load is not a per-query cost
    results = {}
    for method in methods:
        results[method] = await score_method(
            method, questions, data, embedder, settings, args.budget, doc_key
        )
    return table(results, args.budget, len(questions))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", required=True, help="JSONL of {doc_id, title, text}.")
    parser.add_argument("--questions", required=True, help="JSONL of {id, question, gold_doc_ids}.")
    parser.add_argument("--budget", type=int, default=2000, help="Context tokens per question.")
    parser.add_argument(
        "--methods", default="bm25,basic,local", help=f"Comma-separated, of: {', '.join(METHODS)}."
    )
    parser.add_argument("--limit", type=int, default=0, help="Score only the first N questions (0 = all).")
    parser.add_argument("--workdir", default="", help="Project folder for the index (reused when present).")
    args = parser.parse_args(argv)
    print(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
