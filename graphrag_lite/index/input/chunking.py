"""Cut documents into token chunks (text units) that never cross a document and never exceed ``size`` tokens.

Each document is encoded once. Cuts fall on token boundaries; near the token limit a cut backs off to the
last paragraph break, sentence end or line break within the final 15% of the window (cheap: a few tokens
of context for a much cleaner unit), else to a word boundary in the last few tokens. A cut never lands
inside a multi-byte character (emoji, CJK), so chunk text is always clean UTF-8, and ``n_tokens`` is the
exact token count of the chunk's text.
"""

from __future__ import annotations

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

    def text(self, start: int, end: int) -> str:
        begin, stop = self._snap(int(self.offsets[start])), self._snap(int(self.offsets[end]))
        return self.data[begin:stop].decode("utf-8")

    def count(self, text: str) -> int:
        return len(self.enc.encode_ordinary(text))


def chunk_text(text: str, size: int, overlap: int, tokenizer: Tokenizer) -> list[tuple[str, int]]:
    """Cut one text into (chunk text, exact token count) pairs of at most ``size`` tokens."""
    _validate(size, overlap)
    if not text:
        return []
    cutter = _Cutter(text, _token_table(tokenizer.name))
    chunks: list[tuple[str, int]] = []
    start = 0
    while start < cutter.n:
        end = cutter.end(start, size, overlap)
        piece = cutter.text(start, end)
        n_tokens = cutter.count(piece)
        while n_tokens > size and end > start + 1:  # re-encoding a slice can merge differently: trim
            end -= 1
            piece = cutter.text(start, end)
            n_tokens = cutter.count(piece)
        if piece.strip():
            chunks.append((piece, n_tokens))
        if end >= cutter.n:
            break
        start = cutter.next_start(start, end, overlap)
    return chunks


def chunk_documents(
    documents: list[Document], size: int, overlap: int, tokenizer: Tokenizer
) -> list[TextUnit]:
    """Text units of every document, in document order; sets each ``Document.text_unit_ids`` in place.

    Ids are ``ids.text_unit_id(document id, chunk index, text)``, so the same documents and settings give
    the same ids on every run. Raises ConfigError naming ``chunks.overlap`` when overlap >= size.
    """
    _validate(size, overlap)
    units: list[TextUnit] = []
    for doc in documents:
        doc.text_unit_ids = []
        for index, (piece, n_tokens) in enumerate(chunk_text(doc.text, size, overlap, tokenizer)):
            unit = TextUnit(ids.text_unit_id(doc.id, index, piece), doc.id, index, piece, n_tokens)
            doc.text_unit_ids.append(unit.id)
            units.append(unit)
    return units


def _last_index(values: np.ndarray, wanted: int) -> int:
    return int(np.flatnonzero(values == wanted)[-1])
