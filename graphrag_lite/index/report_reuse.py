"""Community reports kept in the step memo, so an update rewrites only reports whose inputs changed.

A report is stored without its ids and level: a community whose members and their descriptions are the same
as before gets the same report even when clustering gave it another id.
"""

from __future__ import annotations

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
