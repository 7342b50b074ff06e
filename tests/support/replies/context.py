"""Test-server replies for the contextual-prefix prompt (prompts/contextualize_unit.txt).

The reply situates the passage the way the prompt asks, from the request alone: it names the document's
title and repeats the opening words of the document text it was sent, so a unit from the middle of a
document gains words that only the document's start has (what a test of search over contexts looks for).
"""

from __future__ import annotations

import re

from support.replies import ReplyRequest

CONTEXT_MARKER = "Write a short context for the passage"
_TITLE = re.compile(r'is \(part of\) a document titled "([^"]*)"')
_DOCUMENT = re.compile(r"-----DOCUMENT START-----\n(.*?)\n-----DOCUMENT END-----", re.S)


def situate(request: ReplyRequest) -> str:
    text = request.last_user
    title = _TITLE.search(text)
    document = _DOCUMENT.search(text)
    opening = " ".join(document.group(1).split()[:12]) if document else ""
    return f'From "{title.group(1) if title else ""}", the document that opens: {opening}'


HANDLERS = [(CONTEXT_MARKER, situate)]
