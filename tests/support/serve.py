"""``graphrag-lite serve`` in its own process on a free local port, for tests and benchmarks.

with ServedProject(root, api_key=KEY) as served:
    httpx.get(f"{served.url}/health", headers=served.auth)
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

SECRETS = (
    "GRAPHRAG_API_KEY",
    "OPENAI_API_KEY",
    "GRAPHRAG_API_BASE",
    "OPENAI_BASE_URL",
    "GRAPHRAG_SERVER_API_KEY",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ServedProject:
    """A real uvicorn server for ``root``; ``start_timeout_s`` bounds start-up (liveness only)."""

    def __init__(
        self,
        root: Path,
        *,
        api_key: str | None = None,
        extra_args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        start_timeout_s: float = 120.0,
    ) -> None:
        self.root, self.api_key = root, api_key
        self.extra_args, self.extra_env = extra_args, env or {}
        self.start_timeout_s = start_timeout_s
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = root / f"serve-{self.port}.log"

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def __enter__(self) -> ServedProject:
        env = {k: v for k, v in os.environ.items() if k not in SECRETS}
        env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **self.extra_env})
        command = [
            sys.executable,
            "-m",
            "graphrag_lite.cli.main",
            "serve",
            "--root",
            str(self.root),
            "--port",
            str(self.port),
            *self.extra_args,
        ]
        if self.api_key:
            command += ["--api-key", self.api_key]
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited with {self.process.returncode}: {self.log()}")
            try:
                httpx.get(f"{self.url}/health", timeout=2.0)
                return self
            except httpx.TransportError:
                time.sleep(0.2)
        self.__exit__(None, None, None)
        raise RuntimeError(f"serve did not answer within {self.start_timeout_s} s: {self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-3000:]

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
