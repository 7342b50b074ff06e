"""DRIFT step 1, the primer: find the community reports worth reading and draw a first answer from them.

HyDE: the model writes a hypothetical answer in the style of the report closest to the question (without a
model: the question plus that report's vocabulary); its embedding finds the top-K reports, which usually
match better than the bare question because an answer reads like a report. The reports, best first, are
cut into folds; each fold gives an intermediate answer, a 0-100 score and follow-up questions. The folds
merge into the root of the DRIFT tree: answers ranked by score, follow-ups pooled with their fold's score.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import numpy as np

from graphrag_lite.config.prompts import fill, load_prompt
from graphrag_lite.config.settings import Settings
from graphrag_lite.errors import LLMError
from graphrag_lite.models.base import ChatModel, Embedder, Message
from graphrag_lite.models.tokens import Tokenizer, get_tokenizer
from graphrag_lite.query.drift.budget import CallBudget, budgeted_chat, parse_drift_reply
from graphrag_lite.query.drift.offline import (
    entity_questions,
    evidence_answer,
    evidence_score,
    named_entities,
    report_entities,
    vocabulary_hyde,
)
from graphrag_lite.query.drift.queue import Candidate
from graphrag_lite.query.drift.tree import CitationBook, DriftNode
from graphrag_lite.query.engine import QueryEnv
from graphrag_lite.query.extractive import Evidence, rank_evidence
from graphrag_lite.query.index_data import IndexData
from graphrag_lite.query.local.context import embed_query
from graphrag_lite.query.sections import TableSection
from graphrag_lite.store.records import CommunityReport

log = logging.getLogger(__name__)

EXAMPLE_REPORT_TOKENS = 600
EXTRACTIVE_FINDINGS_PER_FOLD = 3


@dataclass
class FoldResult:
    reports: list[str]  # ids of the reports this fold read
    answer: str = ""
    score: int = 0
    follow_ups: list[str] = field(default_factory=list)
    failed: bool = False
    evidence: list[Evidence] = field(default_factory=list)


@dataclass
class Primer:
    root: DriftNode
    candidates: list[Candidate]
    hyde: str
    hyde_method: str  # "llm" or "vocabulary"
    folds: int
    failed: int


async def closest_reports(
    vector: np.ndarray, data: IndexData, k: int, level: int | None
) -> list[CommunityReport]:
    """The ``k`` usable reports most similar to ``vector`` (of one level when ``level`` is given); the
    best rated ones when the index has no report vectors."""
    usable = data.reports_at_level(level) if level is not None else list(data.report_by_community.values())
    allowed = {r.id for r in usable}
    if not allowed:
        return []
    if data.vectors is None or not data.has_vectors("community_reports"):
        return sorted(usable, key=lambda r: (-r.rating, r.id))[:k]
    fetch = min(len(data.reports), 4 * k + 50)
    hits = data.vectors.search("community_reports", vector, k=fetch)
    return [data.report_by_id[h.id] for h in hits if h.id in allowed][:k]


def split_folds(reports: list[CommunityReport], folds: int) -> list[list[CommunityReport]]:
    """Consecutive runs of the ranked reports, sizes differing by at most one (best reports in fold 1)."""
    folds = max(1, min(folds, len(reports)))
    size, extra = divmod(len(reports), folds)
    out: list[list[CommunityReport]] = []
    start = 0
    for index in range(folds):
        end = start + size + (1 if index < extra else 0)
        out.append(reports[start:end])
        start = end
    return [fold for fold in out if fold]


def fold_section(
    reports: list[CommunityReport], book: CitationBook, tokenizer: Tokenizer, max_tokens: int
) -> TableSection:
    """The fold's reports under ``max_tokens``, each tagged with its number in the book; a first report
    longer than the whole budget is cut to fit rather than dropped."""
    section = TableSection(tokenizer, "Reports", ["id", "content"], max_tokens)
    for report in reports:
        content = report.full_content or f"# {report.title}\n\n{report.summary}"
        number = book.number("reports", report.id)
        if not section.add_block(report.id, content, label=number) and not section.rows:
            section.add_block(report.id, tokenizer.truncate(content, max(16, max_tokens - 64)), label=number)
    return section


async def write_hyde(
    query: str,
    example: CommunityReport | None,
    chat: ChatModel,
    settings: Settings,
    budget: CallBudget,
) -> str | None:
    """The model's hypothetical answer; None when the budget or the model does not allow one."""
    tokenizer = get_tokenizer(settings.chunks.encoding)
    example_text = (example.full_content or example.summary) if example else "(no reports in the index)"
    system = fill(
        load_prompt("drift_hyde", settings.root),
        example_report=tokenizer.truncate(example_text, EXAMPLE_REPORT_TOKENS),
    )
    messages: list[Message] = [{"role": "system", "content": system}, {"role": "user", "content": query}]
    try:
        response = await budgeted_chat(chat, messages, budget, tokenizer)
    except LLMError as exc:
        log.warning("DRIFT: the hypothetical answer failed (%s); using the question's vocabulary", exc)
        return None
    return response.text.strip() if response is not None and response.text.strip() else None


async def llm_fold(
    query: str,
    section: TableSection,
    chat: ChatModel,
    settings: Settings,
    budget: CallBudget,
    limit: asyncio.Semaphore,
) -> FoldResult:
    opts = settings.query.drift
    template = load_prompt("drift_primer", settings.root)
    system = fill(template, context_data=section.text, max_follow_ups=opts.follow_ups_per_answer)
    messages: list[Message] = [{"role": "system", "content": system}, {"role": "user", "content": query}]
    result = FoldResult(reports=list(section.record_ids))
    async with limit:
        try:
            response = await budgeted_chat(
                chat,
                messages,
                budget,
                get_tokenizer(settings.chunks.encoding),
                json_mode=settings.llm.json_mode,
            )
            if response is None:
                result.failed = True
                return result
            reply = parse_drift_reply(response.text, opts.follow_ups_per_answer)
        except (ValueError, LLMError) as exc:
            log.warning("DRIFT: a primer fold gave no usable reply (%s)", exc)
            result.failed = True
            return result
    result.answer, result.score, result.follow_ups = reply.answer, reply.score, reply.follow_ups
    return result


async def offline_fold(
    query: str,
    reports: list[CommunityReport],
    data: IndexData,
    embedder: Embedder,
    settings: Settings,
    book: CitationBook,
) -> FoldResult:
    """The fold's report findings closest to the question; follow-ups about the entities its reports are
    about that the question does not name."""
    evidence: list[Evidence] = []
    for rank, report in enumerate(reports):
        cite = f"Reports ({book.number('reports', report.id)})"
        texts = [f"{f.summary}: {f.explanation}" if f.explanation else f.summary for f in report.findings]
        texts = [t for t in texts if t.strip()] or [report.summary]
        prior = 1.0 - rank / max(1, len(reports))
        evidence.extend(Evidence(" ".join(t.split()), cite, prior, report.id) for t in texts if t.strip())
    picked = await rank_evidence(query, evidence, embedder, top_n=EXTRACTIVE_FINDINGS_PER_FOLD)
    skip = named_entities(data, query)
    follow_ups = entity_questions(
        data, report_entities(data, reports), skip, settings.query.drift.follow_ups_per_answer
    )
    return FoldResult(
        reports=[r.id for r in reports],
        answer=evidence_answer(picked),
        score=evidence_score(picked),
        follow_ups=follow_ups,
        evidence=[p.evidence for p in picked],
    )


def merge_folds(query: str, folds: list[FoldResult]) -> DriftNode:
    """The root of the tree: the folds' answers, best score first; the best fold's score."""
    ranked = sorted((f for f in folds if not f.failed), key=lambda f: -f.score)
    answered = [f for f in ranked if f.answer.strip()]
    return DriftNode(
        question=query,
        answer="\n\n".join(f.answer for f in answered),
        score=max((f.score for f in ranked), default=0),
        reports=list(dict.fromkeys(r for f in folds for r in f.reports)),
        similarity=1.0,
        failed=bool(folds) and not ranked,
        evidence=[e for f in answered for e in f.evidence],
    )


async def run_primer(
    query: str,
    query_vector: np.ndarray,
    env: QueryEnv,
    *,
    book: CitationBook,
    budget: CallBudget,
    limit: asyncio.Semaphore,
    level: int | None,
    context_tokens: int | None,
) -> Primer:
    """HyDE, report retrieval and the folds; returns the tree's root and the pooled follow-ups."""
    data, answerer, opts = env.data, env.answerer, env.settings.query.drift
    closest = await closest_reports(query_vector, data, 1, level)
    example = closest[0] if closest else None
    hyde = await answerer.hyde(query, example, env.settings, budget)
    hyde_method = "llm" if hyde else "vocabulary"
    hyde = hyde or vocabulary_hyde(query, example)
    reports = await closest_reports(await embed_query(env.embedder, hyde), data, opts.top_k_reports, level)
    for report in reports:
        book.number("reports", report.id)  # numbered by rank, so the model sees [1] as the best match

    # The model's folds are limited by the calls left; quoting costs none.
    n_folds = (
        opts.primer_folds if answerer.extractive else min(opts.primer_folds, max(1, budget.calls_left()))
    )
    folds = split_folds(reports, n_folds)
    fold_tokens = min(opts.primer_fold_tokens, context_tokens or opts.primer_fold_tokens)
    results = await answerer.primer_folds(
        query, folds, env, book, budget=budget, limit=limit, fold_tokens=fold_tokens
    )
    root = merge_folds(query, results)
    candidates = [
        Candidate(question, fold.score, root)
        for fold in sorted(results, key=lambda f: -f.score)
        for question in fold.follow_ups
    ]
    return Primer(
        root=root,
        candidates=candidates,
        hyde=hyde,
        hyde_method=hyde_method,
        folds=len(folds),
        failed=sum(f.failed for f in results),
    )
