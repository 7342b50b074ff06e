"""Global search without an LLM: the community report findings closest to the question, each cited.

Reports near the question by vector get a rank prior, so a question with no words in common with any
finding ("what are the main themes?") still surfaces the findings of the most relevant reports. Citations a
finding already carries (``[Data: Sources (t-...)]`` in extractive reports) are kept next to its report's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from graphrag_lite.models.base import Embedder
from graphrag_lite.query.context_local import embed_query
from graphrag_lite.query.extractive import Evidence, format_extractive, rank_evidence
from graphrag_lite.query.index_data import IndexData
from graphrag_lite.store.records import CommunityReport, Finding

EXTRACTIVE_FINDINGS = 5
PRIOR_REPORTS = 50
_DATA = re.compile(r"\[Data:([^\]]*)\]")


def finding_text(finding: Finding) -> str:
    """Summary and explanation, without repeating a summary that is just the explanation's opening."""
    summary = " ".join(finding.summary.split())
    explanation = " ".join(finding.explanation.split())
    if not explanation:
        return summary
    if not summary or explanation.startswith(summary.rstrip(" .…")):
        return explanation
    return f"{summary}: {explanation}"


def finding_evidence(report: CommunityReport, number: int, prior: float) -> list[Evidence]:
    """One piece of evidence per finding (the report summary when it has none), citing the report and any
    sources the finding itself cites."""
    texts = [finding_text(f) for f in report.findings] or [report.summary]
    evidence = []
    for text in texts:
        cited = [part.strip() for block in _DATA.findall(text) for part in block.split(";") if part.strip()]
        bare = " ".join(_DATA.sub("", text).split())
        if bare:
            cite = "; ".join([*cited, f"Reports ({number})"])
            evidence.append(Evidence(bare, cite, prior, report.id))
    return evidence


async def extractive_findings_answer(
    query: str,
    reports: Sequence[CommunityReport],
    numbers: dict[str, int],
    data: IndexData,
    embedder: Embedder,
) -> tuple[str, list[str]]:
    """(labelled answer, ids of the reports it quotes)."""
    prior: dict[str, float] = {}
    if reports and data.vectors is not None and data.has_vectors("community_reports"):
        vector = await embed_query(embedder, query)
        k = min(len(reports), PRIOR_REPORTS)
        hits = [h for h in data.vectors.search("community_reports", vector, k=4 * k) if h.id in numbers][:k]
        prior = {hit.id: 1.0 - rank / max(1, len(hits)) for rank, hit in enumerate(hits)}
    evidence = [
        item
        for report in reports
        for item in finding_evidence(report, numbers[report.id], prior.get(report.id, 0.0))
    ]
    picked = await rank_evidence(query, evidence, embedder, top_n=EXTRACTIVE_FINDINGS)
    used = list(dict.fromkeys(p.evidence.record_id for p in picked))
    return format_extractive(picked, what="community report findings"), used
