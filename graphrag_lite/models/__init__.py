"""Chat and embedding models behind small protocols, the SQLite call cache and token counting.

Importing this package is cheap: torch and sentence-transformers load only when a local embedder first runs.
"""

from graphrag_lite.models.base import (
    ChatModel,
    ChatResponse,
    Embedder,
    Message,
    Usage,
    UsageMeter,
    current_scope,
    usage_scope,
)
from graphrag_lite.models.cache import SQLiteCache, chat_cache_key, embedding_cache_key
from graphrag_lite.models.embeddings import CachedEmbedder, LocalMiniLMEmbedder, OpenAIEmbedder
from graphrag_lite.models.factory import Caches, create_chat, create_embedder, open_caches
from graphrag_lite.models.openai_chat import OpenAIChat

__all__ = [
    "CachedEmbedder",
    "Caches",
    "ChatModel",
    "ChatResponse",
    "Embedder",
    "LocalMiniLMEmbedder",
    "Message",
    "OpenAIChat",
    "OpenAIEmbedder",
    "SQLiteCache",
    "Usage",
    "UsageMeter",
    "chat_cache_key",
    "create_chat",
    "create_embedder",
    "current_scope",
    "embedding_cache_key",
    "open_caches",
    "usage_scope",
]
