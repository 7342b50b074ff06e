"""Token counting and cutting that works offline (quicktok ships cl100k and o200k; same ids as tiktoken)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=4)
def _encoding(name: str) -> Any:
    import quicktok

    return quicktok.get_encoding(name)


class Tokenizer:
    """Encode, decode and count tokens with one named BPE encoding."""

    def __init__(self, encoding: str = "cl100k_base") -> None:
        self.name = encoding
        self._enc = _encoding(encoding)

    def encode(self, text: str) -> list[int]:
        # encode_ordinary: special-token strings such as "<|endoftext|>" in a document are plain text.
        return list(self._enc.encode_ordinary(text))

    def decode(self, ids: list[int]) -> str:
        return str(self._enc.decode(ids))

    def count(self, text: str) -> int:
        return len(self._enc.encode_ordinary(text)) if text else 0

    def truncate(self, text: str, max_tokens: int) -> str:
        ids = self.encode(text)
        return text if len(ids) <= max_tokens else self.decode(ids[:max_tokens])


@lru_cache(maxsize=4)
def get_tokenizer(encoding: str = "cl100k_base") -> Tokenizer:
    return Tokenizer(encoding)


def count_tokens(text: str, encoding: str = "cl100k_base") -> int:
    return get_tokenizer(encoding).count(text)
