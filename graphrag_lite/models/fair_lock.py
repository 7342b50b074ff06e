"""A lock that serves waiting threads first come, first served.

The local embedders run one forward pass at a time (each already uses every core). With a plain
``threading.Lock`` a thread that releases it and asks again at once usually wins it back before a woken
waiter runs, so under many concurrent queries (the HTTP server) some callers starved for tens of seconds.
"""

from __future__ import annotations

import threading
from types import TracebackType


class FairLock:
    """A ticket lock: each ``with`` takes a number and waits for it to be served."""

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._next_ticket = 0
        self._serving = 0

    def __enter__(self) -> FairLock:
        with self._condition:
            ticket = self._next_ticket
            self._next_ticket += 1
            self._condition.wait_for(lambda: self._serving == ticket)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with self._condition:
            self._serving += 1
            self._condition.notify_all()
