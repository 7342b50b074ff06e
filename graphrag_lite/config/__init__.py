"""Settings: typed models with defaults, loaded from settings.yaml, .env and the environment."""

from graphrag_lite.config.loader import load_settings
from graphrag_lite.config.settings import (
    CacheSettings,
    ChunkSettings,
    CommunitySettings,
    EmbeddingSettings,
    ExtractionSettings,
    InputSettings,
    LLMSettings,
    NLPSettings,
    QuerySettings,
    ReportSettings,
    Settings,
)

__all__ = [
    "CacheSettings",
    "ChunkSettings",
    "CommunitySettings",
    "EmbeddingSettings",
    "ExtractionSettings",
    "InputSettings",
    "LLMSettings",
    "NLPSettings",
    "QuerySettings",
    "ReportSettings",
    "Settings",
    "load_settings",
]
