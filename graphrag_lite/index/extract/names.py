"""Entity names: the matching key, the title words, and the one alias resolver both extractors use.

:func:`name_key` is the key a name is *found* by (in a question, in a table): upper-case words, punctuation
dropped ("Tiny Tim's" -> "TINY TIM S"). Entities *merge* on :func:`graphrag_lite.store.ids.normalize_title`
instead, which keeps punctuation, because ids are made from it.

Alias resolution ("Holmes" and "Mr. Holmes" -> "Sherlock Holmes") is deliberately conservative. A short name
merges into a longer one only when all of these hold, and every decision (merged or refused) is returned
with its reason so a user can see why two nodes are one:

- the short name may be a person (typed as one, or untyped) and the longer one looks like a personal name
  (no "of", "and", "the": "Ghost of Jacob Marley" and "Scrooge and Marley" are never targets);
- the short name's core words (without title words such as "Mr." or "Old") are a contiguous run of the
  longer name's core words, or the short name is the bare form of itself ("Mr. Scrooge" -> "Scrooge");
- title words do not conflict ("Mrs. Cratchit" never merges into a name without a female title, because
  "Mrs. X" usually names the wife of "X");
- exactly one target remains (after following targets that are themselves aliases): "Holmes" with both
  "Sherlock Holmes" and "Mycroft Holmes" stays separate;
- the two share a text unit (counting those of aliases already merged into the longer name), so the text
  itself puts them side by side.

The two extractors see names differently, so :class:`AliasRules` holds the few rules where they differ (see
:data:`LLM_RULES` and :data:`SPACY_RULES`): an LLM writes clean, typed titles with their honorifics; spaCy
keys already drop "Mr." (so only one-word names are aliases there), and with small text units a full name
used earlier in the same document must count as "side by side" ("Ebenezer Scrooge" in chapter one).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

_WORD = re.compile(r"[^\W_]+")
_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|&")
_PLAIN_WORD = re.compile(r"^[^\W\d_]+(?:[-'][^\W\d_]+)*$")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


HONORIFICS = _words(
    "MR MRS MISS MS MX DR SIR LADY LORD DAME MADAM MADAME MME MLLE MISTER MASTER PROF PROFESSOR REV REVEREND "
    "CAPT CAPTAIN COL COLONEL MAJOR LT SGT"
)
FEMALE_TITLES = _words("MRS MISS MS LADY DAME MADAM MADAME MME MLLE")
MALE_TITLES = _words("MR MISTER MASTER SIR LORD")
DESCRIPTIVE_PREFIXES = _words("OLD YOUNG LITTLE TINY")
CONNECTORS = _words("OF AND THE & FOR IN AT ON TO WITH FROM BY")
# spaCy names: a person's key drops these ("Mr. Scrooge" is "Scrooge") ...
ALIAS_TITLES = _words(
    "mr mister sir dr doctor prof professor rev reverend capt captain col colonel gen general lord master "
    "uncle old young"
)
# ... but keeps these: in English prose "Mrs. Cratchit" is the wife, not an alias of "Bob Cratchit"
NAME_TITLES = _words("mrs miss ms madam madame mme mlle lady dame aunt")
_LLM_PREFIXES = HONORIFICS | DESCRIPTIVE_PREFIXES
_KEPT_TITLES = frozenset(t.upper() for t in NAME_TITLES)
PERSON_TYPE_WORDS = ("person", "people", "character", "human", "individual")
UNKNOWN_TYPE = "unknown"


def name_key(text: str) -> str:
    """The matching key of a name or phrase: upper-case words joined by single spaces."""
    return " ".join(_WORD.findall(text.upper()))


def is_person_type(entity_type: str) -> bool:
    return any(word in entity_type for word in PERSON_TYPE_WORDS)


@dataclass(frozen=True)
class NameShape:
    """A name split into leading prefixes (titles, "Old") and the core name words, upper-cased."""

    prefixes: tuple[str, ...]
    core: tuple[str, ...]
    connectors: frozenset[str] = CONNECTORS

    @property
    def honorifics(self) -> tuple[str, ...]:
        return tuple(p for p in self.prefixes if p in HONORIFICS)

    @property
    def gender(self) -> str | None:
        if any(p in FEMALE_TITLES for p in self.prefixes):
            return "female"
        if any(p in MALE_TITLES for p in self.prefixes):
            return "male"
        return None

    @property
    def name_like(self) -> bool:
        return bool(self.core) and not any(t in self.connectors for t in self.core)


def _split(tokens: list[str], prefixes: frozenset[str], connectors: frozenset[str]) -> NameShape:
    taken: list[str] = []
    while len(tokens) > 1 and tokens[0] in prefixes:
        taken.append(tokens.pop(0))
    return NameShape(tuple(taken), tuple(tokens), connectors)


def name_shape(key: str) -> NameShape:
    """An LLM title (normalised) split into honorifics / descriptive prefixes and core words."""
    return _split([t.upper() for t in _TOKEN.findall(key)], _LLM_PREFIXES, CONNECTORS)


def spacy_name_shape(key: str) -> NameShape:
    """A spaCy merge key (words split on spaces) split into a keeping title ("MRS") and core words."""
    return _split(key.upper().split(), _KEPT_TITLES, frozenset())


@dataclass(frozen=True)
class AliasRules:
    """Where the two extractors' names differ (see the module notes)."""

    shape: Callable[[str], NameShape]
    titled: bool = True  # names with title prefixes take part
    untyped_aliases: bool = True  # an untyped name may be an alias (else only persons)
    one_word_aliases: bool = False  # only one-word names are aliases
    full_name_words: tuple[int, int] | None = None  # (min, max) core words of a full name
    edges_only: bool = False  # an alias is a full name's first or last word, not a middle one
    introduced: bool = False  # a full name first seen earlier in a document holding both counts as together


LLM_RULES = AliasRules(shape=name_shape)
SPACY_RULES = AliasRules(
    shape=spacy_name_shape,
    titled=False,
    untyped_aliases=False,
    one_word_aliases=True,
    full_name_words=(2, 3),
    edges_only=True,
    introduced=True,
)


@dataclass
class AliasCandidate:
    """What the resolver needs to know about one group of mentions that merge on their key."""

    key: str
    display: str
    type: str  # majority type; "unknown" when untyped
    text_unit_ids: set[str]
    first_unit: dict[str, int] = field(default_factory=dict)  # document id -> its first unit index there


@dataclass
class AliasDecision:
    """Why ``alias`` was (``merged``) or was not merged into ``canonical``."""

    alias: str
    canonical: str
    reason: str
    merged: bool = True


def _gender_compatible(short: NameShape, long: NameShape) -> bool:
    if short.gender == "female":
        return long.gender == "female"
    if short.gender == "male":
        return long.gender != "female"
    return True


def _contains_run(short: tuple[str, ...], long: tuple[str, ...], edges_only: bool) -> bool:
    n = len(short)
    if edges_only:
        return long[:n] == short or long[-n:] == short
    return any(long[i : i + n] == short for i in range(len(long) - n + 1))


class _AliasResolver:
    """Union of short person names into longer ones; see the module notes for the rules."""

    def __init__(self, candidates: Iterable[AliasCandidate], rules: AliasRules) -> None:
        self.rules = rules
        self.groups = {c.key: c for c in candidates}
        self.shapes = {key: rules.shape(key) for key in self.groups}
        self.by_token: dict[str, list[str]] = {}
        for key, shape in self.shapes.items():
            if self._full_name(key):
                for token in set(shape.core):
                    self.by_token.setdefault(token, []).append(key)
        self.parent: dict[str, str] = {}
        # text units of each canonical name grow as aliases merge into it
        self.units = {key: set(group.text_unit_ids) for key, group in self.groups.items()}
        self.decisions: list[AliasDecision] = []

    def root(self, key: str) -> str:
        while key in self.parent:
            key = self.parent[key]
        return key

    def _typed(self, key: str, untyped: bool) -> bool:
        entity_type = self.groups[key].type
        return is_person_type(entity_type) or (untyped and entity_type == UNKNOWN_TYPE)

    def _person_like(self, key: str) -> bool:
        group = self.groups[key]
        return is_person_type(group.type) or (
            group.type == UNKNOWN_TYPE and bool(self.shapes[key].honorifics)
        )

    def _full_name(self, key: str) -> bool:
        shape, rules = self.shapes[key], self.rules
        if not shape.name_like or not self._typed(key, True) or (shape.prefixes and not rules.titled):
            return False
        if rules.full_name_words is None:
            return True
        low, high = rules.full_name_words
        return (
            low <= len(shape.core) <= high
            and len(set(shape.core)) == len(shape.core)
            and all(_PLAIN_WORD.match(word) for word in shape.core)
        )

    def is_alias(self, key: str) -> bool:
        shape, rules = self.shapes[key], self.rules
        if not shape.name_like or not self._typed(key, rules.untyped_aliases):
            return False
        if shape.prefixes and not rules.titled:
            return False
        return not rules.one_word_aliases or len(shape.core) == 1

    def _relation(self, short: NameShape, long: NameShape) -> str | None:
        """How ``short`` can name the same person as ``long``; None when it cannot."""
        if len(long.core) > len(short.core) and _contains_run(short.core, long.core, self.rules.edges_only):
            return "last name" if short.core == long.core[-1:] else "part"
        if short.core == long.core and short.prefixes and not long.prefixes:
            return "bare form"
        return None

    def _targets(self, key: str) -> tuple[dict[str, str], list[str]]:
        """(candidate key -> relation, names refused because the titles conflict)."""
        shape = self.shapes[key]
        targets: dict[str, str] = {}
        blocked: list[str] = []
        for other in sorted(self.by_token.get(shape.core[0], [])):
            other_shape = self.shapes[other]
            if other == key or not (self._person_like(key) or self._person_like(other)):
                continue
            relation = self._relation(shape, other_shape)
            if relation is None:
                continue
            if _gender_compatible(shape, other_shape):
                targets[other] = relation
            else:
                blocked.append(self.groups[other].display)
        bare = [t for t, rel in targets.items() if rel == "bare form"]
        if bare:  # "Mr. Scrooge" is first of all "Scrooge": follow the bare form wherever it went
            targets = {t: "bare form" for t in bare}
        return targets, blocked

    def _introduced(self, key: str, canonical: str) -> bool:
        """The full name is first seen no later than ``key`` in some document holding both."""
        full, short = self.groups[canonical].first_unit, self.groups[key].first_unit
        return any(full[d] <= short[d] for d in full.keys() & short.keys())

    def _refuse(self, key: str, canonical: str, reason: str) -> None:
        self.decisions.append(AliasDecision(self.groups[key].display, canonical, reason, merged=False))

    def resolve(self, key: str) -> None:
        targets, blocked = self._targets(key)
        if not targets:
            if blocked:
                gender = self.shapes[key].gender
                self._refuse(key, "", f"kept separate: its {gender} title does not fit {', '.join(blocked)}")
            return
        roots = sorted({self.root(t) for t in targets} - {key})
        if len(roots) != 1:
            names = ", ".join(self.groups[r].display for r in roots)
            self._refuse(key, "", f"kept separate: it could name {len(roots)} different people ({names})")
            return
        canonical = roots[0]
        shared = {t: len(self.units[key] & self.units[self.root(t)]) for t in targets}
        via = max(sorted(shared), key=lambda t: shared[t])
        if shared[via] == 0 and not (self.rules.introduced and self._introduced(key, canonical)):
            why = "the two never appear in the same text unit"
            if self.rules.introduced:
                why = "the full name only appears after it, never with it"
            self._refuse(key, self.groups[canonical].display, f"kept separate: {why}")
            return
        self.parent[key] = canonical
        self.units[canonical] |= self.units[key]
        alias, canonical_display = self.groups[key].display, self.groups[canonical].display
        reason = _reason(alias, self.groups[via].display, canonical_display, targets[via], shared[via])
        self.decisions.append(AliasDecision(alias, canonical_display, reason))


def resolve_aliases(
    candidates: Iterable[AliasCandidate], rules: AliasRules = LLM_RULES
) -> tuple[dict[str, str], list[AliasDecision]]:
    """Map alias key -> canonical key for the aliases found, with a decision for each examined short name.

    Longer names are resolved first, so a target that is itself an alias is followed to its canonical name
    ("Mr. Scrooge" -> "Scrooge" -> "Ebenezer Scrooge"). Co-occurrence is checked against the canonical
    name's text units, which include those of the aliases already merged into it.
    """
    resolver = _AliasResolver(candidates, rules)
    shapes = resolver.shapes
    for key in sorted(shapes, key=lambda k: (-len(shapes[k].core), bool(shapes[k].prefixes), k)):
        if resolver.is_alias(key):
            resolver.resolve(key)
    return {key: resolver.root(key) for key in resolver.parent}, resolver.decisions


def _reason(alias: str, via: str, canonical: str, relation: str, shared: int) -> str:
    what = {
        "last name": f"'{alias}' is the last name of '{via}'",
        "part": f"'{alias}' is part of the name '{via}'",
        "bare form": f"'{alias}' is '{via}' with a title or prefix",
    }[relation]
    chain = "" if via == canonical else f", itself an alias of '{canonical}'"
    together = (
        f"they share {shared} text unit{'s' * (shared != 1)}" if shared else "the full name comes first"
    )
    return f"{what}{chain}; the only person name it can refer to; {together}"
