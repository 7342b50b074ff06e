"""The spending cap of one run: ``llm.max_cost`` (money, with ``llm.price``) or ``llm.max_prompt_tokens``.

The chat model asks the cap before each request it sends (cache hits are free and always pass), once the
request has its concurrency slot, so requests waiting for a slot do not count. A request passes when what
the run spent, plus what requests in flight may spend, plus this one stays within the cap, counting each
request in flight at its largest possible completion (``llm.max_tokens``): near the cap fewer requests go
out at once, and the cap is never passed. Once one request is refused every later
one is too: requests in flight finish (and are cached), items whose request was refused are recorded as
failed and not memoised, and the workflow stops after the step (:class:`~graphrag_lite.errors.CapReached`).
The next run, with a higher cap or none, serves the finished requests from the cache and the memos and
sends only what is left.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from graphrag_lite.config.settings import LLMSettings, PriceSettings
from graphrag_lite.errors import CAP_MARKER, CapReached, ConfigError
from graphrag_lite.models.base import Usage

# The cap of the run (or query) this task belongs to: a context variable, so concurrent queries of one
# GraphRAG each keep their own, and tasks a run starts inherit it.
_CURRENT: contextvars.ContextVar[SpendingCap | None] = contextvars.ContextVar(
    "graphrag_lite_spending_cap", default=None
)


def current_cap() -> SpendingCap | None:
    return _CURRENT.get()


@contextlib.contextmanager
def capped(cap: SpendingCap | None) -> Iterator[SpendingCap | None]:
    """Make ``cap`` the cap of every model call made inside (None: no cap)."""
    token = _CURRENT.set(cap)
    try:
        yield cap
    finally:
        _CURRENT.reset(token)


@dataclass
class SpendingCap:
    max_cost: float | None
    max_prompt_tokens: int | None
    price: PriceSettings
    _spent: Usage = field(default_factory=Usage)  # requests of this run that finished
    reached: bool = False
    _in_flight_prompt: int = 0  # prompt tokens of requests sent and not yet recorded
    _in_flight_completion: int = 0  # their largest possible completions
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def for_run(cls, llm: LLMSettings) -> SpendingCap | None:
        """The cap of a run starting now (None without one); a money cap needs ``llm.price``."""
        if llm.max_cost is None and llm.max_prompt_tokens is None:
            return None
        if llm.max_cost is not None and not llm.price.is_set:
            raise ConfigError(
                "llm.max_cost needs the model's prices: set llm.price.input_per_1m and "
                "llm.price.output_per_1m in settings.yaml (or cap tokens with llm.max_prompt_tokens)."
            )
        return cls(llm.max_cost, llm.max_prompt_tokens, llm.price)

    def spent(self) -> Usage:
        """What the run has spent so far (requests that finished)."""
        with self._lock:
            return replace(self._spent)

    def cost(self, usage: Usage) -> float:
        return self.price.cost(usage.prompt_tokens, usage.completion_tokens, usage.cached_prompt_tokens)

    def reserve(self, prompt_tokens: int, max_completion: int) -> None:
        """Let a request go out or raise :class:`CapReached`; pair with :meth:`release`."""
        with self._lock:
            spent = self._spent
            prompt = self._in_flight_prompt + prompt_tokens
            completion = self._in_flight_completion + max_completion
            over_tokens = (
                self.max_prompt_tokens is not None and spent.prompt_tokens + prompt > self.max_prompt_tokens
            )
            over_cost = self.max_cost is not None and (
                self.cost(spent) + self.price.cost(prompt, completion) > self.max_cost
            )
            if self.reached or over_tokens or over_cost:
                self.reached = True
                raise CapReached(f"{CAP_MARKER}: {self.describe(spent)}")
            self._in_flight_prompt = prompt
            self._in_flight_completion = completion

    def release(self, prompt_tokens: int, max_completion: int, used: Usage) -> None:
        """The request is done: what it reserved is freed, what it ``used`` counts as spent."""
        with self._lock:
            self._in_flight_prompt -= prompt_tokens
            self._in_flight_completion -= max_completion
            self._spent.add(used)

    def describe(self, spent: Usage | None = None) -> str:
        """Spent and cap, in the units the cap is set in."""
        spent = spent if spent is not None else self.spent()
        parts = []
        if self.max_cost is not None:
            parts.append(f"spent {self.cost(spent):.4g} of llm.max_cost {self.max_cost:g}")
        if self.max_prompt_tokens is not None:
            parts.append(
                f"sent {spent.prompt_tokens:,} of llm.max_prompt_tokens {self.max_prompt_tokens:,} prompt "
                "tokens"
            )
        return (
            "; ".join(parts) + f" ({spent.llm_calls:,} calls, {spent.completion_tokens:,} completion tokens)"
        )
