"""JSON from model replies, which are often not quite JSON.

Models wrap JSON in code fences, add a sentence before or after it, leave trailing commas, use single quotes
or stop mid-object at the completion-token limit. :func:`parse_json_reply` recovers what it can (strict
parsing first, then ``json_repair``) and raises :class:`JSONReplyError` only when nothing is recoverable.
It lives in the models layer so that index steps and query engines share it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from graphrag_lite.errors import LLMError

JSONValue = dict[str, Any] | list[Any]

_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)


class JSONReplyError(LLMError, ValueError):
    """A model reply held no usable JSON (or not the fields a prompt asked for)."""


def preview(text: str, limit: int = 160) -> str:
    """``text`` on one line, cut to ``limit`` characters, for error messages."""
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
        f"The model's reply holds no JSON: {preview(text)!r}. Use a model that follows JSON instructions, "
        "or turn on llm.json_mode if the server supports response_format."
    )


def parse_json_object(text: str) -> dict[str, Any]:
    """The JSON object in ``text`` (fenced, wrapped in prose or slightly broken); a bare list of points is
    accepted as ``{"points": [...]}``. Raises :class:`JSONReplyError` (a ValueError) otherwise."""
    value = parse_json_reply(text)
    if isinstance(value, list):
        return {"points": value}
    return value
