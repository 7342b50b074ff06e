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
from graphrag_lite.models.embeddings import CachedEmbedder  # noqa: E402
from graphrag_lite.models.tokens import get_tokenizer  # noqa: E402
from graphrag_lite.query.basic.context import (  # noqa: E402
    PassageContext,
    bm25_search,
    build_basic_context,
)
from graphrag_lite.query.engine import QueryEnv  # noqa: E402
from graphrag_lite.query.graph.search import build_graph_context  # noqa: E402
from graphrag_lite.query.index_data import IndexData  # noqa: E402
from graphrag_lite.query.local.context import build_local_context  # noqa: E402
from graphrag_lite.query.sections import TableSection  # noqa: E402

# graph variants switch one part of the ranking off (query.graph.ranking), to check that it earns its place.
GRAPH_VARIANTS: dict[str, dict[str, float]] = {
    "graph": {},
    "graph_no_walk": {"continue_probability": 1e-6},  # the restart vector alone: seeds, no PageRank
    "graph_no_title_links": {"title_link_weight": 0.0},
    "graph_no_title_seeds": {"title_seed": 0.0},
    "graph_no_second_round": {"second_round": 0.0},
}
METHODS = (
    "bm25",
    "bm25_untitled_first_fit",
    "basic",
    "basic_first_fit",
    "local",
    *GRAPH_VARIANTS,
    "graph_first_fit",
)


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

    def add(
        self, context_docs: Sequence[str], gold: set[str], tokens: int, seconds: float, ranking: Sequence[str]
    ) -> None:
        """``context_docs``: documents in the packed context; ``ranking``: documents of the whole ranking."""
        ranked_docs = context_docs
        found = gold.intersection(ranked_docs)
        self.recall.append(len(found) / len(gold))
        self.all_gold.append(1.0 if found == gold else 0.0)
        first = next((rank for rank, doc in enumerate(ranking, start=1) if doc in gold), None)
        self.mrr.append(1.0 / first if first else 0.0)
        self.recall_at5.append(len(gold.intersection(ranking[:5])) / len(gold))
        self.tokens.append(tokens)
        self.documents.append(len(ranked_docs))
        self.seconds.append(seconds)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def build_index(corpus: Path, workdir: Path) -> None:
    """A fast (offline) index of the corpus at ``workdir``; an existing one is brought up to date (only the
    steps whose inputs, settings or code changed re-run)."""
    from graphrag_lite.api.facade import GraphRAG

    rows = read_jsonl(corpus)
    if not (workdir / "settings.yaml").exists():
        (workdir / "input").mkdir(parents=True, exist_ok=True)
        with (workdir / "input" / "corpus.jsonl").open("w", encoding="utf-8") as out:
            for row in rows:
                record = {"doc_id": row["doc_id"], "title": row.get("title", ""), "text": row["text"]}
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
        (workdir / "settings.yaml").write_text(
            "method: fast\ninput:\n  id_column: doc_id\n", encoding="utf-8"
        )
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
    """BM25 over titled text units, skip-packed under the budget (the lexical baseline)."""
    section = TableSection(get_tokenizer(settings.chunks.encoding), "Sources", ["id", "text"], budget)
    section.pack((unit_id, [data.text_unit_by_id[unit_id].text]) for unit_id in bm25_search(data, query, 200))
    return list(section.record_ids), section.tokens


def untitled_bm25_first_fit(
    query: str, data: IndexData, settings: Settings, budget: int
) -> tuple[list[str], int]:
    """BM25 over the bare unit texts, filled in rank order until a passage does not fit (the old baseline)."""
    import bm25s

    from graphrag_lite.query.basic.context import _tokenize

    if "bench_untitled_bm25" not in data.cache:
        retriever = bm25s.BM25()
        retriever.index(_tokenize([u.text for u in data.text_units]), show_progress=False)
        data.cache["bench_untitled_bm25"] = retriever
    docs, scores = data.cache["bench_untitled_bm25"].retrieve(_tokenize([query]), k=200, show_progress=False)
    section = TableSection(get_tokenizer(settings.chunks.encoding), "Sources", ["id", "text"], budget)
    for i, score in zip(docs[0], scores[0], strict=True):
        unit = data.text_units[int(i)]
        if score <= 0 or not section.add(unit.id, [unit.text]):
            break
    return list(section.record_ids), section.tokens


def first_fit(
    ranked: Sequence[str], data: IndexData, settings: Settings, budget: int
) -> tuple[list[str], int]:
    """Rank order until the first passage that does not fit (the packing before skip-packing)."""
    section = TableSection(get_tokenizer(settings.chunks.encoding), "Sources", ["id", "text"], budget)
    for unit_id in ranked:
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
        ranked: Sequence[str] = []
        if method == "bm25":
            units, tokens = bm25_context(question.text, data, settings, budget)
        elif method == "bm25_untitled_first_fit":
            units, tokens = untitled_bm25_first_fit(question.text, data, settings, budget)
        elif method in ("basic", "basic_first_fit"):
            basic = await build_basic_context(question.text, data, embedder, settings, budget)
            units, tokens, ranked = basic.records.text_units, basic.tokens, basic.ranked
            if method == "basic_first_fit":
                units, tokens = first_fit(basic.ranked, data, settings, budget)
        elif method == "local":
            local = await build_local_context(question.text, data, embedder, settings, budget)
            units, tokens = local.records.text_units, local.tokens
        else:
            variant = settings.model_copy(deep=True)
            for key, value in GRAPH_VARIANTS.get(method, {}).items():
                setattr(variant.query.graph.ranking, key, value)
            graph: PassageContext = await build_graph_context(
                question.text, QueryEnv(data, None, embedder, variant), budget
            )
            units, tokens, ranked = graph.records.text_units, graph.tokens, graph.ranked
            if method == "graph_first_fit":
                units, tokens = first_fit(graph.ranked, data, settings, budget)
        elapsed = time.perf_counter() - started
        order = ranked_documents(ranked or units, data, doc_key)
        scores.add(ranked_documents(units, data, doc_key), question.gold, tokens, elapsed, order)
    return scores


def p95(values: Sequence[float]) -> float:
    return sorted(values)[int(0.95 * (len(values) - 1))]


def table(results: dict[str, Scores], budget: int, n: int) -> str:
    lines = [
        f"Budget {budget} tokens, {n} questions; times are context builds, question embedding excluded.",
        "",
        "| method | recall | all gold | MRR | recall@5 docs | docs in context | context tokens "
        "| ms p50 | ms p95 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for method, s in results.items():
        lines.append(
            f"| {method} | {statistics.mean(s.recall):.3f} | {statistics.mean(s.all_gold):.3f} | "
            f"{statistics.mean(s.mrr):.3f} | {statistics.mean(s.recall_at5):.3f} | "
            f"{statistics.mean(s.documents):.1f} | {statistics.mean(s.tokens):.0f} | "
            f"{1000 * statistics.median(s.seconds):.1f} | {1000 * p95(s.seconds):.1f} |"
        )
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> str:
    from graphrag_lite.models.factory import create_embedder

    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="retrieval_bench_"))
    if not (args.no_update and (workdir / "output").is_dir()):
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
    model = embedder.inner if isinstance(embedder, CachedEmbedder) else embedder  # cold: no cache hits
    await model.embed(["warm up"])  # model load is not a per-query cost
    embed_ms = []
    for question in questions:  # one at a time, as a user asks them
        started = time.perf_counter()
        await model.embed([question.text])
        embed_ms.append(1000 * (time.perf_counter() - started))
    await embedder.embed([q.text for q in questions])  # cached: context builds below measure ranking only
    results = {}
    for method in methods:
        results[method] = await score_method(
            method, questions, data, embedder, settings, args.budget, doc_key
        )
    return table(results, args.budget, len(questions)) + (
        f"\n\nQuestion embedding ({model.model}, uncached, one question at a time; not in the times above): "
        f"p50 {statistics.median(embed_ms):.1f} ms, p95 {p95(embed_ms):.1f} ms."
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", required=True, help="JSONL of {doc_id, title, text}.")
    parser.add_argument("--questions", required=True, help="JSONL of {id, question, gold_doc_ids}.")
    parser.add_argument("--budget", type=int, default=2000, help="Context tokens per question.")
    parser.add_argument(
        "--methods", default="bm25,basic,local,graph", help=f"Comma-separated, of: {', '.join(METHODS)}."
    )
    parser.add_argument("--limit", type=int, default=0, help="Score only the first N questions (0 = all).")
    parser.add_argument("--workdir", default="", help="Project folder for the index (reused when present).")
    parser.add_argument(
        "--no-update",
        action="store_true",
        help="Use the index in --workdir as it is, without bringing it up to date (new index steps or "
        "settings would otherwise re-run).",
    )
    args = parser.parse_args(argv)
    print(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
