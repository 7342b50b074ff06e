"""Test infrastructure: a local OpenAI-compatible server with deterministic replies and fault injection.

No layer of graphrag_lite imports this package; tests and benchmarks do.
"""

from graphrag_lite.testing.server import FaultPlan, LogEntry, TestLLMServer, generic_reply, hashed_embedding

__all__ = ["FaultPlan", "LogEntry", "TestLLMServer", "generic_reply", "hashed_embedding"]
