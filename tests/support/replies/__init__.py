"""Deterministic replies of the test LLM server, one module per prompt family.

Each module in this package exposes ``HANDLERS: list[tuple[str, Handler]]``: a marker string and a function.
The server joins the request's message contents and uses the first handler whose marker occurs in them, so
a marker should be a phrase that only its prompt contains (a line of the prompt file works well). Replies are
derived only from the request, so the same request always gets the same reply.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class ReplyRequest:
    messages: list[dict[str, str]]
    model: str = "test-model"
    json_mode: bool = False
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n".join(str(m.get("content", "")) for m in self.messages)

    @property
    def last_user(self) -> str:
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return str(message.get("content", ""))
        return ""


Handler = Callable[[ReplyRequest], str]


def all_handlers() -> list[tuple[str, str, Handler]]:
    """(module name, marker, handler) for every reply module, in module-name order."""
    found: list[tuple[str, str, Handler]] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for marker, handler in getattr(module, "HANDLERS", []):
            found.append((info.name, marker, handler))
    return found


def find_handler(request: ReplyRequest) -> tuple[str, Handler] | None:
    """The (kind, handler) for this request: kind is ``module:marker``; None when no marker matches."""
    text = request.text
    for module, marker, handler in all_handlers():
        if marker in text:
            return f"{module}:{marker[:40]}", handler
    return None
