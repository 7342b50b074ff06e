"""Parse the tuple records an LLM writes for graph extraction, tolerating the ways real replies go wrong.

The format asked of the model (see ``prompts/extract_graph.txt``) is one record per line::

    ("entity"|EBENEZER SCROOGE|person|A miserly London money-lender.)
    ("relationship"|EBENEZER SCROOGE|JACOB MARLEY|Former business partners.|9)
    <|DONE|>

The parser does not split on lines or on a record delimiter. It scans the whole reply for record *starts*
(``(entity|`` with or without quotes, any case) and cuts each record at its balanced closing parenthesis,
the next record start or the end marker, whichever comes first. That is why nothing is lost at a reply
boundary: a record broken over two lines, a gleaning reply glued to the previous one with no newline,
records after a premature end marker, code fences and prose around the records all parse the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TAGS = {
    "entity": "entity",
    "node": "entity",
    "relationship": "relationship",
    "relation": "relationship",
    "edge": "relationship",
}
# A record start: "(" + optional quote + a known tag + optional quote + a field delimiter ("|" or "<|>").
# The "(" may be missing when the tag opens a line (models sometimes drop it, or bullet the records).
# Only known tags start a record, so a "(" or a line break inside a description never splits one.
_START = re.compile(
    r"""(?:\(|^[ \t>*\-\d.]*)\s*["'`“”]?\s*(""" + "|".join(_TAGS) + r""")\s*["'`“”]?\s*(?:<\|>|\|)""",
    re.MULTILINE | re.IGNORECASE,
)
_END = re.compile(r"<\|?\s*(?:DONE|COMPLETE|END)\s*\|?>", re.IGNORECASE)
_QUOTES = "\"'`“”‘’"
_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?")
_WEIGHT_TEXT = re.compile(r"[-+]?\d+(?:[.,]\d+)?\s*(?:/\s*\d+(?:[.,]\d+)?|%)?")
_TRAILING_JUNK = re.compile(r"^[\s)#,;`]*$")
_BLANK_LINE = re.compile(r"\n\s*\n")
_FENCE = re.compile(r"```[A-Za-z]*")

MIN_WEIGHT = 1.0
MAX_WEIGHT = 10.0
DEFAULT_WEIGHT = 1.0


@dataclass
class RawEntity:
    """One entity record as extracted from one text unit (before merging)."""

    title: str  # display title: quotes stripped, whitespace collapsed, case as the model wrote it
    type: str  # lower-cased
    description: str
    text_unit_id: str = ""


@dataclass
class RawRelationship:
    """One relationship record as extracted from one text unit (before merging)."""

    source: str
    target: str
    description: str
    weight: float = DEFAULT_WEIGHT
    text_unit_id: str = ""


@dataclass
class ParsedRecords:
    """Everything one reply yielded. ``complete`` is True when the end marker was seen."""

    entities: list[RawEntity] = field(default_factory=list)
    relationships: list[RawRelationship] = field(default_factory=list)
    complete: bool = False
    rejected: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.entities) + len(self.relationships)


def clean_field(value: str) -> str:
    """Collapse whitespace (records broken over lines) and strip surrounding quotes and markup."""
    value = " ".join(value.split())
    previous = None
    while previous != value:
        previous = value
        value = value.strip().strip(_QUOTES).strip()
        if value.startswith("**") and value.endswith("**") and len(value) > 4:
            value = value[2:-2]
    return value


def clean_title(value: str) -> str:
    """A display title: a cleaned field without a trailing possessive or sentence punctuation."""
    value = clean_field(value)
    value = value.rstrip(".,;:!?").strip()
    return clean_field(value)


def clean_type(value: str) -> str:
    value = clean_field(value).lower()
    return "_".join(value.split()) or "unknown"


def parse_weight(value: str) -> float | None:
    """A 1-10 strength from "8", "8/10", "0.8", "80%", "strength: 7"; None when there is no number.

    A fraction is rescaled to 10; a decimal between 0 and 1 is read as a share of 10 (0.8 -> 8); the
    result is clamped to [1, 10] so one odd reply cannot dominate the summed weights.
    """
    text = clean_field(value).lower()
    numbers = [float(n.replace(",", ".")) for n in _NUMBER.findall(text)]
    if not numbers:
        return None
    first = numbers[0]
    if "/" in text and len(numbers) >= 2 and numbers[1] > 0:
        weight = MAX_WEIGHT * first / numbers[1]
    elif "%" in text:
        weight = first / 10.0
    elif 0 < first <= 1 and "." in _NUMBER.findall(text)[0].replace(",", "."):
        weight = first * MAX_WEIGHT
    else:
        weight = first
    return min(MAX_WEIGHT, max(MIN_WEIGHT, weight))


def _looks_numeric(value: str) -> bool:
    text = clean_field(value).lower().rstrip(".")
    stripped = re.sub(r"(strength|weight|score)\s*[:=]?", "", text).strip()
    return bool(stripped) and bool(_WEIGHT_TEXT.fullmatch(stripped))


def _record_body(segment: str) -> str:
    """The fields of one record: the text up to its closing parenthesis.

    Preferred end: a ``)`` at nesting depth zero followed only by junk (``##``, ``,``, a fence) up to the end
    of its line. Otherwise the first depth-zero ``)``; otherwise (no closing parenthesis: a truncated reply
    or a model that drops them) everything up to a blank line, without code fences.
    """
    depth = 1
    first_close: int | None = None
    for index, char in enumerate(segment):
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
            if depth == 0:
                if first_close is None:
                    first_close = index
                line_end = segment.find("\n", index)
                rest = segment[index + 1 :] if line_end < 0 else segment[index + 1 : line_end]
                if _TRAILING_JUNK.match(_FENCE.sub("", rest)):
                    return segment[:index]
    if first_close is not None:
        return segment[:first_close]
    body = _FENCE.sub("", _BLANK_LINE.split(segment, maxsplit=1)[0]).rstrip()
    if body.endswith(")") and body.count(")") > body.count("("):
        body = body[:-1]  # the record's own closing parenthesis, not one closing "(" in the description
    return body


def _split_fields(body: str) -> list[str]:
    return [part for part in body.replace("<|>", "|").split("|")]


def _entity(fields: list[str], text_unit_id: str) -> RawEntity | None:
    if not fields:
        return None
    title = clean_title(fields[0])
    if not title:
        return None
    entity_type = clean_type(fields[1]) if len(fields) > 1 else "unknown"
    if len(fields) > 3 and _looks_numeric(fields[-1]):
        fields = fields[:-1]  # an importance score some models append: not part of the description
    description = clean_field(" | ".join(f for f in fields[2:] if clean_field(f)))
    return RawEntity(title=title, type=entity_type, description=description, text_unit_id=text_unit_id)


def _relationship(fields: list[str], text_unit_id: str) -> RawRelationship | None:
    if len(fields) < 2:
        return None
    source, target = clean_title(fields[0]), clean_title(fields[1])
    if not source or not target:
        return None
    rest = [f for f in fields[2:] if clean_field(f)]
    weight = DEFAULT_WEIGHT
    if rest and _looks_numeric(rest[-1]):
        parsed = parse_weight(rest[-1])
        weight = parsed if parsed is not None else DEFAULT_WEIGHT
        rest = rest[:-1]
    description = clean_field(" | ".join(rest))
    return RawRelationship(
        source=source, target=target, description=description, weight=weight, text_unit_id=text_unit_id
    )


def parse_records(text: str, text_unit_id: str = "") -> ParsedRecords:
    """Every entity and relationship record in ``text``, in the order written.

    Segments that start like a record but cannot be read (unknown tag, empty title, one endpoint) are
    returned in ``rejected`` so a caller can log them; they never raise.
    """
    result = ParsedRecords(complete=bool(_END.search(text)))
    starts = list(_START.finditer(text))
    ends = [m.start() for m in _END.finditer(text)]
    for position, match in enumerate(starts):
        stop = starts[position + 1].start() if position + 1 < len(starts) else len(text)
        stop = min([stop, *[e for e in ends if e > match.end()]])
        segment = text[match.end() : stop]
        tag = _TAGS[match.group(1).lower()]
        raw = (match.group(0) + segment).strip()
        fields = _split_fields(_record_body(segment))
        if tag == "entity":
            entity = _entity(fields, text_unit_id)
            if entity is None:
                result.rejected.append(raw)
            else:
                result.entities.append(entity)
        else:
            relationship = _relationship(fields, text_unit_id)
            if relationship is None:
                result.rejected.append(raw)
            else:
                result.relationships.append(relationship)
    return result
