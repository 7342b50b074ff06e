"""JSON from model replies, which are often not quite JSON.

Models wrap JSON in code fences, add a sentence before or after it, leave trailing commas, use single quotes
or stop mid-object at the completion-token limit. :func:`parse_json_reply` recovers what it can (strict
parsing first, then ``json_repair``) and raises :class:`JSONReplyError` only when nothing is recoverable.
:func:`coerce_report` turns a parsed community report into checked, normalised fields.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from graphrag_lite.errors import LLMError
from graphrag_lite.store.records import Finding

JSONValue = dict[str, Any] | list[Any]

_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_WRAPPER_KEYS = ("report", "community_report", "result", "data", "output")
_SUMMARY_KEYS = ("summary", "title", "finding", "headline", "insight")
_EXPLANATION_KEYS = ("explanation", "details", "detail", "description", "text", "evidence")


class JSONReplyError(LLMError, ValueError):
    """A model reply held no usable JSON (or not the fields a prompt asked for)."""


def _preview(text: str, limit: int = 160) -> str:
    return " ".join(text.split())[:limit]


def _strict(candidate: str) -> JSONValue | None:
    """The JSON value at the start of ``candidate`` (text after it is ignored), or None."""
    try:
        value, _ = json.JSONDecoder().raw_decode(candidate)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict | list) else None


def _repaired(candidate: str) -> JSONValue | None:
    import json_repair

    try:
        value = json_repair.loads(candidate)
    except Exception:  # json_repair is best-effort; any failure just means "not recoverable"
        return None
    if isinstance(value, dict | list) and value:
        return value
    return None


def _candidates(text: str) -> list[str]:
    """Fragments that may hold the JSON: fenced blocks first, then the whole reply; each from its first
    ``{`` and from its first ``[`` (earlier bracket first)."""
    bases = [m.group(1).strip() for m in _FENCE.finditer(text) if m.group(1).strip()]
    bases.append(text)
    out: list[str] = []
    for base in bases:
        positions = sorted(p for p in (base.find("{"), base.find("[")) if p >= 0)
        out.extend(base[p:] for p in positions)
    return out


def _pick(values: list[JSONValue | None]) -> JSONValue | None:
    """The first object, else the first array: prose like "see [1]" must not beat a real object."""
    found = [v for v in values if v is not None]
    return next((v for v in found if isinstance(v, dict)), found[0] if found else None)


def parse_json_reply(text: str) -> JSONValue:
    """The JSON object (or array) in a model reply, repaired if need be.

    Accepts code fences, prose before and after, trailing commas, single quotes and truncated output. An
    object is preferred over an array when the reply holds both. Raises :class:`JSONReplyError` when the
    reply holds nothing recoverable.
    """
    if not text or not text.strip():
        raise JSONReplyError(
            "The model replied with an empty message where JSON was expected. Check that the model can "
            "follow JSON instructions (llm.json_mode asks the server for JSON output)."
        )
    candidates = _candidates(text)
    value = _pick([_strict(c) for c in candidates])
    if not isinstance(value, dict):
        value = _pick([value, *(_repaired(c) for c in candidates)])
    if value is not None:
        return value
    raise JSONReplyError(
        f"The model's reply holds no JSON: {_preview(text)!r}. Use a model that follows JSON instructions, "
        "or turn on llm.json_mode if the server supports response_format."
    )


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
    return Finding(summary=summary or _preview(explanation, 80), explanation=explanation)


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
