"""Offline graph extraction with spaCy: named entities and salient noun phrases as nodes, co-occurrence edges.

Nodes
  * Named entities (spaCy NER) typed person / organization / geo / event; WORK_OF_ART, LAW and PRODUCT keep
    their lower-cased label, LANGUAGE becomes "other"; dates, times and numbers are skipped.
  * Capitalised phrases joined by "of" / "to" ("Ghost of Christmas Yet to Come", "Bank of England") that
    NER misses or cuts up; typed "other".
  * Noun chunks made only of proper nouns that NER missed ("Fred", "Sherlock Holmes"); they take the type
    NER gives the same name elsewhere, else "other" ("person" after "Mr." / "Mrs." ...). These three kinds
    are the *named* nodes.
  * Salient noun phrases (``noun_chunks`` without leading determiners / pronouns, head lemmatised, at most
    four words): per text unit the ``nlp.max_noun_phrases_per_unit`` with the highest TF-IDF (uses in the
    unit x rarity across units, so "hand" does not crowd out "counting-house"); typed "concept". A phrase
    equal to a named entity's name counts for that entity.

Names are normalised for merging: case-folded, possessive "'s" dropped, determiners and edge punctuation
stripped, whitespace collapsed. For persons, "Mr." / "Sir" / "Dr." / "Old" ... are dropped into an alias
("Mr. Scrooge" -> "Scrooge"), while "Mrs." / "Miss" / "Lady" ... stay part of a one-word name ("Mrs.
Cratchit" is her own node: in English prose she is the wife, not an alias of "Bob Cratchit").

Aliases (persons only, conservative; :mod:`graphrag_lite.index.extract.names`, ``SPACY_RULES``): a one-word
name merges into the single two- or three-word person name that ends or starts with it ("Scrooge" and
"Ebenezer" -> "Ebenezer Scrooge"; "Bob" -> "Bob Cratchit"), when the two share a text unit or the full name
comes first in a document holding both. If two full names share the word ("Cratchit": "Bob Cratchit",
"Peter Cratchit") the short name stays its own node and the decision is reported as ambiguous: merging
would pour one person's evidence into another's.
Title of a merged entity = the most frequent of its longest forms (the full name, here "Ebenezer Scrooge");
every other form is kept in ``aliases``. Every decision is listed in ``stats["alias_decisions"]``.

Edges: two entities mentioned in the same sentence (or within ``nlp.cooccurrence_window`` following
sentences) of a text unit. A *window* is a sentence plus those following ones; every sentence starts one.
``description`` = a template with the number n of windows the two share plus the most focused evidence
sentence (both names in one sentence, fewest other entities).

``weight`` (``nlp.edge_weighting``): with ``count`` it is n. Raw counts favour hubs: the protagonist shares a
window with nearly every entity, so most of his edges count 1 like every other pair seen once, and his
frequent pairs outweigh everything, which pulls most of the graph into his community. With ``npmi`` (the
default) the count is scaled by how much more often the two meet than chance, measured over the same
windows (N windows in all text units, n_a of them naming a, n_ab = n naming both)::

    NPMI = ln(p_ab / (p_a p_b)) / -ln(p_ab)        p_x = n_x / N, in (-1, 1]; 1 when p_ab = 1
    weight = n x (1 + NPMI) / 2                      rounded to 6 decimals

So a pair that only ever meets keeps weight n, a pair meeting as often as chance predicts gets n / 2 (a
hub is mentioned so often that meeting it once is about chance), a pair meeting less often gets less, and
no weight reaches 0 (the pair did co-occur). On A Christmas Carol Scrooge's single co-occurrences weighed
0.42-0.61 (measured with the licence frame indexed), while a pair of names mentioned only together weighs 1.
Why this form: plain (N)PMI ignores the evidence - two names seen once, together, score the maximum - and
plain PMI is unbounded and favours rare pairs; the product keeps the count as the evidence and the
association as a factor in (0, 1], so weights stay comparable to counts (weight <= n) for the pruning
percentile, community detection and ranking. Entity ``description`` = up to three informative sentences
that mention it (length 6-45 words, most other entities, one per text unit, earliest first);
``frequency`` = distinct text units. The output order is deterministic.
"""

from __future__ import annotations

import math
import os
import re
import time
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from graphrag_lite.config.settings import NLPSettings, Settings
from graphrag_lite.index.extract.names import (
    ALIAS_TITLES,
    NAME_TITLES,
    SPACY_RULES,
    UNKNOWN_TYPE,
    AliasCandidate,
    resolve_aliases,
)
from graphrag_lite.index.extract.spacy_model import lemmatize, load_spacy, pipeline_name
from graphrag_lite.index.graph.linking import link_text_units
from graphrag_lite.index.items import ProgressCallback
from graphrag_lite.store.ids import entity_id, normalize_title, relationship_id
from graphrag_lite.store.memo import ItemMemo, memo_key
from graphrag_lite.store.records import Entity, Relationship, TextUnit
from graphrag_lite.store.tables import arrow_to_records, records_to_table

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc, Span, Token

    from graphrag_lite.index.executor import Executor

LABEL_TYPES = {
    "PERSON": "person",
    "ORG": "organization",
    "NORP": "organization",
    "GPE": "geo",
    "LOC": "geo",
    "FAC": "geo",
    "EVENT": "event",
    "WORK_OF_ART": "work_of_art",
    "LAW": "law",
    "PRODUCT": "product",
    "LANGUAGE": "other",
}  # DATE, TIME, CARDINAL, ORDINAL, QUANTITY, MONEY and PERCENT are not nodes
CONCEPT = "concept"
PHRASE_TYPE = "other"
TYPE_ORDER = ("person", "organization", "geo", "event", "work_of_art", "law", "product", "other", CONCEPT)


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


CONNECTORS = _wordset("of to the de du da van von la le del")  # inside capitalised phrases
LEADING_JUNK = frozenset({"DET", "PRON", "PUNCT", "NUM", "SPACE", "CCONJ", "ADP", "PART", "SYM", "X"})
POSSESSIVE_TAGS = frozenset({"PRP$", "WP$"})
MAX_PHRASE_WORDS = 4
DESCRIPTION_SENTENCES = 3
EVIDENCE_MAX_CHARS = 400
MAX_SENTENCE_TOKENS = 200  # the default of nlp.max_sentence_tokens
_EDGE_PUNCT = re.compile(r"^[^\w]+|[^\w.]+$")
_COMPLETE_START = re.compile(r"^[\"'‘“(\[]*[A-Z0-9]")  # a chunk edge leaves a lower-case fragment


@dataclass
class NLPResult:
    entities: list[Entity]
    relationship_table: pa.Table  # relationships table schema: run-on input makes millions of rows
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def relationships(self) -> list[Relationship]:
        """The relationships as records (for small inputs: the table is the lean form)."""
        records: list[Relationship] = arrow_to_records("relationships", self.relationship_table)
        return records


@dataclass(frozen=True)
class Mention:
    key: str  # merge key: case-folded, without possessive or alias title
    core: str  # display name without alias title ("Scrooge" for "Mr. Scrooge")
    form: str  # as written, cleaned ("Mr. Scrooge")
    type: str
    named: bool


@dataclass
class _Sentence:
    text: str
    mentions: list[Mention]
    keys: set[str] = field(default_factory=set)  # final entity keys, filled after alias resolution


def _sentences_to_memo(sentences: list[_Sentence]) -> list[list[Any]]:
    return [[s.text, [[m.key, m.core, m.form, m.type, m.named] for m in s.mentions]] for s in sentences]


def _sentences_from_memo(value: list[list[Any]]) -> list[_Sentence]:
    return [_Sentence(text, [Mention(*m) for m in mentions]) for text, mentions in value]


@dataclass
class _Group:
    named: bool = False
    cores: Counter[str] = field(default_factory=Counter)
    forms: Counter[str] = field(default_factory=Counter)
    types: Counter[str] = field(default_factory=Counter)
    units: set[int] = field(default_factory=set)
    first_unit: dict[str, int] = field(default_factory=dict)  # document id -> first unit index there

    def main_type(self) -> str:
        """The most voted type; a name NER never labelled is "other", a phrase never named is a concept."""
        if not self.types:
            return PHRASE_TYPE if self.named else CONCEPT
        return min(self.types, key=lambda t: (-self.types[t], _type_rank(t), t))


def _type_rank(entity_type: str) -> int:
    return TYPE_ORDER.index(entity_type) if entity_type in TYPE_ORDER else len(TYPE_ORDER)


# -- text and names -----------------------------------------------------------------------------------------
def prepare_text(text: str) -> str:
    """Unwrap hard line breaks inside paragraphs and drop ``_emphasis_`` markers; paragraphs stay apart."""
    paragraphs = (" ".join(p.replace("_", " ").split()) for p in re.split(r"\n\s*\n", text))
    return "\n\n".join(p for p in paragraphs if p)


def _clean_word(word: str) -> str:
    return _EDGE_PUNCT.sub("", word.replace("’", "'").replace("‘", "'"))


def name_key(form: str, is_person: bool) -> tuple[str, str]:
    """(merge key, display core) of a cleaned name: "Mr. Scrooge" -> ("scrooge", "Scrooge")."""
    words = form.split()
    if is_person:
        while len(words) >= 2:
            first = words[0].rstrip(".").lower()
            if first in ALIAS_TITLES or (first in NAME_TITLES and len(words) >= 3):
                words = words[1:]
            else:
                break
    key_words = [w.rstrip(".") if w.rstrip(".").lower() in NAME_TITLES else w for w in words]
    return " ".join(key_words).casefold(), " ".join(words)


def _span_form(tokens: list[Token]) -> str:
    """Tokens as written, without leading determiners or trailing possessives and punctuation."""
    while tokens and (tokens[0].lower_ in ("the", "a", "an") or tokens[0].is_punct or tokens[0].is_space):
        tokens = tokens[1:]
    while tokens and (
        tokens[-1].tag_ == "POS"
        or tokens[-1].is_punct
        or tokens[-1].is_space
        or tokens[-1].lower_ in ("'s", "’s")
    ):
        tokens = tokens[:-1]
    text = "".join(t.text_with_ws for t in tokens)
    return " ".join(w for w in (_clean_word(w) for w in text.split()) if w)


def _name_prefix(token: Token) -> bool:
    if token.ent_type_ and token.ent_type_ != "PERSON":
        return False
    title = token.text.rstrip(".").lower()
    return title in ALIAS_TITLES | NAME_TITLES or (
        token.pos_ == "PROPN" and token.is_title and token.is_alpha
    )


def _named_mention(ent: Span) -> tuple[Mention, range] | None:
    entity_type = LABEL_TYPES.get(ent.label_)
    if entity_type is None:
        return None
    doc, start = ent.doc, ent.start
    is_person = entity_type == "person"
    while is_person and start > max(ent.sent.start, ent.start - 2) and _name_prefix(doc[start - 1]):
        start -= 1  # spaCy often leaves "Mr." or a first name outside the PERSON span ("Sherlock [Holmes]")
    form = _span_form(list(doc[start : ent.end]))
    if not any(c.isupper() for c in form) or not any(c.isalpha() for c in form):
        return None  # lower-case NER hits ("bell", "geese") are noise; the noun-phrase path still sees them
    key, core = name_key(form, is_person)
    return Mention(key, core, form, entity_type, True), range(start, ent.end)


def _is_capitalised(token: Token) -> bool:
    return (
        token.is_title
        and token.is_alpha
        and token.tag_ not in ("PRP", "PRP$", "DT")
        and (not token.is_sent_start or token.tag_.startswith("NN"))  # "Ghost of ..." opening a line
    )


def _is_connector(token: Token, first: bool, has_of: bool) -> bool:
    """Joins capitalised words: "of", "von" ...; "the" only after another ("Bank of the West"); "to" only
    once the phrase has an "of" ("Ghost of Christmas Yet to Come", not "Scrooge to the Ghost")."""
    word = token.lower_
    if not token.is_lower or word not in CONNECTORS:
        return False
    if word == "the":
        return not first
    return word != "to" or has_of


def _capitalised_phrases(sent: Span) -> Iterable[Span]:
    """Runs of capitalised words joined by connectors ("Ghost of Christmas Past").

    At least two capitalised words and one connector, so sentence-initial words and dates such as "Christmas
    Eve" do not qualify."""
    tokens = list(sent)
    i = 0
    while i < len(tokens):
        if not _is_capitalised(tokens[i]):
            i += 1
            continue
        end, caps, joins, j = i + 1, 1, 0, i + 1
        while j < len(tokens):
            if _is_capitalised(tokens[j]):
                caps, end, j = caps + 1, j + 1, j + 1
                continue
            gap = j
            has_of = any(t.lower_ == "of" for t in tokens[i:j])
            while gap < len(tokens) and gap - j < 2 and _is_connector(tokens[gap], gap == j, has_of):
                gap += 1
            if gap > j and gap < len(tokens) and _is_capitalised(tokens[gap]):
                joins, j = joins + 1, gap
                continue
            break
        if caps >= 2 and joins >= 1:
            yield sent.doc[tokens[i].i : tokens[end - 1].i + 1]
        i = end


def _proper_name(chunk: Span) -> Mention | None:
    """A noun chunk of proper nouns only that NER missed ("Fred", "Sherlock Holmes", "Mr. Darcy").

    It is a named mention without a type vote (the group takes NER's type from other mentions, else
    "other"), except after a title such as "Mr." or "Mrs.", which makes it a person."""
    tokens = [t for t in chunk if not (t.pos_ == "DET" or t.is_punct or t.is_space)]
    if not tokens or any(t.pos_ != "PROPN" or not t.text[:1].isupper() for t in tokens):
        return None
    form = _span_form(tokens)
    if not form or not any(c.islower() for c in form):  # ALL-CAPS headings are not names
        return None
    titled = tokens[0].text.rstrip(".").lower() in ALIAS_TITLES | NAME_TITLES and len(tokens) > 1
    key, core = name_key(form, titled)
    return Mention(key, core, form, "person" if titled else "", True)


def _concept_mention(nlp: Language, chunk: Span) -> Mention | None:
    """A noun chunk as a short concept: "the old counting-houses" -> "old counting-house"."""
    tokens = list(chunk)
    for cut, token in enumerate(tokens):  # keep what follows the last comma / conjunction
        if token.is_punct or token.pos_ == "CCONJ":
            tokens = tokens[cut + 1 :] if cut + 1 < len(tokens) else []
    while tokens and (
        tokens[0].pos_ in LEADING_JUNK or tokens[0].tag_ in POSSESSIVE_TAGS or tokens[0].is_stop
    ):
        tokens = tokens[1:]
    tokens = tokens[-MAX_PHRASE_WORDS:]
    while tokens and tokens[0].tag_ == "POS":
        tokens = tokens[1:]
    root = chunk.root
    if not tokens or root not in tokens or root.is_stop or root.pos_ in ("PRON", "NUM") or not root.is_alpha:
        return None
    words: list[str] = []
    for token in tokens:
        proper = token.pos_ == "PROPN"
        text = lemmatize(nlp, token) if token == root and token.tag_ == "NNS" else token.text
        if text.isupper() and len(text) > 3:  # "curiously HEAVY cake": emphasis, not an acronym
            text = text.title() if proper else text.lower()
        word = _clean_word(text if proper else text.lower())
        if not word:
            continue
        if token.tag_ == "POS" and words:
            words[-1] += "'s"
        else:
            words.append(word)
    form = " ".join(words)
    if len(form) < 3 or not any(c.isalpha() for c in form):
        return None
    return Mention(form.casefold(), form, form, CONCEPT, False)


def _segment_start(doc: Doc, token: int, max_tokens: int) -> int:
    """The first token of the segment holding ``token``: its sentence, or the ``max_tokens`` piece of it."""
    start = doc[token].sent.start
    return start + (token - start) // max_tokens * max_tokens


def _segments(doc: Doc, max_tokens: int) -> Iterator[Span]:
    """The doc's sentences, a sentence longer than ``max_tokens`` cut into pieces of that many tokens."""
    for sent in doc.sents:
        for start in range(sent.start, sent.end, max_tokens):
            yield doc[start : min(start + max_tokens, sent.end)]


def _by_segment(doc: Doc, spans: Iterable[Span], max_tokens: int) -> dict[int, list[Span]]:
    """Spans keyed by the start token of their segment: one pass over the doc instead of one per segment."""
    grouped: dict[int, list[Span]] = {}
    for span in spans:
        grouped.setdefault(_segment_start(doc, span.start, max_tokens), []).append(span)
    return grouped


def _labelled_names(sent: Span, ents: Iterable[Span]) -> tuple[list[Mention], set[int], set[int]]:
    """The names NER labels in one segment, then its capitalised phrases; with the tokens they cover and the
    tokens of unlabelled entities (dates, numbers: never names, still fine inside a concept)."""
    mentions: list[Mention] = []
    covered: set[int] = set()
    spans: set[str] = set()
    unlabelled: set[int] = set()
    for ent in ents:
        found = _named_mention(ent)
        if found is not None:
            mentions.append(found[0])
            covered.update(found[1])
            spans.add(found[0].form)
        elif ent.label_ not in LABEL_TYPES:
            unlabelled.update(range(ent.start, ent.end))
    for phrase in _capitalised_phrases(sent):
        form = _span_form(list(phrase))
        if form and form not in spans:
            mentions.append(Mention(form.casefold(), form, form, PHRASE_TYPE, True))
            covered.update(range(phrase.start, phrase.end))
    return mentions, covered, unlabelled


def sentence_names(sent: Span) -> list[Mention]:
    """Every name of one sentence: labelled by NER, capitalised phrases, proper-noun chunks NER missed."""
    mentions, covered, unlabelled = _labelled_names(sent, sent.ents)
    for chunk in sent.noun_chunks:
        if chunk.root.i not in covered and chunk.root.i not in unlabelled:
            mention = _proper_name(chunk)
            if mention is not None:
                mentions.append(mention)
    return mentions


def analyse_doc(nlp: Language, doc: Doc, max_tokens: int = MAX_SENTENCE_TOKENS) -> list[_Sentence]:
    """The mentions of one text unit, sentence by sentence (concepts not yet capped). A sentence longer
    than ``max_tokens`` counts as several (a run-on line must not relate everything in it to everything)."""
    entities_by_sentence = _by_segment(doc, doc.ents, max_tokens)
    chunks_by_sentence = _by_segment(doc, doc.noun_chunks, max_tokens)
    sentences: list[_Sentence] = []
    for sent in _segments(doc, max_tokens):
        text = " ".join(sent.text.split())
        if not text:
            continue
        mentions, covered, unlabelled = _labelled_names(sent, entities_by_sentence.get(sent.start, []))
        for chunk in chunks_by_sentence.get(sent.start, []):
            if chunk.root.i in covered:
                continue
            mention = None if chunk.root.i in unlabelled else _proper_name(chunk)
            mention = mention or _concept_mention(nlp, chunk)
            if mention is not None:
                mentions.append(mention)
        if len(text) > EVIDENCE_MAX_CHARS:
            text = text[:EVIDENCE_MAX_CHARS].rsplit(" ", 1)[0] + " …"
        sentences.append(_Sentence(text, mentions))
    return sentences


# -- merging ------------------------------------------------------------------------------------------------
def _cap_concepts(units: list[list[_Sentence]], named_keys: set[str], per_unit: int) -> None:
    """Keep per text unit its ``per_unit`` most salient concepts.

    Salience = uses in the unit x (1 + ln((N + 1) / (units using it + 1))): frequent here, rare elsewhere,
    so "hand" or "day" do not crowd out "counting-house". Phrases used by one unit only rank last (pruning
    drops them anyway at the default ``min_frequency`` of 2); ties go A-Z.
    """
    unit_frequency: Counter[str] = Counter()
    for sentences in units:
        unit_frequency.update({m.key for s in sentences for m in s.mentions if not m.named})
    n_units = len(units)

    def salience(key: str, count: int) -> tuple[bool, float, str]:
        idf = 1.0 + math.log((n_units + 1) / (unit_frequency[key] + 1))
        return (unit_frequency[key] < 2 <= n_units, -count * idf, key)

    for sentences in units:
        counts = Counter(
            m.key for s in sentences for m in s.mentions if not m.named and m.key not in named_keys
        )
        keep = set(sorted(counts, key=lambda k: salience(k, counts[k]))[:per_unit])
        for sentence in sentences:  # a phrase that is a known name ("the Ghost") always counts
            sentence.mentions = [
                m for m in sentence.mentions if m.named or m.key in keep or m.key in named_keys
            ]


def _groups(units: list[list[_Sentence]], named_keys: set[str], documents: list[str]) -> dict[str, _Group]:
    """Mentions gathered by key; ``documents[u]`` is the document id of unit ``u``."""
    groups: dict[str, _Group] = {}
    for u, sentences in enumerate(units):
        for sentence in sentences:
            for m in sentence.mentions:
                group = groups.setdefault(m.key, _Group())
                group.units.add(u)
                group.first_unit.setdefault(documents[u], u)
                if m.named or m.key not in named_keys:  # a phrase naming an entity adds no name variant
                    group.named = group.named or m.named
                    group.cores[m.core] += 1
                    group.forms[m.form] += 1
                    if m.type:  # an unlabelled proper name does not vote
                        group.types[m.type] += 1
    return groups


def _alias_candidates(groups: dict[str, _Group]) -> list[AliasCandidate]:
    """Named groups as alias candidates: persons, and proper names NER never labelled ("unknown")."""
    return [
        AliasCandidate(
            key=key,
            display=key,
            type=UNKNOWN_TYPE if not group.types else group.main_type(),
            text_unit_ids={str(u) for u in group.units},
            first_unit=group.first_unit,
        )
        for key, group in sorted(groups.items())
        if group.named
    ]


def _merge_groups(groups: dict[str, _Group], mapping: dict[str, str]) -> dict[str, _Group]:
    merged: dict[str, _Group] = {}
    for key in sorted(groups):
        target = merged.setdefault(mapping.get(key, key), _Group())
        source = groups[key]
        target.named = target.named or source.named
        target.cores.update(source.cores)
        target.forms.update(source.forms)
        target.types.update(source.types)
        target.units |= source.units
        for document, first in source.first_unit.items():
            target.first_unit[document] = min(first, target.first_unit.get(document, first))
    return merged


def choose_title(group: _Group) -> str:
    """The most frequent of the longest names (mixed case preferred over ALL CAPS; ties A-Z)."""
    longest = max(len(core.split()) for core in group.cores)
    full = [c for c in group.cores if len(c.split()) == longest]
    return min(full, key=lambda c: (c.isupper() and len(c) > 4, -group.cores[c], c))


# -- records ------------------------------------------------------------------------------------------------
def _pick_description(rows: list[tuple[int, int]], units: list[list[_Sentence]], limit: int) -> str:
    """Up to ``limit`` sentences: whole sentences of 6-45 words first, then those naming the most other
    entities (up to 3), then the earliest; one per text unit, none contained in another (chunk overlap)."""

    def rank(row: tuple[int, int]) -> tuple[int, int, int, int]:
        sentence = units[row[0]][row[1]]
        n_words = len(sentence.text.split())
        fitting = 6 <= n_words <= 45 and _COMPLETE_START.match(sentence.text) is not None
        return (0 if fitting else 1, -min(len(sentence.keys) - 1, 3), row[0], row[1])

    picked: list[str] = []
    used_units: set[int] = set()
    for row in sorted(rows, key=rank):
        text = units[row[0]][row[1]].text
        if row[0] in used_units or any(text in p or p in text for p in picked):
            continue
        picked.append(text)
        used_units.add(row[0])
        if len(picked) == limit:
            break
    return " ".join(picked)


@dataclass
class _Cooccurrences:
    """Sentence-window counts over all text units: the edges and what their weights are made of.

    Nodes are numbered in sorted order, a pair ``a < b`` is the integer ``a * len(nodes) + b``, and per pair
    only numbers are kept (its evidence is a sentence reference, turned into text for emitted edges only):
    run-on input relates over a million pairs, which as string tuples with an evidence string each took
    gigabytes. ``pairs`` is sorted; the other per-pair arrays follow it."""

    nodes: list[str]  # node keys, sorted
    windows: int  # N: sentence windows in all text units
    capped: Counter[int]  # text unit -> windows cut to the caps
    mentions: np.ndarray  # node -> windows naming it
    pairs: np.ndarray  # pair keys, ascending
    counts: np.ndarray  # pair -> windows naming both
    unit_starts: np.ndarray  # pair i's text units are units[unit_starts[i]:unit_starts[i + 1]], in order
    units: np.ndarray
    evidence: np.ndarray  # pair -> (apart, text unit, sentence) of its best window

    def ends(self, i: int) -> tuple[str, str]:
        a, b = divmod(int(self.pairs[i]), len(self.nodes))
        return self.nodes[a], self.nodes[b]


def _window_nodes(sentences: list[_Sentence], node_of: dict[str, int], cap: int) -> tuple[list[int], bool]:
    """The nodes of one window, sorted, at most ``cap``: the first sentence's own come first, then the
    following sentences' (each sentence's by key); and whether the cap cut any."""
    seen: dict[int, None] = {}
    for sentence in sentences:
        for key in sorted(sentence.keys):
            seen.setdefault(node_of[key], None)
    nodes = list(seen)
    return sorted(nodes[:cap]), len(nodes) > cap


def _cooccurrences(
    units: list[list[_Sentence]], window: int, node_of: dict[str, str], cap: int = 10**9, pairs: int = 10**9
) -> _Cooccurrences:
    """Windows per node and per pair of nodes (``node_of`` maps entity keys to nodes), with evidence; a
    window relates at most ``cap`` nodes, and a text unit at most ``pairs`` distinct pairs (its first ones;
    ``capped`` counts the windows cut by either).

    Best evidence = both in one sentence before across sentences, then fewest entities in the window, then
    the earliest. Each (window, pair) is one row of flat arrays, reduced with numpy at the end."""
    nodes = sorted(set(node_of.values()))
    number = {node: i for i, node in enumerate(nodes)}
    number_of = {key: number[node] for key, node in node_of.items()}
    n = len(nodes)
    mentions = np.zeros(n, dtype=np.int64)
    windows = 0
    capped: Counter[int] = Counter()
    codes = {"pair": "q", "apart": "b", "size": "l", "unit": "l", "sentence": "l"}  # array type codes
    rows = {name: array(code) for name, code in codes.items()}
    for u, sentences in enumerate(units):
        in_unit: set[int] = set()
        for i, sentence in enumerate(sentences):
            window_nodes, cut = _window_nodes(sentences[i : i + window + 1], number_of, cap)
            here = {number_of[k] for k in sentence.keys}
            windows += 1
            mentions[window_nodes] += 1
            for a_index, a in enumerate(window_nodes):
                for b in window_nodes[a_index + 1 :]:
                    pair = a * n + b
                    if pair not in in_unit:
                        if len(in_unit) >= pairs:
                            cut = True
                            continue
                        in_unit.add(pair)
                    rows["pair"].append(pair)
                    rows["apart"].append(0 if a in here and b in here else 1)
                    rows["size"].append(len(window_nodes))
                    rows["unit"].append(u)
                    rows["sentence"].append(i)
            if cut:
                capped[u] += 1
    column = {name: np.frombuffer(values, dtype=values.typecode) for name, values in rows.items()}
    # Sorted by pair, then by evidence rank: each pair's first row is its best window.
    order = np.lexsort((column["sentence"], column["unit"], column["size"], column["apart"], column["pair"]))
    pair_rows = column["pair"][order]
    first = np.flatnonzero(np.r_[True, pair_rows[1:] != pair_rows[:-1]]) if len(order) else order
    counts = np.diff(np.r_[first, len(order)])
    best = order[first]
    evidence = np.stack([column["apart"][best], column["unit"][best], column["sentence"][best]], axis=1)
    # Each pair's distinct text units, ascending.
    by_unit = np.lexsort((column["unit"], column["pair"]))
    pair_unit = np.stack([column["pair"][by_unit], column["unit"][by_unit]], axis=1)
    distinct = np.r_[True, np.any(pair_unit[1:] != pair_unit[:-1], axis=1)] if len(by_unit) else by_unit
    pair_unit = pair_unit[distinct.astype(bool)]
    unit_starts = np.r_[np.flatnonzero(np.r_[True, pair_unit[1:, 0] != pair_unit[:-1, 0]]), len(pair_unit)]
    return _Cooccurrences(
        nodes,
        windows,
        capped,
        mentions,
        pair_rows[first],
        counts,
        unit_starts if len(pair_unit) else np.zeros(1, dtype=np.int64),
        pair_unit[:, 1],
        evidence,
    )


def npmi_weight(together: int, mentions_a: int, mentions_b: int, windows: int) -> float:
    """``together`` x (1 + NPMI) / 2 for a pair sharing ``together`` of ``windows`` windows (module notes).

    ``mentions_a`` / ``mentions_b``: windows naming each node. In (0, together]; rounded to 6 decimals so
    the value, and the ordering and pruning built on it, is the same on every run."""
    if together >= windows:
        npmi = 1.0
    else:
        pmi = math.log(together * windows / (mentions_a * mentions_b))
        npmi = max(-1.0, min(1.0, pmi / math.log(windows / together)))
    return max(round(together * (1.0 + npmi) / 2.0, 6), 1e-6)


# Below this many units a second spaCy process costs more to start (it loads the model) than it saves.
_UNITS_PER_EXTRA_PROCESS = 1000


def spacy_processes(units: int) -> int:
    """Worker processes for ``units`` texts: one per core that is free now (by the load average), capped by
    the work; measured 1.03-1.23x faster with two on 2 cores."""
    from graphrag_lite.models.onnx_minilm import available_cores

    cores = available_cores()
    try:
        free = cores - int(os.getloadavg()[0] + 0.5)
    except OSError:  # no load average on this platform
        free = cores
    return max(1, min(free, cores, 1 + units // _UNITS_PER_EXTRA_PROCESS))


@dataclass(frozen=True)
class AnalyseTexts:
    """The sentences and mentions of each text, in memo form: one executor task (it loads spaCy once per
    worker process)."""

    max_tokens: int = MAX_SENTENCE_TOKENS

    def __call__(self, texts: list[str]) -> list[list[list[Any]]]:
        nlp = load_spacy()
        return [_sentences_to_memo(analyse_doc(nlp, doc, self.max_tokens)) for doc in nlp.pipe(texts)]


def extract_graph_nlp(
    text_units: list[TextUnit],
    settings: Settings,
    on_progress: ProgressCallback | None = None,
    memo: ItemMemo | None = None,
    executor: Executor | None = None,
) -> NLPResult:
    """Entities and co-occurrence edges of ``text_units``; also sets the units' entity / relationship ids.

    spaCy parses only units whose text is not in ``memo``, in this process (spaCy's own worker processes)
    or, with a Ray ``executor``, in batches on the cluster; merging, aliases and edges always run over all
    units here, so the result equals a fresh local run's.
    """
    memo = memo if memo is not None else ItemMemo()
    options = settings.nlp
    analysed: list[list[_Sentence] | None] = []
    todo: list[tuple[int, str, str]] = []  # (unit index, prepared text, memo key) of units to parse
    for i, unit in enumerate(text_units):
        text = prepare_text(unit.text)
        key = memo_key("extract_graph_nlp", text)
        previous = memo.get(key)
        analysed.append(None if previous is None else _sentences_from_memo(previous))
        if previous is None:
            todo.append((i, text, key))
    loading = time.perf_counter()
    nlp = load_spacy()
    started = time.perf_counter()
    reused = len(text_units) - len(todo)
    distributed = executor is not None and executor.name != "local"
    n_process = 0 if distributed else options.n_process or spacy_processes(len(todo))
    if executor is not None and distributed:
        size = settings.executor.batch_size
        batches = [todo[i : i + size] for i in range(0, len(todo), size)]
        done = 0
        analyse = AnalyseTexts(options.max_sentence_tokens)
        for index, values in executor.map(analyse, [[text for _, text, _ in b] for b in batches]):
            for (i, _, key), value in zip(batches[index], values, strict=True):
                memo.put(key, value)
                analysed[i] = _sentences_from_memo(value)
            done += len(values)
            memo.checkpoint()
            if on_progress is not None:
                on_progress(reused + done, len(text_units))
    else:
        docs = nlp.pipe((text for _, text, _ in todo), batch_size=options.batch_size, n_process=n_process)
        for done, ((i, _, key), doc) in enumerate(zip(todo, docs, strict=True), 1):
            sentences = analyse_doc(nlp, doc, options.max_sentence_tokens)
            memo.put(key, _sentences_to_memo(sentences))
            analysed[i] = sentences
            if on_progress is not None:
                on_progress(reused + done, len(text_units))
    spacy_seconds = time.perf_counter() - started
    units = [sentences or [] for sentences in analysed]

    named_keys = {m.key for sentences in units for s in sentences for m in s.mentions if m.named}
    _cap_concepts(units, named_keys, options.max_noun_phrases_per_unit)
    raw_groups = _groups(units, named_keys, [u.document_id for u in text_units])
    mapping, decisions = resolve_aliases(_alias_candidates(raw_groups), SPACY_RULES)
    groups = _merge_groups(raw_groups, mapping)
    for sentences in units:
        for sentence in sentences:
            sentence.keys = {mapping.get(m.key, m.key) for m in sentence.mentions}

    titles = {key: choose_title(group) for key, group in groups.items()}
    entities = _entities(units, text_units, groups, titles)
    edges = _relationships(units, text_units, titles, options)
    link_text_units(text_units, entities, [])
    for unit, relationship_ids in zip(text_units, edges.unit_relationships, strict=True):
        unit.relationship_ids = relationship_ids

    words = sum(len(text.split()) for _, text, _ in todo)
    seconds = time.perf_counter() - started
    stats: dict[str, Any] = {
        "words": words,
        "seconds": round(seconds, 3),
        "words_per_second": round(words / seconds) if seconds > 0 else 0,
        "spacy_seconds": round(spacy_seconds, 3),
        "model_load_seconds": round(started - loading, 3),
        "text_units": len(text_units),
        "text_units_reused": reused,
        "sentences": sum(len(s) for s in units),
        "named_entities": sum(1 for e in entities if e.type != CONCEPT),
        "concept_entities": sum(1 for e in entities if e.type == CONCEPT),
        "relationships": edges.table.num_rows,
        "alias_merges": sum(1 for d in decisions if d.merged),
        "alias_decisions": [
            {"alias": d.alias, "merged_into": d.canonical if d.merged else None, "rule": d.reason}
            for d in decisions[:200]
        ],
        "spacy_model": pipeline_name(nlp),
        "n_process": n_process,
        "executor": executor.name if executor is not None else "local",
        # run-on text: windows that held more than nlp.max_window_entities (per document id)
        "capped_windows": dict(sorted(edges.capped.items())),
    }
    return NLPResult(entities, edges.table, stats)


def _entities(
    units: list[list[_Sentence]],
    text_units: list[TextUnit],
    groups: dict[str, _Group],
    titles: dict[str, str],
) -> list[Entity]:
    rows: dict[str, list[tuple[int, int]]] = {}
    for u, sentences in enumerate(units):
        for i, sentence in enumerate(sentences):
            for key in sentence.keys:
                rows.setdefault(key, []).append((u, i))
    by_id: dict[str, Entity] = {}
    for key in sorted(rows):
        group, title = groups[key], titles[key]
        unit_ids = list(dict.fromkeys(text_units[u].id for u, _ in rows[key]))
        main = group.main_type() if group.named else CONCEPT
        uses = group.forms + group.cores
        aliases: dict[str, str] = {}  # case-folded -> most used spelling
        for name in sorted(uses, key=lambda n: (-uses[n], n)):
            if name.casefold() != title.casefold():
                aliases.setdefault(name.casefold(), name)
        limit = DESCRIPTION_SENTENCES if group.named else 2
        entity = Entity(
            id=entity_id(title),
            title=title,
            type=main,
            description=_pick_description(rows[key], units, limit),
            aliases=list(aliases.values())[:20],
            other_types=sorted((t for t in group.types if t != main), key=lambda t: (-group.types[t], t)),
            text_unit_ids=unit_ids,
            frequency=len(unit_ids),
        )
        if entity.id in by_id:  # two keys whose titles normalise alike: keep one node
            kept = by_id[entity.id]
            kept.text_unit_ids = list(dict.fromkeys(kept.text_unit_ids + entity.text_unit_ids))
            kept.frequency = len(kept.text_unit_ids)
            kept.aliases = list(dict.fromkeys(kept.aliases + entity.aliases))[:20]
            continue
        by_id[entity.id] = entity
    return sorted(by_id.values(), key=lambda e: (-e.frequency, e.title.casefold(), e.id))


_TABLE_CHUNK = 50_000  # relationship records alive at once while the table is built


@dataclass
class _Edges:
    table: pa.Table  # the relationships, best first, in the schema of the relationships table
    unit_relationships: list[list[str]]  # per text unit: its relationship ids, in table order
    capped: Counter[str]  # document id -> windows cut to the caps


def _relationships(
    units: list[list[_Sentence]], text_units: list[TextUnit], titles: dict[str, str], options: NLPSettings
) -> _Edges:
    """One edge per pair of entities sharing a window; entity keys whose titles normalise alike are one node
    (as in :func:`_entities`), so a window is counted once per pair. Also: windows cut to
    ``nlp.max_window_entities``, per document id.

    Edges are ordered by weight, then titles, and written to Arrow ``_TABLE_CHUNK`` records at a time:
    with run-on input there are over a million, and a record with its description is kilobytes."""
    node_of = {key: normalize_title(title) for key, title in titles.items()}
    node_title: dict[str, str] = {}
    for key in sorted(titles):
        node_title.setdefault(node_of[key], titles[key])
    window = options.cooccurrence_window
    where = "sentence" if window == 0 else f"window of {window + 1} sentences"
    found = _cooccurrences(units, window, node_of, options.max_window_entities, options.max_pairs_per_unit)
    capped: Counter[str] = Counter()
    for u, count in found.capped.items():
        capped[text_units[u].document_id] += count
    n = len(found.nodes)
    ends = np.divmod(found.pairs, max(n, 1))
    if options.edge_weighting == "npmi":
        mentions = found.mentions
        weights = np.array(
            [
                npmi_weight(int(c), int(mentions[a]), int(mentions[b]), found.windows)
                for c, a, b in zip(found.counts, ends[0], ends[1], strict=True)
            ],
            dtype=np.float64,
        )
    else:
        weights = found.counts.astype(np.float64)
    # Source < target by normalised title = by node number; ties of the titles' case-folded order go by id.
    folded = [node_title[node].casefold() for node in found.nodes]
    dense = {title: r for r, title in enumerate(sorted(set(folded)))}
    rank = np.array([dense[title] for title in folded], dtype=np.int64)
    order = np.lexsort((rank[ends[1]], rank[ends[0]], -weights))
    order = _ties_by_id(order, weights, rank[ends[0]], rank[ends[1]], found, node_title)

    unit_relationships: list[list[str]] = [[] for _ in text_units]
    parts: list[pa.Table] = []
    for chunk in range(0, len(order), _TABLE_CHUNK):
        records = []
        for i in order[chunk : chunk + _TABLE_CHUNK]:
            a, b = found.ends(int(i))
            source, target = node_title[a], node_title[b]
            count = int(found.counts[i])
            rel_units = found.units[found.unit_starts[i] : found.unit_starts[i + 1]]
            apart, u, sentence = (int(v) for v in found.evidence[i])
            evidence = " ".join(s.text for s in units[u][sentence : sentence + (window + 1 if apart else 1)])
            description = (
                f"{source} and {target} are mentioned in the same {where} {count} time"
                f"{'s' if count != 1 else ''} across {len(rel_units)} text unit"
                f'{"s" if len(rel_units) != 1 else ""}. Evidence: "{evidence}"'
            )
            rel = Relationship(
                id=relationship_id(source, target),
                source=source,
                target=target,
                description=description,
                weight=float(weights[i]),
                text_unit_ids=[text_units[int(r)].id for r in rel_units],
            )
            records.append(rel)
            for r in rel_units:
                unit_relationships[int(r)].append(rel.id)
        parts.append(records_to_table("relationships", records))
    table = pa.concat_tables(parts) if parts else records_to_table("relationships", [])
    return _Edges(table, unit_relationships, capped)


def _ties_by_id(
    order: np.ndarray,
    weights: np.ndarray,
    source_rank: np.ndarray,
    target_rank: np.ndarray,
    found: _Cooccurrences,
    node_title: dict[str, str],
) -> np.ndarray:
    """``order`` with runs of equal (weight, source, target) ranks sorted by relationship id (two nodes whose
    titles case-fold alike; rare, so ids are computed for those runs only)."""
    key = np.stack([weights[order], source_rank[order], target_rank[order]], axis=1)
    starts = np.flatnonzero(np.r_[True, np.any(key[1:] != key[:-1], axis=1)]) if len(order) else order
    lengths = np.diff(np.r_[starts, len(order)])

    def rel_id(i: int) -> str:
        a, b = found.ends(i)
        return relationship_id(node_title[a], node_title[b])

    order = order.copy()
    for first, length in zip(starts[lengths > 1].tolist(), lengths[lengths > 1].tolist(), strict=True):
        order[first : first + length] = sorted(order[first : first + length].tolist(), key=rel_id)
    return order
