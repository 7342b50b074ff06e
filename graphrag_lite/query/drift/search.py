"""DRIFT search: a primer over community reports, rounds of follow-up local searches, then a reduce.

1. Primer (:mod:`.primer`): HyDE finds the top-K reports; folds of them give a first answer, a score and
   follow-up questions. That answer is the root of the tree.
2. Rounds: the open follow-ups wait in a priority queue (:mod:`.queue`) ranked by the score of the
   answer that raised them, near-duplicates dropped. Each round answers the best ``follow_ups_per_round``
   with local search (:mod:`.followup`), at most ``concurrency`` at once; their answers join the tree
   under the answer that raised them and their own follow-ups join the queue.
3. Reduce (:mod:`.reduce`): the answers, most relevant first, become the final answer (streamed by
   ``open_stream``; everything before it runs first).

Cost control: every model call is checked against ``max_llm_calls`` and ``max_tokens`` first, always
keeping one call for the reduce; a round whose answers all score below ``min_score`` or repeat earlier
answers ends the search. ``extra`` says how far it got: rounds_run, follow_ups_answered, stopped_early.
Without a model every step has an extractive stand-in (:mod:`.offline`) and the answer is labelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from graphrag_lite.config.settings import Settings
from graphrag_lite.index.extract.names import name_key
from graphrag_lite.models.base import Embedder
from graphrag_lite.query.answer import Emit, QueryRun, finish, query_run
from graphrag_lite.query.citations import strip_citations
from graphrag_lite.query.drift.budget import CallBudget
from graphrag_lite.query.drift.followup import FollowUpJob, FollowUpOutcome, answer_follow_up
from graphrag_lite.query.drift.primer import run_primer
from graphrag_lite.query.drift.queue import Candidate, FollowUpQueue
from graphrag_lite.query.drift.reduce import reserve_for_reduce
from graphrag_lite.query.drift.tree import CitationBook, DriftNode, ranked_answers, tree_depth
from graphrag_lite.query.engine import DriftOptions, QueryEnv
from graphrag_lite.query.local.context import embed_query
from graphrag_lite.query.result import ContextRecords, QueryResult


@dataclass
class DriftResult(QueryResult):
    """A DRIFT result: its JSON carries the question tree at the top level (``tree``), next to the
    answer, instead of inside ``extra``."""

    def to_dict(self, include_context_text: bool = False) -> dict[str, Any]:
        data = super().to_dict(include_context_text)
        data["extra"] = {k: v for k, v in self.extra.items() if k != "tree"}
        data["tree"] = self.extra.get("tree")
        return data

    @classmethod
    def of(cls, result: QueryResult) -> DriftResult:
        return cls(**{f.name: getattr(result, f.name) for f in fields(QueryResult)})


class SerialEmbedder:
    """One embedding call at a time within a search. The local MiniLM embedder tokenises long texts
    outside its model lock, and two threads tokenising at once can corrupt a batch (models/embeddings.py);
    inference is serialised process-wide anyway, so this costs the follow-ups no parallelism."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.model = inner.model
        self._lock = asyncio.Lock()

    @property
    def dim(self) -> int:
        return self.inner.dim

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        async with self._lock:
            return await self.inner.embed(texts)


class AnswerMemory:
    """Answers already in the tree (text keys and embeddings), to spot a follow-up that repeats one."""

    def __init__(self, embedder: Embedder, threshold: float) -> None:
        self.embedder = embedder
        self.threshold = threshold
        self.keys: set[str] = set()
        self.vectors: list[np.ndarray] = []

    async def add_new(self, nodes: Sequence[DriftNode]) -> list[DriftNode]:
        """Remember ``nodes``' answers; returns the nodes whose answer is new (not a near-repeat)."""
        texts = [strip_citations(n.answer) for n in nodes]
        if not texts:
            return []
        vectors = np.asarray(await self.embedder.embed(texts), dtype=np.float32)
        new: list[DriftNode] = []
        for node, text, vector in zip(nodes, texts, vectors, strict=True):
            key = name_key(text)
            repeat = key in self.keys or any(float(vector @ v) >= self.threshold for v in self.vectors)
            self.keys.add(key)
            self.vectors.append(vector)
            if not repeat:
                new.append(node)
        return new


@dataclass
class RoundsOutcome:
    rounds_run: int = 0
    answered: int = 0
    repeats: int = 0
    stopped: str | None = None  # why the rounds ended before ``rounds`` were run (None: all ran)


async def run_rounds(
    root: DriftNode, queue: FollowUpQueue, memory: AnswerMemory, job: FollowUpJob, records: ContextRecords
) -> RoundsOutcome:
    """Answer the best open follow-ups, round after round; new answers join the tree under the answer
    that raised them, their records join ``records`` and their follow-ups join the queue."""
    settings, budget = job.settings, job.budget
    opts = settings.query.drift
    out = RoundsOutcome()
    for round_no in range(1, opts.rounds + 1):
        budget.keep_for_reduce(reserve_for_reduce(ranked_answers(root, opts.min_score), job.query, settings))
        if not queue:
            out.stopped = f"no follow-up questions left after round {round_no - 1}"
            break
        if not job.answerer.extractive and budget.exhausted():
            out.stopped = budget.refused
            break
        batch = queue.pop(opts.follow_ups_per_round)
        outcomes = await asyncio.gather(*(answer_follow_up(item, job, round_no) for item in batch))
        out.rounds_run += 1
        kept: list[FollowUpOutcome] = []
        for item, outcome in zip(batch, outcomes, strict=True):
            if not outcome.refused:
                item.parent.children.append(outcome.node)
                records.merge(outcome.records)
                kept.append(outcome)
        out.answered += len(kept)
        with_answer = [o.node for o in kept if o.node.answer.strip() and not o.node.failed]
        new = await memory.add_new(with_answer)
        fresh = {id(node) for node in new}
        for node in with_answer:
            node.repeated = id(node) not in fresh
        out.repeats += len(with_answer) - len(new)
        await queue.add(
            [Candidate(q, o.node.score, o.node) for o in kept if not o.node.repeated for q in o.follow_ups]
        )
        if budget.refused:
            out.stopped = budget.refused
            break
        if round_no < opts.rounds and not any(n.score >= opts.min_score for n in new):
            out.stopped = (
                f"round {round_no} added nothing new (every answer scored below {opts.min_score} "
                "or repeated an earlier one)"
            )
            break
    return out


def _level(settings: Settings, community_level: int | None) -> int | None:
    """Reports of every level by default; one level when asked (argument or ``query.community_level``)."""
    return community_level if community_level is not None else settings.query.community_level


async def drift_search(
    query: str, options: DriftOptions, env: QueryEnv, emit: Emit | None = None
) -> QueryResult:
    """Answer a question that needs several hops through the graph, keeping the question tree in the
    result (``extra["tree"]``; top-level ``tree`` in its JSON)."""
    opts = env.settings.query.drift
    env = replace(env, embedder=SerialEmbedder(env.embedder))
    data, embedder, settings, answerer = env.data, env.embedder, env.settings, env.answerer
    context_tokens, level = options.context_tokens, _level(settings, options.community_level)
    with query_run("drift", env.chat) as run:
        budget = CallBudget(opts.max_llm_calls, opts.max_tokens, lambda: _tokens_spent(run))
        book = CitationBook()
        limit = asyncio.Semaphore(opts.concurrency)
        query_vector = await embed_query(embedder, query)
        primer = await run_primer(
            query,
            query_vector,
            env,
            book=book,
            budget=budget,
            limit=limit,
            level=level,
            context_tokens=context_tokens,
        )
        root = primer.root
        records = ContextRecords(reports=list(root.reports))
        queue = FollowUpQueue(embedder, query, query_vector, opts.dedup_similarity)
        if answerer.extractive:
            # A model's primer writes follow-ups that cover the question's first hop; entity questions
            # cannot, so without one the question itself is answered by local search first.
            queue.put_first(query, root)
        await queue.add(primer.candidates)
        memory = AnswerMemory(embedder, opts.dedup_similarity)
        await memory.add_new([root] if root.answer.strip() else [])
        job = FollowUpJob(
            query, data, answerer, embedder, settings, book, budget, limit, level, context_tokens
        )

        rounds = await run_rounds(root, queue, memory, job, records)

        nodes = ranked_answers(root, opts.min_score)
        reduce_tokens = min(opts.reduce_max_tokens, context_tokens or opts.reduce_max_tokens)
        outcome = await answerer.drift_reduce(
            query, nodes, env, emit, budget=budget, history=options.history, max_tokens=reduce_tokens
        )
        extra: dict[str, Any] = {
            "tree": root.to_dict(),
            "rounds_run": rounds.rounds_run,
            "follow_ups_answered": rounds.answered,
            "stopped_early": rounds.stopped,
            "hyde": primer.hyde,
            "hyde_method": primer.hyde_method,
            "primer_reports": len(root.reports),
            "primer_folds": primer.folds,
            "failed_replies": primer.failed + sum(n.failed for n in root.walk() if n is not root),
            "duplicate_follow_ups": queue.duplicates,
            "repeated_answers": rounds.repeats,
            "open_follow_ups": len(queue),
            "depth": tree_depth(root),
            "findings_used": outcome.findings_used,
            "reduce_batches": outcome.batches,
            "reduce": outcome.mode,
            "llm_calls_started": budget.calls,
        }
        result = finish(
            run,
            data,
            outcome.answer,
            records=records,
            ids=book.ids,
            extractive=answerer.extractive,
            context_text=outcome.context_text,
            extra=extra,
        )
        return DriftResult.of(result)


def _tokens_spent(run: QueryRun) -> int:
    usage = run.usage()
    return usage.prompt_tokens + usage.completion_tokens
