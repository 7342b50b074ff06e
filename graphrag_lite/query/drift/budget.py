"""What one DRIFT search may spend: LLM calls and tokens, checked before every call.

A call only starts when it leaves one call, and the tokens the reduce will need, for the final answer, so
a search that hits its budget still ends with a written answer. A call in flight holds its prompt plus
``REPLY_ALLOWANCE`` tokens (its reply, not known yet) until the model's usage arrives, and its answer will
join the reduce, so the reduce's share grows by the same allowance. Only a reply longer than the allowance
can push the total past the cap, and only the final reply's own length is not held in advance.

The JSON replies of the DRIFT primer and follow-up prompts, read leniently.

Models rename keys ("answer" for "intermediate_answer"), write scores as "85", "85/100" or 0.85, give
follow-ups as objects or one string per line. All of that is accepted; a reply without a usable answer or
score raises ValueError so the caller records it as a failed call.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from graphrag_lite.models.base import ChatModel, ChatResponse, Message
from graphrag_lite.models.json_reply import parse_json_object
from graphrag_lite.models.tokens import Tokenizer

REPLY_ALLOWANCE = 300  # tokens of a typical primer / follow-up reply


@dataclass
class CallBudget:
    """``spent_tokens`` reads the tokens this search has used so far (its usage scope)."""

    max_calls: int
    max_tokens: int
    spent_tokens: Callable[[], int]
    calls: int = 0
    pending_tokens: int = 0  # held by calls in flight
    reserve_tokens: int = 0  # the reduce's expected prompt, from the answers so far; kept free for it
    reserve_growth: int = 0  # the answers of calls started since ``keep_for_reduce`` will join the reduce
    refused: str | None = None  # why the first call was refused, for ``stopped_early``

    def keep_for_reduce(self, tokens: int) -> None:
        """Keep ``tokens`` free for the reduce (its prompt from the answers in hand now)."""
        self.reserve_tokens = tokens
        self.reserve_growth = 0

    def take(self, prompt_tokens: int, *, final: bool = False) -> bool:
        """Reserve one call with this prompt size; False (and why, in ``refused``) when it does not fit.
        Calls that are not ``final`` must leave room for the reduce."""
        keep_calls = 0 if final else 1
        if self.calls + 1 + keep_calls > self.max_calls:
            self._refuse(f"max_llm_calls ({self.max_calls}) reached")
            return False
        cost = prompt_tokens if final else prompt_tokens + REPLY_ALLOWANCE
        reserve = 0 if final else self.reserve_tokens + self.reserve_growth + REPLY_ALLOWANCE
        if cost + reserve > self.tokens_left():
            self._refuse(f"max_tokens ({self.max_tokens}) reached")
            return False
        self.calls += 1
        self.pending_tokens += cost
        if not final:
            self.reserve_growth += REPLY_ALLOWANCE
        return True

    def settle(self, prompt_tokens: int, *, final: bool = False) -> None:
        """A reserved call finished (its usage is now in ``spent_tokens``)."""
        cost = prompt_tokens if final else prompt_tokens + REPLY_ALLOWANCE
        self.pending_tokens = max(0, self.pending_tokens - cost)

    def tokens_left(self) -> int:
        """Tokens not yet spent nor held by calls in flight."""
        return self.max_tokens - self.spent_tokens() - self.pending_tokens

    def calls_left(self) -> int:
        """Calls still available before the one kept for the reduce."""
        return max(0, self.max_calls - self.calls - 1)

    def exhausted(self) -> str | None:
        """Why no further follow-up can be asked (only the reduce's call is left), or None."""
        if self.calls_left() == 0:
            self._refuse(f"max_llm_calls ({self.max_calls}) reached")
            return self.refused
        return None

    def _refuse(self, reason: str) -> None:
        if self.refused is None:
            self.refused = reason


def prompt_tokens(messages: Sequence[Message], tokenizer: Tokenizer) -> int:
    return sum(tokenizer.count(m.get("content", "")) for m in messages)


async def budgeted_chat(
    chat: ChatModel,
    messages: Sequence[Message],
    budget: CallBudget,
    tokenizer: Tokenizer,
    *,
    json_mode: bool = False,
) -> ChatResponse | None:
    """One model call if the budget allows it (None when it does not); the reservation is settled even
    when the call fails."""
    tokens = prompt_tokens(messages, tokenizer)
    if not budget.take(tokens):
        return None
    try:
        return await chat.chat(messages, json_mode=json_mode)
    finally:
        budget.settle(tokens)


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
