"""What both report writers share: the markdown of a report, its memo round trip, how a title lists names.

A report is memoised without its ids and level: a community whose members and their descriptions are the
same as before gets the same report even when clustering gave it another id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from graphrag_lite.store.ids import report_id
from graphrag_lite.store.records import Community, CommunityReport, Finding

_PLACE = ("id", "community_id", "level")


def report_to_memo(report: CommunityReport) -> dict[str, Any]:
    return {k: v for k, v in asdict(report).items() if k not in _PLACE}


def report_from_memo(value: dict[str, Any], community: Community) -> CommunityReport:
    fields = dict(value)
    findings = [Finding(**f) for f in fields.pop("findings")]
    return CommunityReport(
        id=report_id(community.id),
        community_id=community.id,
        level=community.level,
        findings=findings,
        **fields,
    )


def join_names(names: Sequence[str]) -> str:
    """ "A", "A and B", "A, B and C"."""
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def render_report(report: CommunityReport, note: str = "") -> str:
    """``full_content``, the markdown that is embedded and that query engines show: title, summary,
    findings and rating (a failed placeholder has no rating), then ``note``."""
    lines = [f"# {report.title}", "", report.summary]
    if report.findings:
        lines += ["", "## Findings"]
        for finding in report.findings:
            lines += ["", f"### {finding.summary}", "", finding.explanation]
    if report.status != "failed":
        rating = f"{report.rating:g}/10"
        explained = f"{rating}: {report.rating_explanation}" if report.rating_explanation else rating
        lines += ["", "## Rating", "", explained]
    if note:
        lines += ["", note]
    return "\n".join(lines).strip() + "\n"
