"""Test infrastructure: a local OpenAI-compatible server with deterministic replies and fault injection.

No layer of graphrag_lite imports this package; tests and benchmarks do. Names load lazily so that
``python -m support.server`` runs the server module exactly once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from support.server import (
        ContentRule,
        FaultPlan,
        LogEntry,
        TestLLMServer,
        generic_reply,
        hashed_embedding,
    )

__all__ = ["ContentRule", "FaultPlan", "LogEntry", "TestLLMServer", "generic_reply", "hashed_embedding"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from support import server

        return getattr(server, name)
    raise AttributeError(name)
