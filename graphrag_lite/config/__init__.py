"""Settings: typed models with defaults, loaded from settings.yaml, .env and the environment."""

from graphrag_lite.config.loader import load_settings
from graphrag_lite.config.settings import Settings

__all__ = ["Settings", "load_settings"]
