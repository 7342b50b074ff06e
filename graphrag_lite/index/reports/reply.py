"""A community report as the model wrote it (a parsed JSON reply), checked and normalised."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from graphrag_lite.models.json_reply import JSONReplyError, preview
from graphrag_lite.store.records import Finding

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_WRAPPER_KEYS = ("report", "community_report", "result", "data", "output")
_SUMMARY_KEYS = ("summary", "title", "finding", "headline", "insight")
_EXPLANATION_KEYS = ("explanation", "details", "detail", "description", "text", "evidence")


@dataclass
class ReportFields:
    """A community report as the model wrote it, checked and normalised."""

    title: str
    summary: str
    findings: list[Finding] = field(default_factory=list)
    rating: float = 0.0
    rating_explanation: str = ""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return " ".join(_text(v) for v in value if _text(v))
    return str(value).strip()


def _first(obj: dict[str, Any], keys: tuple[str, ...], skip: str | None = None) -> str:
    for key in keys:
        if key != skip and _text(obj.get(key)):
            return _text(obj[key])
    return ""


def _finding(item: Any) -> Finding | None:
    if isinstance(item, str):
        return Finding(summary=item.strip(), explanation="") if item.strip() else None
    if not isinstance(item, dict):
        return None
    lowered = {str(k).lower(): v for k, v in item.items()}
    summary = _first(lowered, _SUMMARY_KEYS)
    used = next((k for k in _SUMMARY_KEYS if _text(lowered.get(k))), None)
    explanation = _first(lowered, _EXPLANATION_KEYS, skip=used)
    if not summary and not explanation:
        return None
    return Finding(summary=summary or preview(explanation, 80), explanation=explanation)


def _rating(value: Any) -> float:
    """A number from 0 to 10 from 7, 7.5, "7.5", "8/10"; 0 when there is none."""
    if isinstance(value, bool):
        return 0.0
    if isinstance(value, int | float):
        number = float(value)
    else:
        match = _NUMBER.search(_text(value))
        number = float(match.group()) if match else 0.0
    if math.isnan(number):
        return 0.0
    return min(10.0, max(0.0, number))


def _unwrap(obj: Any) -> dict[str, Any]:
    if isinstance(obj, list):
        obj = next((item for item in obj if isinstance(item, dict)), None)
    if not isinstance(obj, dict):
        raise JSONReplyError(f"Expected a JSON object for the community report, got {type(obj).__name__}.")
    lowered = {str(k).lower(): v for k, v in obj.items()}
    for key in _WRAPPER_KEYS:
        inner = lowered.get(key)
        if isinstance(inner, dict) and "title" not in lowered:
            return {str(k).lower(): v for k, v in inner.items()}
    return lowered


def coerce_report(obj: Any) -> ReportFields:
    """Checked report fields: title required, plus a summary or findings; rating clamped to 0-10.

    Findings may come as objects with other key names ("title", "details") or as plain strings; all become
    ``Finding(summary, explanation)``. Raises :class:`JSONReplyError` when the title is missing or there
    is neither a summary nor a finding.
    """
    data = _unwrap(obj)
    title = _text(data.get("title")) or _text(data.get("name"))
    raw_findings = data.get("findings") or data.get("key_findings") or []
    if isinstance(raw_findings, dict | str):
        raw_findings = [raw_findings]
    findings = [f for f in (_finding(item) for item in raw_findings) if f is not None]
    summary = _text(data.get("summary")) or _text(data.get("overview"))
    if not title:
        raise JSONReplyError(f"The report reply has no title (keys: {sorted(data)[:8]}).")
    if not summary and not findings:
        raise JSONReplyError(f"The report reply '{title}' has neither a summary nor findings.")
    return ReportFields(
        title=title,
        summary=summary,
        findings=findings,
        rating=_rating(data.get("rating", data.get("importance"))),
        rating_explanation=_text(data.get("rating_explanation") or data.get("rating explanation")),
    )
