"""The JSON replies of the DRIFT primer and follow-up prompts, read leniently.

Models rename keys ("answer" for "intermediate_answer"), write scores as "85", "85/100" or 0.85, give
follow-ups as objects or one string per line. All of that is accepted; a reply without a usable answer or
score raises ValueError so the caller records it as a failed call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from graphrag_lite.query.json_reply import parse_json_object

ANSWER_KEYS = ("intermediate_answer", "response", "answer", "intermediate_answers")
SCORE_KEYS = ("score", "relevance", "rating")
FOLLOW_UP_KEYS = ("follow_up_queries", "follow_up_questions", "follow_ups", "followup_queries", "questions")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@dataclass(frozen=True)
class DriftReply:
    answer: str
    score: int
    follow_ups: list[str]


def parse_drift_reply(text: str, max_follow_ups: int) -> DriftReply:
    """The answer, score (0-100) and follow-up questions of one reply; ValueError when unusable."""
    data = {str(k).lower(): v for k, v in parse_json_object(text).items()}
    answer = _text(next((data[k] for k in ANSWER_KEYS if k in data), None))
    score_value = next((data[k] for k in SCORE_KEYS if k in data), None)
    if score_value is None and not answer:
        raise ValueError(f"the reply has neither an answer nor a score (keys: {sorted(data)[:8]})")
    raw: Any = next((data[k] for k in FOLLOW_UP_KEYS if k in data), [])
    return DriftReply(answer, coerce_score(score_value), _questions(raw)[:max_follow_ups])


def coerce_score(value: Any) -> int:
    """0-100 from 70, 70.5, "70", "70/100" or a fraction like 0.7; 0 when there is no number."""
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, int | float):
        number = float(value)
        if isinstance(value, float) and 0.0 < number < 1.0:
            number *= 100.0  # a fraction of one
    else:
        match = _NUMBER.search(str(value))
        number = float(match.group()) if match else 0.0
    if number != number:  # NaN
        return 0
    return round(max(0.0, min(100.0, number)))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "\n\n".join(t for t in (_text(v) for v in value) if t)
    if isinstance(value, dict):
        return _text(next(iter(value.values()), ""))
    return str(value).strip()


def _questions(raw: Any) -> list[str]:
    if isinstance(raw, str):
        raw = raw.splitlines()
    if not isinstance(raw, list):
        return []
    out: list[str] = []
    for item in raw:
        if isinstance(item, dict):
            item = item.get("query") or item.get("question") or next(iter(item.values()), "")
        question = " ".join(str(item).split()).lstrip("-*0123456789.) ").strip()
        if question and question not in out:
            out.append(question)
    return out
