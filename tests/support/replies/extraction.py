"""Test-server replies for graph extraction, gleaning and description summaries.

The extraction reply plays a plausible, deterministic model: capitalised phrases of the text unit become
entities (type guessed from simple cues), phrases sharing a sentence become relationships. It lists at most
``FIRST_PASS_LIMIT`` entities on the first pass, like a model that stops early, so gleaning has something to
find; the gleaning reply gives everything not in the "already found" list, or the end marker alone.
Replies are well formed: the parser's tolerance of sloppy replies is tested separately.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from support.replies import Handler, ReplyRequest

EXTRACT_MARKER = "## Knowledge graph extraction: write entity and relationship records"
GLEAN_MARKER = "## Knowledge graph extraction, second pass: records that were missed"
SUMMARY_MARKER = "## Description merge: one summary from several descriptions"
END = "<|DONE|>"
FIRST_PASS_LIMIT = 5
DESCRIPTION_WORDS = 40


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


HONORIFICS = ("Mr", "Mrs", "Ms", "Miss", "Dr", "Sir", "Lady", "Lord")
_PROTECT = "\u00a7"  # stands in for the period of "Mr." while sentences are split
_HONORIFIC_DOT = re.compile(r"\b(Mr|Mrs|Ms|Dr|St)\.")
_WORD = r"[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?"
_SENTENCE = re.compile(r"(?<=[.!?;:])\s+|\n\s*\n")
_PHRASE = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Miss|Dr|Sir|Lady|Lord|St)" + _PROTECT + r"?\s+)?"
    rf"\b{_WORD}(?:(?:['’]s)?\s+{_WORD})*"
)
_SPEECH = re.compile(r"^[,']?\s*(?:said|cried|replied|asked|returned|exclaimed|observed)\b")
COMMON = _words(
    "A An And As At But By For From He Her Here His How I If In It Its Mind My No Nor Not Now Of Oh On Or "
    "Our She So Some That The Their Then There These They This Those Though Thus To Upon We What When Where "
    "Which While Who Why Yes Yet You Your Even Nobody External Foul Hard Sometimes Once Old Dear Good Come "
    "Let Well Ah Ha Bah Humbug God Nothing"
)
PERSON_NAMES = _words(
    "Scrooge Marley Bob Cratchit Fred Tim Fezziwig Belle Jacob Ebenezer Martha Peter Dick Wilkins Joe "
    "Caroline Topper Belinda Fan Holmes Sherlock Watson Mycroft Hamlet"
)
GEO_WORDS = _words(
    "London England City Cornhill Camden Paris France Scotland Churchyard Street Lane Town Square Court "
    "Exchange"
)
EVENT_WORDS = _words("Christmas Eve Day War Festival Feast Holiday Year Easter")
ORG_WORDS = _words("Company Bank Society Firm Corporation Parliament University Club")


@dataclass
class _Entity:
    title: str
    type: str
    description: str
    count: int = 0
    first: int = 0


@dataclass
class _Graph:
    entities: list[_Entity] = field(default_factory=list)
    relationships: list[tuple[str, str, str, int]] = field(default_factory=list)  # a, b, description, n


def _section(text: str, start: str, end: str) -> str:
    begin = text.find(start)
    if begin < 0:
        return ""
    stop = text.rfind(end)
    return text[begin + len(start) : stop if stop > begin else len(text)].strip("\n")


def _field(text: str) -> str:
    words = " ".join(text.replace("|", "/").split()).split()
    return " ".join(words[:DESCRIPTION_WORDS])


def _sentences(text: str) -> list[str]:
    protected = _HONORIFIC_DOT.sub(lambda m: m.group(1) + _PROTECT, text.replace("_", ""))
    return [s for s in (" ".join(p.split()) for p in _SENTENCE.split(protected)) if s]


def _restore(text: str) -> str:
    return text.replace(_PROTECT, ".")


def _phrases(sentence: str, lowercase_words: set[str]) -> list[tuple[str, int]]:
    """(phrase, end offset) of the capitalised phrases of one sentence; sentence-initial common words and
    words the text also writes in lower case are dropped from a phrase's front."""
    found: list[tuple[str, int]] = []
    for match in _PHRASE.finditer(sentence):
        raw = match.group(0).split()
        words = [w for i, w in enumerate(raw) if i == 0 or w != raw[i - 1]]  # "called Scrooge Scrooge"
        at_start = not sentence[: match.start()].strip(" '\"‘“(-")
        while words and (
            re.split("['’]", words[0])[0] in COMMON
            or (at_start and words[0].lower() in lowercase_words and words[0] not in PERSON_NAMES)
        ):
            words.pop(0)
            at_start = False
        if words:
            found.append((" ".join(words), match.end()))
    return found


def _guess_type(phrase: str, speaks: bool, count: int) -> str | None:
    words = phrase.replace(_PROTECT, "").split()
    if words[0] in HONORIFICS or speaks:
        return "person"
    if any(w in EVENT_WORDS for w in words):
        return "event"
    if any(w in PERSON_NAMES for w in words):
        return "person"
    if any(w in ORG_WORDS for w in words):
        return "organization"
    if any(w in GEO_WORDS for w in words):
        return "geo"
    return "person" if count >= 2 else None


def build_graph(text: str, entity_types: list[str]) -> _Graph:
    """The entities and relationships a diligent model would list for ``text``, most mentioned first."""
    sentences = _sentences(text)
    lowercase_words = {w for w in re.findall(r"\b[a-z]+\b", text)}
    per_sentence: list[list[str]] = []
    mentions: Counter[str] = Counter()
    speakers: set[str] = set()
    first: dict[str, int] = {}
    describe: dict[str, str] = {}
    for index, sentence in enumerate(sentences):
        names: list[str] = []
        for phrase, end in _phrases(sentence, lowercase_words):
            mentions[phrase] += 1
            first.setdefault(phrase, index)
            describe.setdefault(phrase, sentence)
            if _SPEECH.match(sentence[end:].lstrip()):
                speakers.add(phrase)
            if phrase not in names:
                names.append(phrase)
        per_sentence.append(names)
    graph = _Graph()
    kept: dict[str, _Entity] = {}
    for phrase in sorted(mentions, key=lambda p: (-mentions[p], first[p], p)):
        entity_type = _guess_type(phrase, phrase in speakers, mentions[phrase])
        if entity_type is None or entity_type not in entity_types:
            continue
        title = _restore(phrase)
        kept[phrase] = _Entity(
            title, entity_type, _field(_restore(describe[phrase])), mentions[phrase], first[phrase]
        )
        graph.entities.append(kept[phrase])
    pairs: Counter[tuple[str, str]] = Counter()
    pair_sentence: dict[tuple[str, str], str] = {}
    for sentence, names in zip(sentences, per_sentence, strict=True):
        present = [n for n in names if n in kept]
        for i, a in enumerate(present):
            for b in present[i + 1 :]:
                pair = (a, b) if a < b else (b, a)
                pairs[pair] += 1
                pair_sentence.setdefault(pair, sentence)
    for pair in sorted(pairs, key=lambda p: (-pairs[p], p)):
        a, b = pair
        description = _field(_restore(pair_sentence[pair]))
        graph.relationships.append((kept[a].title, kept[b].title, description, pairs[pair]))
    return graph


def _entity_line(entity: _Entity) -> str:
    return f'("entity"|{entity.title}|{entity.type}|{entity.description})'


def _relationship_line(a: str, b: str, description: str, count: int) -> str:
    return f'("relationship"|{a}|{b}|{description}|{min(10, 1 + 2 * count)})'


def _types(prompt: str) -> list[str]:
    match = re.search(r"Entity types to look for: (.*)", prompt) or re.search(r"of types ([^)]*)\)", prompt)
    raw = match.group(1) if match else "organization, person, geo, event"
    return [t.strip().lower() for t in raw.split(",") if t.strip()]


def _text(prompt: str) -> str:
    return _section(prompt, "-----TEXT START-----", "-----TEXT END-----")


def extraction_reply(request: ReplyRequest) -> str:
    """First pass: the ``FIRST_PASS_LIMIT`` most mentioned entities and the relationships among them."""
    prompt = request.text
    graph = build_graph(_text(prompt), _types(prompt))
    entities = graph.entities[:FIRST_PASS_LIMIT]
    titles = {e.title for e in entities}
    lines = [_entity_line(e) for e in sorted(entities, key=lambda e: e.first)]
    lines += [_relationship_line(*r) for r in graph.relationships if r[0] in titles and r[1] in titles]
    return "\n".join([*lines, END])


def gleaning_reply(request: ReplyRequest) -> str:
    """Everything the 'already found' list lacks; the end marker alone when nothing is missing."""
    prompt = request.text
    graph = build_graph(_text(prompt), _types(prompt))
    found = _section(prompt, "-----FOUND START-----", "-----FOUND END-----").splitlines()
    found_titles: set[str] = set()
    found_pairs: set[frozenset[str]] = set()
    for line in found:
        if " -- " in line:
            a, b = line.split(" -- ", 1)
            found_pairs.add(frozenset((a.strip().casefold(), b.strip().casefold())))
        elif line.strip() and not line.endswith(":"):
            found_titles.add(re.sub(r"\s*\([^)]*\)\s*$", "", line).strip().casefold())
    lines = [_entity_line(e) for e in graph.entities if e.title.casefold() not in found_titles]
    lines += [
        _relationship_line(*r)
        for r in graph.relationships
        if frozenset((r[0].casefold(), r[1].casefold())) not in found_pairs
    ]
    return "\n".join([*lines, END])


def summary_reply(request: ReplyRequest) -> str:
    """The first sentence of each distinct description, joined and cut to the requested word limit."""
    prompt = request.text
    block = _section(prompt, "-----DESCRIPTIONS START-----", "-----DESCRIPTIONS END-----")
    match = re.search(r"at most (\d+) words", prompt)
    max_words = int(match.group(1)) if match else 500
    firsts: list[str] = []
    for line in block.splitlines():
        description = line.strip().removeprefix("- ").strip()
        sentence = _sentences(description)[0] if description else ""
        sentence = _restore(sentence)
        if sentence and sentence.casefold().rstrip(".!?") not in {f.casefold().rstrip(".!?") for f in firsts}:
            firsts.append(sentence)
    return " ".join(" ".join(firsts).split()[:max_words])


HANDLERS: list[tuple[str, Handler]] = [
    (GLEAN_MARKER, gleaning_reply),
    (EXTRACT_MARKER, extraction_reply),
    (SUMMARY_MARKER, summary_reply),
]
