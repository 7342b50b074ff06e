"""Scripted replies: a test can make the server answer exactly what it wants.

Put ``VERBATIM_MARKER`` in a message; the reply is everything after the marker in that message, stripped.
Handy for streaming, JSON-parsing and error-path tests that need a precise reply without a prompt family.
"""

from __future__ import annotations

from support.replies import ReplyRequest

VERBATIM_MARKER = "[[test-server: reply verbatim]]"


def reply_verbatim(request: ReplyRequest) -> str:
    for message in reversed(request.messages):
        content = str(message.get("content", ""))
        if VERBATIM_MARKER in content:
            return content.split(VERBATIM_MARKER, 1)[1].strip()
    return ""


HANDLERS = [(VERBATIM_MARKER, reply_verbatim)]
