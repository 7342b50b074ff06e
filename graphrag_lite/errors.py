"""One exception hierarchy. Every message says what went wrong *and what to do about it*."""

from __future__ import annotations


class GraphRAGError(Exception):
    """Base of every error graphrag_lite raises on purpose."""


class ConfigError(GraphRAGError):
    """settings.yaml, .env or environment variables are missing or invalid."""


class InputError(GraphRAGError):
    """The input folder or one of its files cannot be used."""


class StorageError(GraphRAGError):
    """An output table, vector store or cache cannot be read or written."""


class IndexNotFoundError(StorageError):
    """A query or export ran against a missing or half-built index."""


class LLMError(GraphRAGError):
    """The language model could not be reached or gave an unusable reply after retries."""


class EndpointDownError(LLMError):
    """Calls in a row could not reach the server (the circuit breaker opened): the run stops sending."""


class EmbeddingError(GraphRAGError):
    """The embedding model could not be loaded or called."""


class ExtractionError(GraphRAGError):
    """Extraction produced nothing usable (for example 0 entities from many chunks)."""


class WorkflowError(GraphRAGError):
    """A workflow file is invalid or a step failed."""


class NotBuiltYetError(GraphRAGError):
    """A command that exists in the CLI but is not implemented yet."""


CAP_MARKER = (
    "spending cap reached"  # in every refused request's error; the CLI shows the run's summary instead
)


class CapReached(LLMError):
    """The run's spending cap (llm.max_cost / llm.max_prompt_tokens) stops the next LLM call."""
