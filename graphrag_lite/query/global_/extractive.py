"""Global search without an LLM: an overview, one cited finding from each of the best matching communities.

Global questions ask about the whole corpus ("what are the main themes?"), so the answer spans communities:
at most one finding per report, each shown under its report's title (which names the community's main
entities). A report's prior mixes how near it is to the question by vector with how much of the graph its
community holds (its size against the largest), so a broad question with no words in common with any
finding surfaces the big threads of the corpus rather than a stray sentence. Citations a finding already
carries (``[Data: Sources (t-...)]`` in extractive reports) are kept next to its report's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from graphrag_lite.models.base import Embedder
from graphrag_lite.query.extractive import Evidence, ScoredEvidence, format_extractive, rank_evidence
from graphrag_lite.query.index_data import IndexData
from graphrag_lite.query.local.context import embed_query
from graphrag_lite.store.records import CommunityReport

EXTRACTIVE_FINDINGS = 5
PRIOR_REPORTS = 50
SIZE_WEIGHT = 1.0  # a community's size (share of the largest) against its nearness to the question
CANDIDATE_REPORTS = 12  # reports whose findings are scored (by prior); the answer quotes at most 5
SIZE_BONUS = 0.3  # the same share added to a finding's final score: big threads first among near-equals
_DATA = re.compile(r"\[Data:([^\]]*)\]")


def finding_evidence(report: CommunityReport, number: int, prior: float) -> list[Evidence]:
    """One piece of evidence per finding (the report summary when it has none), shown under the report's
    title, citing the report and any sources the finding itself cites."""
    # The explanation is the finding's content; its summary (the names it mentions) would repeat the title.
    texts = [" ".join(f.explanation.split()) or " ".join(f.summary.split()) for f in report.findings]
    texts = texts or [report.summary]
    evidence = []
    for text in texts:
        cited = [part.strip() for block in _DATA.findall(text) for part in block.split(";") if part.strip()]
        bare = " ".join(_DATA.sub("", text).split())
        if bare:
            cite = "; ".join([*cited, f"Reports ({number})"])
            evidence.append(Evidence(f"{report.title}: {bare}", cite, prior, report.id))
    return evidence


def community_weight(reports: Sequence[CommunityReport], data: IndexData) -> dict[str, float]:
    """Per report, its community's size as a share of the largest among ``reports`` (0..1)."""
    communities = data.community_by_id
    sizes = {r.id: communities[r.community_id].size if r.community_id in communities else 0 for r in reports}
    largest = max(sizes.values(), default=0)
    if largest <= 1:
        return dict.fromkeys(sizes, 0.0)
    return {rid: size / largest for rid, size in sizes.items()}


async def extractive_findings_answer(
    query: str,
    reports: Sequence[CommunityReport],
    numbers: dict[str, int],
    data: IndexData,
    embedder: Embedder,
) -> tuple[str, list[str]]:
    """(labelled answer, ids of the reports it quotes)."""
    nearness: dict[str, float] = {}
    if reports and data.vectors is not None and data.has_vectors("community_reports"):
        vector = await embed_query(embedder, query)
        k = min(len(reports), PRIOR_REPORTS)
        hits = [h for h in data.vectors.search("community_reports", vector, k=4 * k) if h.id in numbers][:k]
        nearness = {hit.id: 1.0 - rank / max(1, len(hits)) for rank, hit in enumerate(hits)}
    weight = community_weight(reports, data)
    prior = {
        r.id: (nearness.get(r.id, 0.0) + SIZE_WEIGHT * weight[r.id]) / (1 + SIZE_WEIGHT) for r in reports
    }
    candidates = sorted(reports, key=lambda r: -prior[r.id])[:CANDIDATE_REPORTS]
    evidence = [item for r in candidates for item in finding_evidence(r, numbers[r.id], prior[r.id])]
    scored = await rank_evidence(query, evidence, embedder, top_n=len(evidence), max_candidates=len(evidence))
    scored.sort(key=lambda s: -(s.score + SIZE_BONUS * weight[s.evidence.record_id]))
    picked: list[ScoredEvidence] = []
    for item in scored:  # one finding per community: an overview, not five quotes from one thread
        if all(p.evidence.record_id != item.evidence.record_id for p in picked):
            picked.append(item)
        if len(picked) == EXTRACTIVE_FINDINGS:
            break
    used = [p.evidence.record_id for p in picked]
    return format_extractive(picked, what="community report findings, one per community,"), used
