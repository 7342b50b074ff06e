"""Publisher boilerplate that is not part of a document's content: Project Gutenberg's licence frame.

Public-domain books from Project Gutenberg, the texts people most often try first, arrive wrapped in a
header (title page data, a licence notice) and a long footer (the full licence, donation details). Indexed
as prose, it becomes "Project Gutenberg", "Literary Archive Foundation" and a community of licence terms.
The file itself is left untouched (the licence asks that it travel with the text); only the text between
the ``*** START OF THE PROJECT GUTENBERG EBOOK ... ***`` and ``*** END OF ... ***`` lines is indexed.
A file without the START line is returned unchanged.
"""

from __future__ import annotations

import re

_START = re.compile(r"^\*{3}\s*START OF (?:THE|THIS) PROJECT GUTENBERG E-?BOOK\b.*$", re.IGNORECASE | re.M)
_END = re.compile(r"^\*{3}\s*END OF (?:THE|THIS) PROJECT GUTENBERG E-?BOOK\b.*$", re.IGNORECASE | re.M)


def strip_gutenberg(text: str) -> tuple[str, bool]:
    """``text`` between Project Gutenberg's START and END marker lines, and whether anything was cut."""
    start = _START.search(text)
    if start is None:
        return text, False
    end = _END.search(text, start.end())
    body = text[start.end() : end.start() if end is not None else len(text)]
    return body.strip("\n"), True
