"""The JSON object of a model reply, for the query prompts that ask for one (map points, ratings)."""

from __future__ import annotations

from typing import Any

from graphrag_lite.index.json_reply import JSONReplyError, parse_json_reply


def parse_json_object(text: str) -> dict[str, Any]:
    """The JSON object in ``text`` (fenced, wrapped in prose or slightly broken); a bare list of points is
    accepted as ``{"points": [...]}``. Raises :class:`JSONReplyError` (a ValueError) otherwise."""
    value = parse_json_reply(text)
    if isinstance(value, list):
        return {"points": value}
    return value


__all__ = ["JSONReplyError", "parse_json_object"]
