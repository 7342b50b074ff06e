"""Find entity names and aliases inside a question, on word boundaries, without scanning every title.

Titles, aliases and the question are reduced to the index's name key (upper-case words, punctuation
dropped: "Tiny Tim's" -> "TINY TIM S"), and the question's word n-grams are looked up in a dict. The
longest match wins where matches overlap, so "Tiny Tim" does not also match a separate entity "Tim".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from graphrag_lite.index.extract.names import name_key

_WORD = re.compile(r"[^\W_]+")
MAX_NAME_WORDS = 8

# Keys made only of these words say nothing about which entity is meant ("THE", "HE", "IT").
_STOPWORD_TEXT = """
    A AN AND ANY ARE AS AT BE BUT BY CAN DID DO DOES FOR FROM HAD HAS HAVE HE HER HERS HIM HIS HOW I IF IN
    INTO IS IT ITS ME MY NO NOT OF ON OR OUR S SHE SO THAT THE THEIR THEM THEN THERE THESE THEY THIS THOSE TO
    US WAS WE WERE WHAT WHEN WHERE WHICH WHO WHOM WHOSE WHY WILL WITH YOU YOUR"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def is_informative(key: str) -> bool:
    """False for keys too short or made only of stopwords; they would match almost any question."""
    words = key.split()
    if not words or all(word in STOPWORDS for word in words):
        return False
    return not (len(words) == 1 and len(words[0]) < 3 and not words[0].isdigit())


@dataclass(frozen=True)
class NameMatch:
    entity_id: str
    key: str  # the matched key (title or alias)
    start: int  # word offsets in the question
    end: int


class EntityNameIndex:
    """Entity ids by the key of their title and of each alias."""

    def __init__(self) -> None:
        self._ids: dict[str, list[str]] = {}
        self._max_words = 1

    def add(self, entity_id: str, names: Iterable[str]) -> None:
        for name in names:
            key = name_key(name)
            if not is_informative(key):
                continue
            ids = self._ids.setdefault(key, [])
            if entity_id not in ids:
                ids.append(entity_id)
            self._max_words = max(self._max_words, min(MAX_NAME_WORDS, key.count(" ") + 1))

    def lookup(self, name: str) -> list[str]:
        """Entity ids whose title or alias has exactly this key."""
        return list(self._ids.get(name_key(name), []))

    def find_in(self, text: str) -> list[NameMatch]:
        """Names occurring in ``text``: longest first, overlapping shorter matches dropped."""
        words = _WORD.findall(text.upper())
        candidates: list[NameMatch] = []
        for size in range(min(self._max_words, len(words)), 0, -1):
            for start in range(len(words) - size + 1):
                key = " ".join(words[start : start + size])
                for entity_id in self._ids.get(key, []):
                    candidates.append(NameMatch(entity_id, key, start, start + size))
        taken: list[NameMatch] = []
        for match in candidates:  # already longest first
            overlaps = any(m.start < match.end and match.start < m.end and m.key != match.key for m in taken)
            if not overlaps and all(m.entity_id != match.entity_id for m in taken):
                taken.append(match)
        return taken
