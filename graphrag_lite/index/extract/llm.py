"""Entity and relationship extraction with an LLM: one call per text unit, then bounded gleaning rounds.

Gleaning does not resend the conversation. A gleaning request carries the text unit and a compact list of
what was already found (names and types, relationship pairs; no descriptions), and asks only for what is
missing. That costs one call per round instead of the reference design's two (a "continue" call that resends
the first prompt and the whole first reply, plus a yes/no "anything left?" call), and it also recovers the
records of a first reply that was cut off by the completion-token limit. Gleaning stops at the first round
that adds nothing new.

By default (``extraction.gleaning_scope: names``) a round does not even resend the whole unit: only the
sentences naming something the list lacks, and no round at all when every name was found
(:mod:`~graphrag_lite.index.extract.glean_focus`). A cut-off first reply still gets the whole unit.

With an :class:`~graphrag_lite.store.memo.ItemMemo`, a unit whose text was extracted before (same settings
and prompts) gets its previous records back without a call: ``update`` extracts only new or changed text.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from graphrag_lite.config.prompts import fill, load_prompt
from graphrag_lite.config.settings import GleaningScope, Settings
from graphrag_lite.errors import ConfigError, LLMError
from graphrag_lite.index.extract.glean_focus import Focus, UnitNames, find_names, focus, gleaning_scope
from graphrag_lite.index.extract.records import ParsedRecords, RawEntity, RawRelationship, parse_records
from graphrag_lite.index.items import Entry, ItemRunner, Outcome, ProgressCallback, run_items
from graphrag_lite.models.base import ChatModel, forget_replies
from graphrag_lite.store.ids import normalize_title
from graphrag_lite.store.memo import ItemMemo, memo_key
from graphrag_lite.store.records import TextUnit

if TYPE_CHECKING:
    from graphrag_lite.index.executor import Executor

logger = logging.getLogger(__name__)

EXTRACT_PROMPT = "extract_graph"
CONTINUE_PROMPT = "extract_graph_continue"
MISSED_PROMPT = "extract_graph_missed"
FORMAT_REMINDER = (
    "\n\nReply with records only, one per line, exactly in the format described above, then <|DONE|>. "
    "If the text names no entities of those types, reply with <|DONE|> alone."
)


@dataclass
class ExtractionResult:
    """Raw records of every text unit, in text-unit order then record order, plus what went wrong."""

    entities: list[RawEntity] = field(default_factory=list)
    relationships: list[RawRelationship] = field(default_factory=list)
    failed_units: list[tuple[str, str]] = field(default_factory=list)  # (text unit id, reason)
    # Units that kept their first-pass records but lost a gleaning round: listed so a later run retries them.
    partial_units: list[tuple[str, str]] = field(default_factory=list)  # (text unit id, reason)
    gleaning_calls: int = 0
    gleaned_records: int = 0  # records added by gleaning rounds
    gleaning_failures: int = 0  # gleaning calls that failed (the unit keeps its first-pass records)
    gleaning_skipped: int = 0  # units not gleaned: their first pass found every name spaCy sees
    gleaning_scope: GleaningScope = "unit"  # what gleaning rounds sent (the setting, unless types forbid)
    rejected_records: int = 0  # record-like lines the parser could not read
    format_retries: int = 0  # first replies without any record, asked again with a format reminder
    truncated_replies: int = 0  # first replies without the end marker
    reused_units: int = 0  # units whose records came from the memo (text extracted before)


@dataclass
class _UnitResult:
    entities: list[RawEntity] = field(default_factory=list)
    relationships: list[RawRelationship] = field(default_factory=list)
    failure: str | None = None
    gleaning_calls: int = 0
    gleaned_records: int = 0
    gleaning_failures: int = 0
    gleaning_error: str | None = None
    gleaning_skipped: bool = False
    rejected_records: int = 0
    format_retries: int = 0
    truncated: bool = False

    def to_memo(self) -> dict[str, list[dict[str, object]]]:
        """The records without their text unit id: the same text gives the same records in any unit."""
        return {
            "entities": [{k: v for k, v in asdict(e).items() if k != "text_unit_id"} for e in self.entities],
            "relationships": [
                {k: v for k, v in asdict(r).items() if k != "text_unit_id"} for r in self.relationships
            ],
        }

    @classmethod
    def from_memo(cls, value: dict[str, list[dict[str, object]]], unit_id: str) -> _UnitResult:
        return cls(
            entities=[RawEntity(**e, text_unit_id=unit_id) for e in value["entities"]],  # type: ignore[arg-type]
            relationships=[
                RawRelationship(**r, text_unit_id=unit_id)  # type: ignore[arg-type]
                for r in value["relationships"]
            ],
        )


@dataclass
class _Found:
    """What a unit has yielded so far, keyed the way the merge step will key it."""

    entities: dict[str, RawEntity] = field(default_factory=dict)
    pairs: dict[tuple[str, str], RawRelationship] = field(default_factory=dict)

    @staticmethod
    def pair_key(source: str, target: str) -> tuple[str, str]:
        a, b = sorted((normalize_title(source), normalize_title(target)))
        return a, b

    def add_new(self, parsed: ParsedRecords) -> tuple[list[RawEntity], list[RawRelationship]]:
        """Keep the records whose entity title / relationship pair is not known yet; return them."""
        new_entities: list[RawEntity] = []
        for entity in parsed.entities:
            key = normalize_title(entity.title)
            if key not in self.entities:
                self.entities[key] = entity
                new_entities.append(entity)
        new_relationships: list[RawRelationship] = []
        for rel in parsed.relationships:
            pair = self.pair_key(rel.source, rel.target)
            if pair[0] != pair[1] and pair not in self.pairs:
                self.pairs[pair] = rel
                new_relationships.append(rel)
        return new_entities, new_relationships

    def titles(self) -> list[str]:
        return [e.title for e in self.entities.values()]

    def as_prompt_list(self) -> str:
        """The compact 'already found' list of a gleaning prompt: names and types, pairs; no descriptions."""
        lines = ["entities:"]
        lines += [f"{e.title} ({e.type})" for e in self.entities.values()] or ["(none)"]
        lines.append("relationships:")
        lines += [f"{r.source} -- {r.target}" for r in self.pairs.values()] or ["(none)"]
        return "\n".join(lines)


@dataclass
class _Prompts:
    extract: str
    glean: str  # the whole unit again
    missed: str  # the sentences with names not found yet
    types: tuple[str, ...]  # lower case
    scope: GleaningScope

    @property
    def entity_types(self) -> str:
        """The types as the prompts list them."""
        return ", ".join(self.types)


async def _ask(chat: ChatModel, prompt: str) -> str:
    response = await chat.chat([{"role": "user", "content": prompt}], json_mode=False)
    return response.text or ""


async def _first_pass(unit: TextUnit, chat: ChatModel, prompts: _Prompts, out: _UnitResult) -> ParsedRecords:
    """The first extraction reply, parsed; sets ``out.failure`` when there is none worth keeping.

    A reply without a single record or end marker is asked for once more with a format reminder: a
    different request, so a cached bad reply is not simply served again.
    """
    first = first_pass_prompt(prompts, unit.text)
    parsed, reply = ParsedRecords(), ""
    for attempt, prompt in enumerate((first, first + FORMAT_REMINDER)):
        try:
            reply = await _ask(chat, prompt)
        except LLMError as exc:
            out.failure = f"extraction call failed: {exc}"
            return parsed
        parsed = parse_records(reply, unit.id)
        out.rejected_records += len(parsed.rejected)
        if parsed.count or parsed.complete:
            return parsed
        out.format_retries += int(attempt == 0)
    preview = " ".join(reply.split())[:160]
    out.failure = f"unparseable extraction reply (no records, no end marker): {preview!r}"
    await forget_replies(chat, [[{"role": "user", "content": p}] for p in (first, first + FORMAT_REMINDER)])
    return parsed


async def _glean(
    unit: TextUnit,
    chat: ChatModel,
    prompts: _Prompts,
    found: _Found,
    max_gleanings: int,
    out: _UnitResult,
    names: UnitNames | None,
) -> None:
    """Up to ``max_gleanings`` rounds asking only for what ``found`` lacks; stop at a round with no news.

    With ``names`` a round sends only the sentences naming something ``found`` lacks (or the whole unit,
    if that is shorter), and none is sent once every name is covered; without, it sends the whole unit."""
    for round_ in range(max_gleanings):
        if names is None:
            prompt = _glean_prompt(prompts, found, unit.text)
        elif (missed := focus(names, found.titles())) is None:
            out.gleaning_skipped = round_ == 0
            return
        else:  # short units: the sentences with their names can come out longer than the whole unit
            prompt = min(
                _glean_prompt(prompts, found, unit.text, missed),
                _glean_prompt(prompts, found, unit.text),
                key=len,
            )
        out.gleaning_calls += 1
        try:
            reply = await _ask(chat, prompt)
        except LLMError as exc:
            out.gleaning_failures += 1
            out.gleaning_error = f"gleaning call failed (first-pass records kept): {exc}"
            logger.warning("text unit %s: gleaning call failed, keeping earlier records: %s", unit.id, exc)
            return
        parsed = parse_records(reply, unit.id)
        out.rejected_records += len(parsed.rejected)
        new_entities, new_relationships = found.add_new(parsed)
        if not new_entities and not new_relationships:
            return
        out.entities.extend(new_entities)
        out.relationships.extend(new_relationships)
        out.gleaned_records += len(new_entities) + len(new_relationships)


def _glean_prompt(prompts: _Prompts, found: _Found, text: str, missed: Focus | None = None) -> str:
    if missed is None:
        return fill(
            prompts.glean, entity_types=prompts.entity_types, found=found.as_prompt_list(), input_text=text
        )
    return fill(
        prompts.missed,
        entity_types=prompts.entity_types,
        found=found.as_prompt_list(),
        names="\n".join(missed.names),
        input_text=missed.text,
    )


async def _unit_names(unit: TextUnit, prompts: _Prompts) -> UnitNames | None:
    """The unit's names for focused gleaning, found in a worker thread; None if spaCy is missing."""
    try:
        return await asyncio.to_thread(find_names, unit.text, prompts.types)
    except ConfigError as exc:
        logger.warning("gleaning sends whole text units: %s", exc)
        return None


async def _extract_unit(
    unit: TextUnit, chat: ChatModel, prompts: _Prompts, max_gleanings: int
) -> _UnitResult:
    """First pass plus gleaning for one unit. Never raises for a model failure: it is reported instead.

    The unit's names are found while the first request is in flight."""
    out = _UnitResult()
    focused = max_gleanings > 0 and prompts.scope == "names"
    names_task = asyncio.create_task(_unit_names(unit, prompts)) if focused else None
    try:
        parsed = await _first_pass(unit, chat, prompts, out)
    except BaseException:  # a spending cap or a cancelled run: the thread's result is not wanted
        if names_task is not None:
            names_task.cancel()
        raise
    names = await names_task if names_task is not None else None
    if out.failure is not None:
        logger.warning("text unit %s: %s", unit.id, out.failure)
        return out
    out.truncated = not parsed.complete
    # The first pass keeps every record, duplicates included: a second description of the same entity in
    # one reply is still evidence. Gleaning keeps only records that are new.
    out.entities.extend(parsed.entities)
    out.relationships.extend(
        r for r in parsed.relationships if normalize_title(r.source) != normalize_title(r.target)
    )
    found = _Found()
    found.add_new(parsed)
    # A reply cut off by the token limit lost records of every kind: the whole unit is read again.
    await _glean(unit, chat, prompts, found, max_gleanings, out, None if out.truncated else names)
    return out


def first_pass_prompt(prompts: _Prompts, text: str) -> str:
    return fill(prompts.extract, entity_types=prompts.entity_types, input_text=text)


def extraction_prompt(settings: Settings, project_root: Path | None) -> str:
    """The first-pass prompt with an empty text unit (what the cost estimate counts)."""
    return first_pass_prompt(_load_prompts(settings, project_root), "")


def _load_prompts(settings: Settings, project_root: Path | None) -> _Prompts:
    types = [t.strip().lower() for t in settings.extraction.entity_types if t.strip()]
    return _Prompts(
        extract=load_prompt(EXTRACT_PROMPT, project_root),
        glean=load_prompt(CONTINUE_PROMPT, project_root),
        missed=load_prompt(MISSED_PROMPT, project_root),
        types=tuple(types),
        scope=gleaning_scope(settings.extraction.gleaning_scope, types),
    )


@dataclass(frozen=True)
class _ExtractWork:
    """One unit's extraction, wherever it runs (picklable for Ray)."""

    prompts: _Prompts
    max_gleanings: int

    async def __call__(self, chat: ChatModel, unit: TextUnit) -> Outcome[_UnitResult]:
        result = await _extract_unit(unit, chat, self.prompts, self.max_gleanings)
        return Outcome(result, result.failure or result.gleaning_error)


async def extract_graph(
    text_units: Sequence[TextUnit],
    chat: ChatModel,
    settings: Settings,
    project_root: Path | None,
    on_progress: ProgressCallback | None = None,
    memo: ItemMemo | None = None,
    executor: Executor | None = None,
) -> ExtractionResult:
    """Extract raw entity and relationship records from every text unit.

    All units run concurrently (the chat model bounds requests in flight); with a Ray ``executor`` they run
    in batches on the cluster, every worker behind one shared rate limiter. One unit's failure is logged
    and listed in ``failed_units``; it never stops the others. Units found in ``memo`` are not sent; units
    extracted without any failure are put there.
    """
    runner = ItemRunner(memo, chat.meter, len(text_units), on_progress)
    work = _ExtractWork(_load_prompts(settings, project_root), settings.extraction.max_gleanings)
    entries = [Entry(unit.id, memo_key("extract_graph", unit.text), unit) for unit in text_units]
    results = await run_items(
        runner,
        entries,
        work,
        chat,
        settings,
        executor,
        encode=_UnitResult.to_memo,
        decode=lambda entry, value: _UnitResult.from_memo(value, entry.item.id),
    )
    out = ExtractionResult(gleaning_scope=work.prompts.scope)
    for unit, unit_result in zip(text_units, results, strict=True):
        if unit_result.failure is not None:
            out.failed_units.append((unit.id, unit_result.failure))
        elif unit_result.gleaning_error is not None:
            out.partial_units.append((unit.id, unit_result.gleaning_error))
        out.entities.extend(unit_result.entities)
        out.relationships.extend(unit_result.relationships)
        out.gleaning_calls += unit_result.gleaning_calls
        out.gleaned_records += unit_result.gleaned_records
        out.gleaning_failures += unit_result.gleaning_failures
        out.gleaning_skipped += int(unit_result.gleaning_skipped)
        out.rejected_records += unit_result.rejected_records
        out.format_retries += unit_result.format_retries
        out.truncated_replies += int(unit_result.truncated)
    out.reused_units = runner.reused
    logger.info(
        "extraction: %d entity and %d relationship records from %d text units (%d failed, %d gleaned)",
        len(out.entities),
        len(out.relationships),
        len(text_units),
        len(out.failed_units),
        out.gleaned_records,
    )
    return out
