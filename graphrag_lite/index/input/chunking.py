"""Cut documents into token chunks (text units) that never cross a document and never exceed ``size`` tokens.

Each document is encoded once. Cuts fall on token boundaries; near the token limit a cut backs off to the
last paragraph break, sentence end or line break within the final 15% of the window (cheap: a few tokens
of context for a much cleaner unit), else to a word boundary in the last few tokens. A cut never lands
inside a multi-byte character (emoji, CJK), so chunk text is always clean UTF-8, and ``n_tokens`` is the
exact token count of the chunk's text.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from graphrag_lite.errors import ConfigError
from graphrag_lite.models.tokens import Tokenizer
from graphrag_lite.store import ids
from graphrag_lite.store.records import Document, TextUnit

BACKOFF_SHARE = 0.15  # a boundary cut may shorten a chunk by at most this share of its size
WORD_BACKOFF_TOKENS = 8  # how far a hard cut (or an overlap start) moves back to reach a word boundary

# flags of a token's bytes
_PARA, _LINE, _SENT, _SENT_CJK, _TRAIL_WS, _LEAD_WS = 1, 2, 4, 8, 16, 32
_WS = b" \t\n\r\x0b\x0c"
_CLOSERS = b"\"')]}*_" + "”’»」』）".encode()
_SENT_END = (b".", b"!", b"?", "…".encode())
_SENT_END_CJK = tuple(ch.encode() for ch in "。！？")

# cut scores: higher is a better place to end a chunk
_PARA_CUT, _SENT_CUT, _LINE_CUT, _WORD_CUT, _MID_WORD, _MID_CHAR = 3, 2, 1, 0, -1, -2


@dataclass(frozen=True)
class _TokenTable:
    """Per-token byte length and boundary flags of one encoding, indexed by token id."""

    encoding: Any
    nbytes: np.ndarray
    flags: np.ndarray


def _token_flags(raw: bytes) -> int:
    flags = 0
    if raw.endswith(b"\n\n"):
        flags |= _PARA
    if raw.endswith(b"\n"):
        flags |= _LINE
    if raw[-1:] in (b" ", b"\t", b"\n", b"\r"):
        flags |= _TRAIL_WS
    if raw[:1] in (b" ", b"\t", b"\n", b"\r"):
        flags |= _LEAD_WS
    core = raw.rstrip(_WS)
    while core and core[-1] in _CLOSERS:  # closing quotes / brackets after a full stop
        core = core[:-1]
    if core.endswith(_SENT_END):
        flags |= _SENT
    if core.endswith(_SENT_END_CJK):
        flags |= _SENT_CJK
    return flags


@lru_cache(maxsize=4)
def _token_table(encoding_name: str) -> _TokenTable:
    import quicktok

    enc = quicktok.get_encoding(encoding_name)
    size = int(enc.max_token_value) + 1
    nbytes = np.zeros(size, dtype=np.int64)
    flags = np.zeros(size, dtype=np.int8)
    for token in range(size):  # (token_byte_values() is sorted by bytes, not by id)
        try:
            raw = enc.decode_single_token_bytes(token)
        except (KeyError, ValueError):  # an unused id between the base and the special tokens
            continue
        nbytes[token] = len(raw)
        flags[token] = _token_flags(raw)
    return _TokenTable(enc, nbytes, flags)


def _validate(size: int, overlap: int) -> None:
    if size < 1:
        raise ConfigError(
            f"chunks.size must be at least 1 token (got {size}). Set chunks.size in settings.yaml."
        )
    if overlap < 0:
        raise ConfigError(
            f"chunks.overlap must be 0 or more (got {overlap}). Set chunks.overlap in settings.yaml."
        )
    if overlap >= size:
        raise ConfigError(
            f"chunks.overlap ({overlap}) must be smaller than the chunk size ({size}), or chunking would "
            "never advance. Lower chunks.overlap (or chunks.fast_overlap for the fast method)."
        )


class _Cutter:
    """Chooses cut points in one document's token stream and turns token spans into text."""

    def __init__(self, text: str, table: _TokenTable) -> None:
        self.enc = table.encoding
        try:
            self.data = text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates (never from the loader) become "?" so they tokenize
            self.data = text.encode("utf-8", errors="replace")
            text = self.data.decode("utf-8")
        tokens = np.asarray(self.enc.encode_ordinary(text), dtype=np.int64)
        self.n = len(tokens)
        self.offsets = np.zeros(self.n + 1, dtype=np.int64)
        np.cumsum(table.nbytes[tokens], out=self.offsets[1:])
        raw = np.frombuffer(self.data, dtype=np.uint8)
        self.continuation = (raw & 0xC0) == 0x80  # byte inside a multi-byte character
        self.char_at = np.zeros(len(self.data) + 1, dtype=np.int64)  # char offset of each byte offset
        np.cumsum(~self.continuation, out=self.char_at[1:])
        self.score = self._scores(table.flags[tokens])

    def _scores(self, flags: np.ndarray) -> np.ndarray:
        """Score of cutting before token i (i = 0..n): boundary kind, or mid-word / mid-character."""
        score = np.full(self.n + 1, _WORD_CUT, dtype=np.int8)
        if self.n > 1:
            prev, nxt = flags[:-1], flags[1:]
            spaced = ((prev & _TRAIL_WS) | (nxt & _LEAD_WS)) != 0
            inner = np.full(self.n - 1, _MID_WORD, dtype=np.int8)
            inner[spaced] = _WORD_CUT
            inner[(prev & _LINE) != 0] = _LINE_CUT
            inner[(((prev & _SENT) != 0) & spaced) | ((prev & _SENT_CJK) != 0)] = _SENT_CUT
            inner[(prev & _PARA) != 0] = _PARA_CUT
            score[1:-1] = inner
        score[: self.n][self.continuation[self.offsets[: self.n]]] = _MID_CHAR
        return score

    def _latest(self, low: int, high: int, minimum: int) -> int | None:
        """The last cut in [low, high] scoring at least ``minimum``, if any."""
        hits = np.flatnonzero(self.score[low : high + 1] >= minimum)
        return low + int(hits[-1]) if hits.size else None

    def end(self, start: int, size: int, overlap: int) -> int:
        """Where the chunk starting at token ``start`` ends (exclusive), at most ``size`` tokens on."""
        limit = min(start + size, self.n)
        if limit == self.n:
            return limit
        floor = start + overlap + 1  # keep the next start ahead of this one
        low = max(floor, start + math.ceil(size * (1 - BACKOFF_SHARE)))
        if low <= limit and (best := int(self.score[low : limit + 1].max())) > _WORD_CUT:
            return low + _last_index(self.score[low : limit + 1], best)
        near = max(floor, limit - WORD_BACKOFF_TOKENS)
        for cut in (self._latest(near, limit, _WORD_CUT), self._latest(floor, limit, _MID_WORD)):
            if cut is not None:
                return cut
        return limit  # not one whole character in reach: text() snaps the bytes back to one

    def next_start(self, start: int, end: int, overlap: int) -> int:
        """The next chunk's first token: ``overlap`` tokens back, moved a little further to a word start."""
        if not overlap:
            return max(end, start + 1)
        target = max(end - overlap, start + 1)
        near = max(start + 1, target - WORD_BACKOFF_TOKENS)
        for cut in (self._latest(near, target, _WORD_CUT), self._latest(start + 1, target, _MID_WORD)):
            if cut is not None:
                return cut
        ahead = np.flatnonzero(self.score[target : end + 1] > _MID_CHAR)  # less overlap, whole characters
        return target + int(ahead[0]) if ahead.size else target

    def _snap(self, offset: int) -> int:
        while offset < len(self.data) and self.continuation[offset]:
            offset -= 1
        return offset

    def span(self, start: int, end: int) -> tuple[str, int, int]:
        """The text of tokens [start, end) and its char offsets in the document."""
        begin, stop = self._snap(int(self.offsets[start])), self._snap(int(self.offsets[end]))
        return self.data[begin:stop].decode("utf-8"), int(self.char_at[begin]), int(self.char_at[stop])

    def count(self, text: str) -> int:
        return len(self.enc.encode_ordinary(text))


@dataclass(frozen=True)
class Chunk:
    text: str
    n_tokens: int
    start: int  # char offsets in the text it was cut from
    end: int


def chunk_spans(text: str, size: int, overlap: int, tokenizer: Tokenizer) -> list[Chunk]:
    """Cut one text into chunks of at most ``size`` tokens, with their char offsets."""
    _validate(size, overlap)
    if not text:
        return []
    cutter = _Cutter(text, _token_table(tokenizer.name))
    chunks: list[Chunk] = []
    start = 0
    while start < cutter.n:
        end = cutter.end(start, size, overlap)
        piece, first, last = cutter.span(start, end)
        n_tokens = cutter.count(piece)
        while n_tokens > size and end > start + 1:  # re-encoding a slice can merge differently: trim
            end -= 1
            piece, first, last = cutter.span(start, end)
            n_tokens = cutter.count(piece)
        if piece.strip():
            chunks.append(Chunk(piece, n_tokens, first, last))
        if end >= cutter.n:
            break
        start = cutter.next_start(start, end, overlap)
    return chunks


def chunk_text(text: str, size: int, overlap: int, tokenizer: Tokenizer) -> list[tuple[str, int]]:
    """Cut one text into (chunk text, exact token count) pairs of at most ``size`` tokens."""
    return [(c.text, c.n_tokens) for c in chunk_spans(text, size, overlap, tokenizer)]


def section_chunks(document: Document, size: int, overlap: int, tokenizer: Tokenizer) -> list[Chunk]:
    """Chunks that follow the document's structure: a chunk never crosses a page (so a citation names one
    page), and starts at a section heading where it can: whole sections are packed together while they
    fit in ``size`` tokens; a longer section is cut like any text (with ``overlap``)."""
    text = document.text
    pages = sorted({0, *(p for p in document.page_starts if 0 < p < len(text)), len(text)})
    chunks: list[Chunk] = []
    for page_start, page_end in itertools.pairwise(pages):
        sections = (s for s in document.section_starts if page_start < s < page_end)
        bounds = sorted({page_start, *sections, page_end})
        chunks += _pack(text, bounds, size, overlap, tokenizer)
    return [c for c in chunks if c.text.strip()]


def _pack(text: str, bounds: list[int], size: int, overlap: int, tokenizer: Tokenizer) -> list[Chunk]:
    """The spans between ``bounds``, packed while they fit in ``size`` tokens; a longer one is cut."""
    chunks: list[Chunk] = []
    begin = end = bounds[0]  # the spans packed so far: text[begin:end]
    for low, high in itertools.pairwise(bounds):
        if end > begin and tokenizer.count(text[begin:high]) <= size:
            end = high
            continue
        if end > begin:
            chunks.append(_whole(text, begin, end, tokenizer))
        begin, end = low, high
        if tokenizer.count(text[low:high]) > size:  # one long span: cut it, then start afresh
            chunks += [
                Chunk(c.text, c.n_tokens, c.start + low, c.end + low)
                for c in chunk_spans(text[low:high], size, overlap, tokenizer)
            ]
            begin = end = high
    if end > begin:
        chunks.append(_whole(text, begin, end, tokenizer))
    return chunks


def _whole(text: str, begin: int, end: int, tokenizer: Tokenizer) -> Chunk:
    piece = text[begin:end]
    return Chunk(piece, tokenizer.count(piece), begin, end)


def chunk_documents(
    documents: list[Document], size: int, overlap: int, tokenizer: Tokenizer, *, by_section: bool = False
) -> list[TextUnit]:
    """Text units of every document, in document order; sets each ``Document.text_unit_ids`` in place.

    With ``by_section``, documents that have pages (PDF, PPTX) are cut at every page, and documents that
    have sections (Markdown, HTML, DOCX, PPTX headings) at headings where they can
    (:func:`section_chunks`). Each unit keeps its char span, pages and section. Ids are
    ``ids.text_unit_id(document id, chunk index, text)``, so the same documents and settings give the same
    ids on every run. Raises ConfigError naming ``chunks.overlap`` when overlap >= size.
    """
    _validate(size, overlap)
    units: list[TextUnit] = []
    for doc in documents:
        doc.text_unit_ids = []
        if by_section and (doc.section_starts or doc.page_starts):
            chunks = section_chunks(doc, size, overlap, tokenizer)
        else:
            chunks = chunk_spans(doc.text, size, overlap, tokenizer)
        for index, chunk in enumerate(chunks):
            unit = TextUnit(
                ids.text_unit_id(doc.id, index, chunk.text),
                doc.id,
                index,
                chunk.text,
                chunk.n_tokens,
                start_char=chunk.start,
                end_char=chunk.end,
                page_start=doc.page_at(chunk.start),
                page_end=doc.page_at(max(chunk.start, chunk.end - 1)),
                section=doc.section_at(chunk.start),
            )
            doc.text_unit_ids.append(unit.id)
            units.append(unit)
    return units


def _last_index(values: np.ndarray, wanted: int) -> int:
    return int(np.flatnonzero(values == wanted)[-1])
