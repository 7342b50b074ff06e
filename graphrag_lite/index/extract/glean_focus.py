"""What a gleaning round re-sends: only the sentences that name something the found list lacks.

A gleaning round asks the model for what its first pass missed. Sending the whole text unit again costs as
much text as the first pass: on the Christmas Carol over the test server, 1,197 prompt tokens per 1,000
text tokens, 46% of all extraction tokens. What a first pass misses is mostly named (people, places,
organisations, events), and spaCy finds names offline with the rules of the fast method's extractor (NER
labels, capitalised phrases, proper-noun chunks). So before a round, the unit's names are compared with the
found list: only the sentences holding a name the list lacks go out, with those names, and with none the
round is not sent at all (``extraction.gleaning_scope: names``, the default; ``unit`` sends the whole text).
Entity types that need not be names ("technology", "concept") always get the whole text.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from graphrag_lite.config.settings import GleaningScope
from graphrag_lite.index.extract.names import ALIAS_TITLES
from graphrag_lite.index.extract.nlp import LABEL_TYPES, PHRASE_TYPE, prepare_text, sentence_names
from graphrag_lite.index.extract.spacy_model import load_spacy

SKIPPED = "…"  # stands where sentences were left out between two that are sent
_UNTYPED = ("", PHRASE_TYPE)  # a proper name or capitalised phrase NER gave no type: the model decides
_KNOWN_TYPES = frozenset(LABEL_TYPES.values())
_FILLER = frozenset(ALIAS_TITLES | {"the", "of", "and", "s"})
_WORD = re.compile(r"[^\W_]+")
_nlp_lock = threading.Lock()  # one spaCy pipeline per process, called from worker threads


def name_words(name: str) -> frozenset[str]:
    """The words that identify a name: "Mr. Scrooge's" -> {"scrooge"}; titles such as "Mrs." stay."""
    return frozenset(w for w in _WORD.findall(name.casefold()) if w not in _FILLER)


@dataclass(frozen=True)
class UnitNames:
    """A text unit's sentences (hard line breaks unwrapped), the paragraph and candidate names of each."""

    sentences: tuple[str, ...]
    names: tuple[tuple[str, ...], ...]
    paragraphs: tuple[int, ...]


@dataclass(frozen=True)
class Focus:
    """What one gleaning round sends: the sentences with missed names, and those names."""

    text: str
    names: tuple[str, ...]


def gleaning_scope(scope: GleaningScope, entity_types: Sequence[str]) -> GleaningScope:
    """The scope gleaning really uses: ``names`` only when every entity type asked for is one NER names
    (a "technology" or a "concept" is often not a name, so the whole unit is read again for it)."""
    return scope if {t.strip().lower() for t in entity_types if t.strip()} <= _KNOWN_TYPES else "unit"


def _wanted(entity_type: str, types: frozenset[str]) -> bool:
    return entity_type in types or entity_type in _UNTYPED


def find_names(text: str, entity_types: Sequence[str]) -> UnitNames:
    """Sentence by sentence, the names that could be entities of ``entity_types``.

    Named days ("Christmas Eve", which NER labels a date) count when events are asked for."""
    types = frozenset(t.lower() for t in entity_types)
    paragraphs = prepare_text(text).split("\n\n")  # lines unwrapped; a caption never runs on
    with _nlp_lock:
        docs = list(load_spacy().pipe(paragraphs))
    sentences: list[str] = []
    names: list[tuple[str, ...]] = []
    paragraph_of: list[int] = []
    for paragraph, sent in ((p, sent) for p, doc in enumerate(docs) for sent in doc.sents):
        written = sent.text.strip()
        if not written:
            continue
        found = [m.form for m in sentence_names(sent) if _wanted(m.type, types)]
        if "event" in types:
            found += [
                ent.text
                for ent in sent.ents
                if ent.label_ == "DATE" and all(w.isalpha() and w.istitle() for w in ent.text.split())
            ]
        sentences.append(written)
        names.append(tuple(dict.fromkeys(found)))
        paragraph_of.append(paragraph)
    return UnitNames(tuple(sentences), tuple(names), tuple(paragraph_of))


def focus(unit: UnitNames, found_titles: Iterable[str]) -> Focus | None:
    """The sentences naming something no found title covers, or None when every name is covered.

    A name is covered by a title holding all its words ("Scrooge" by "Ebenezer Scrooge"); the other way
    round it is not ("Ghost of Christmas Past" is not covered by "Christmas")."""
    known = [name_words(t) for t in found_titles]
    picked: list[int] = []
    missed: dict[str, None] = {}
    for i, names in enumerate(unit.names):
        new = [n for n in names if (words := name_words(n)) and not any(words <= k for k in known)]
        if new:
            picked.append(i)
            missed.update(dict.fromkeys(new))
    if not picked:
        return None
    return Focus(_excerpt(unit, picked), tuple(missed))


def _excerpt(unit: UnitNames, picked: list[int]) -> str:
    """The picked sentences as the text has them: a space within a paragraph, a blank line between
    paragraphs, and a line holding only "…" where sentences were left out."""
    gap = f"\n\n{SKIPPED}\n\n"
    parts = [f"{SKIPPED}\n\n" if picked[0] > 0 else ""]
    for previous, i in zip([-1, *picked], picked, strict=False):
        if previous >= 0:
            same_paragraph = unit.paragraphs[i] == unit.paragraphs[previous]
            parts.append(gap if i > previous + 1 else " " if same_paragraph else "\n\n")
        parts.append(unit.sentences[i])
    if picked[-1] < len(unit.sentences) - 1:
        parts.append(f"\n\n{SKIPPED}")
    return "".join(parts)
