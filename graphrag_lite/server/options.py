"""How the server runs: where the project is, where it listens, who may call it and how much they may send."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from graphrag_lite.errors import ConfigError

MB = 1024 * 1024


@dataclass(frozen=True)
class ServerOptions:
    """``api_key``: when set, every API route needs ``Authorization: Bearer <key>``. It is required on any
    address but loopback. ``cors_origins``: browser origins allowed to call the API (none by default)."""

    root: Path
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    max_body_bytes: int = 1 * MB
    max_upload_bytes: int = 50 * MB

    def __post_init__(self) -> None:
        if self.api_key is not None and len(self.api_key) < 16:
            raise ConfigError("The server API key must be at least 16 characters (--api-key).")
        if not self.api_key and not is_loopback(self.host):
            raise ConfigError(
                f"Refusing to listen on {self.host} without an API key: anyone on the network could query "
                "and change the index. Set --api-key (or GRAPHRAG_SERVER_API_KEY), or bind 127.0.0.1."
            )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
