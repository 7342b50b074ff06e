"""The server's guards: bearer auth, request size limits and safe upload names."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path, PurePosixPath, PureWindowsPath

from fastapi import HTTPException, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UPLOAD_PATH = "/documents"
_UNSAFE = re.compile(r"[^\w .()+-]")


def require_key(request: Request) -> None:
    """FastAPI dependency: with an API key configured, the request must carry ``Bearer <key>``."""
    expected: str | None = request.app.state.options.api_key
    if not expected:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(given.strip().encode(), expected.encode()):
        raise HTTPException(
            401,
            "Missing or wrong API key: send 'Authorization: Bearer <key>'.",
            {"WWW-Authenticate": "Bearer"},
        )


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Answers 413 to a request body over the limit (uploads have their own, larger one), whether the
    client declares its length or streams it."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_upload_bytes if scope["path"] == UPLOAD_PATH else self.max_body_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _too_large(send, limit)


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps({"error": f"Request body too large: the limit is {limit:,} bytes."}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def upload_path(input_dir: Path, filename: str, allowed: list[str]) -> Path:
    """Where an uploaded file goes: ``input_dir/<name>``. A name with a folder part, a leading dot or an
    extension ``input.file_types`` does not read is refused (ValueError); odd characters become "_"."""
    name = filename.strip()
    if not name or "\x00" in name or PurePosixPath(name).name != name or PureWindowsPath(name).name != name:
        raise ValueError(f"{filename!r}: a file name may not contain a folder or drive ('/', '\\', '..').")
    if name.startswith(".") or name in {".", ".."}:
        raise ValueError(f"{filename!r}: hidden file names (starting with '.') are not accepted.")
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix not in allowed:
        raise ValueError(f"{filename!r}: only {', '.join('.' + a for a in allowed)} files are indexed.")
    target = (input_dir / _UNSAFE.sub("_", name)).resolve()
    if target.parent != input_dir.resolve():
        raise ValueError(f"{filename!r}: the file would land outside the input folder.")
    return target
