"""Build the chat model, the embedder and their caches from :class:`Settings`.

"No LLM configured" is an explicit state: :func:`create_chat` returns ``None`` when ``llm.api_base`` and
``llm.api_key`` are both unset, and callers switch to their extractive (no-LLM) methods. It never guesses a
default endpoint, so an offline project never tries to reach api.openai.com.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphrag_lite.config.settings import EmbeddingSettings, Settings
from graphrag_lite.errors import ConfigError
from graphrag_lite.models.base import ChatModel, Embedder, UsageMeter
from graphrag_lite.models.cache import SQLiteCache
from graphrag_lite.models.embeddings import AutoMiniLMEmbedder, CachedEmbedder, TorchMiniLMEmbedder

CHAT_CACHE_FILE = "llm.sqlite"
EMBEDDING_CACHE_FILE = "embeddings.sqlite"


@dataclass
class Caches:
    """The project's two caches (cache/llm.sqlite and cache/embeddings.sqlite). Files open on first use."""

    chat: SQLiteCache
    embeddings: SQLiteCache

    def close(self) -> None:
        self.chat.close()
        self.embeddings.close()


def open_caches(settings: Settings) -> Caches:
    """Caches under ``settings.cache_path``; with ``cache.enabled: false`` they miss and never write."""
    folder, enabled = settings.cache_path, settings.cache.enabled
    return Caches(
        chat=SQLiteCache(folder / CHAT_CACHE_FILE, enabled=enabled, table="chat"),
        embeddings=SQLiteCache(folder / EMBEDDING_CACHE_FILE, enabled=enabled, table="embeddings"),
    )


def create_chat(
    settings: Settings, meter: UsageMeter | None = None, cache: SQLiteCache | None = None
) -> ChatModel | None:
    """The configured chat model, or ``None`` when no LLM is configured (the engine then runs extractive).

    ``cache`` defaults to the project's chat cache (``open_caches(settings).chat``).
    """
    if not settings.llm.configured:
        return None
    if cache is None:
        cache = open_caches(settings).chat
    from graphrag_lite.models.openai_chat import OpenAIChat  # the openai package: only with an LLM

    return OpenAIChat(settings.llm, cache, meter if meter is not None else UsageMeter())


def local_embedder(settings: EmbeddingSettings) -> Embedder:
    """MiniLM: fp32 on torch, ONNX Runtime or both (``auto``: the same vectors, the faster runtime per
    call), int8 on ONNX Runtime, or a sentence-transformers folder on torch."""
    from graphrag_lite.models.onnx_minilm import MINILM, MINILM_INT8, OnnxMiniLMEmbedder

    if settings.model == MINILM_INT8:
        if settings.runtime == "torch":
            raise ConfigError(
                f"embeddings.model '{MINILM_INT8}' runs on ONNX Runtime only: set embeddings.runtime: auto "
                f"or onnx, or embeddings.model: {MINILM} to embed with torch."
            )
        return OnnxMiniLMEmbedder(MINILM_INT8)
    if settings.model == MINILM and settings.runtime == "onnx":
        return OnnxMiniLMEmbedder(MINILM)
    if settings.model == MINILM and settings.runtime == "auto":
        return AutoMiniLMEmbedder(batch_size=settings.batch_size, precision=settings.precision)
    return TorchMiniLMEmbedder(settings.model, batch_size=settings.batch_size, precision=settings.precision)


def uncached_embedder(settings: Settings, meter: UsageMeter | None = None) -> Embedder:
    """The configured embedder without the embedding cache (Ray workers: the driver keeps the vectors)."""
    if settings.embeddings.provider == "openai":
        from graphrag_lite.models.openai_embeddings import OpenAIEmbedder  # the openai package: only now

        return OpenAIEmbedder(settings.embeddings, settings.llm, meter)
    return local_embedder(settings.embeddings)


def create_embedder(
    settings: Settings, meter: UsageMeter | None = None, cache: SQLiteCache | None = None
) -> Embedder:
    """The configured embedder behind the embedding cache (when caching is enabled).

    ``openai`` uses ``embeddings.api_base``/``api_key``, falling back to the llm section's; calls are
    recorded in ``meter``. ``local`` runs all-MiniLM-L6-v2 offline and records nothing.
    """
    inner = uncached_embedder(settings, meter)
    if cache is None:
        cache = open_caches(settings).embeddings
    if not cache.enabled:
        return inner
    return CachedEmbedder(inner, cache, meter if settings.embeddings.provider == "openai" else None)
