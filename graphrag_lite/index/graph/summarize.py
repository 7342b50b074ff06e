"""One description per entity and relationship: summarise where merging left more than one.

Merging keeps every distinct description, one per line (:func:`.merge.split_descriptions`). Only items with
two or more are summarised, so a graph where most entities appear once costs few calls. Descriptions that
exceed ``extraction.summary_max_input_tokens`` are summarised in folds: chunks first, then
the chunk summaries, so no prompt outgrows the model's context. Without a chat model the summary is
extractive (the most informative distinct sentences), and a failed call keeps the descriptions themselves:
one bad reply never stops the step. An item whose name and descriptions were summarised before comes back
from the memo without a call: an update re-summarises only where the evidence changed.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from graphrag_lite.config.prompts import fill, load_prompt
from graphrag_lite.config.settings import Settings
from graphrag_lite.errors import LLMError
from graphrag_lite.index.graph.merge import join_descriptions, split_descriptions
from graphrag_lite.index.items import Entry, ItemRunner, Outcome, ProgressCallback, run_items
from graphrag_lite.models.base import ChatModel
from graphrag_lite.models.tokens import Tokenizer, get_tokenizer
from graphrag_lite.store.memo import ItemMemo, memo_key
from graphrag_lite.store.records import Entity, Relationship

if TYPE_CHECKING:
    from graphrag_lite.index.executor import Executor

logger = logging.getLogger(__name__)

PROMPT = "summarize_descriptions"
MAX_FOLD_ROUNDS = 4  # a guard: each round shrinks the input, real inputs need one or two

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9])")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_FENCE = re.compile(r"^```[A-Za-z]*\s*|\s*```$")
_LABEL = re.compile(r"^(?:summary|description|combined description)\s*:\s*", re.IGNORECASE)
# fmt: off
_STOPWORDS = frozenset({
    "the", "a", "an", "and", "or", "but", "of", "to", "in", "on", "at", "by", "for", "with", "from", "as",
    "is", "was", "are", "were", "be", "been", "being", "has", "have", "had", "his", "her", "their", "its",
    "this", "that", "these", "those", "he", "she", "they", "it", "who", "whom", "which", "what", "when",
    "where", "there", "then", "than", "not", "no", "so", "also", "into", "over", "under", "about", "after",
    "before", "while", "very", "more", "most", "some", "any", "all", "one", "two",
})
# fmt: on


@dataclass
class SummaryStats:
    """What the step did; the workflow stores it in ``output/stats.json``."""

    method: str = "llm"  # "llm" or "extractive"
    entities_summarized: int = 0
    relationships_summarized: int = 0
    llm_calls: int = 0  # summary requests sent (fold rounds included)
    folded: int = 0  # items whose descriptions needed more than one round
    failed: int = 0  # items that kept their descriptions because the model failed
    failed_items: list[tuple[str, str]] = field(default_factory=list)  # (item, reason), retried next run
    reused: int = 0  # items whose summary came from the memo (same descriptions as before)


@dataclass
class _Item:
    """One entity or relationship to summarise; ``apply`` writes the result back."""

    kind: str
    name: str
    descriptions: list[str]
    apply: Callable[[str], None]

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"

    @property
    def ask(self) -> _Ask:
        return _Ask(self.kind, self.name, self.descriptions)


def limit_words(text: str, max_words: int) -> str:
    words = text.split()
    return text if len(words) <= max_words else " ".join(words[:max_words])


def _clean_reply(text: str, max_words: int) -> str:
    text = _FENCE.sub("", text.strip())
    text = _LABEL.sub("", " ".join(text.split()))
    return limit_words(text.strip(), max_words)


def extractive_summary(descriptions: Sequence[str], max_words: int) -> str:
    """The most informative distinct sentences, in their original order, within ``max_words``.

    Greedy coverage: each pick is the sentence adding the most content words not yet covered (earlier
    sentences win ties), so repeated facts are dropped first. Deterministic.
    """
    sentences: list[str] = []
    seen: set[str] = set()
    for description in descriptions:
        for sentence in _SENTENCE_END.split(" ".join(description.split())):
            key = sentence.casefold().rstrip(" .")
            if key and key not in seen:
                seen.add(key)
                sentences.append(sentence)
    if not sentences:
        return ""
    words = [{w for w in _WORD.findall(s.lower()) if w not in _STOPWORDS and len(w) > 2} for s in sentences]
    covered: set[str] = set()
    chosen: set[int] = set()
    budget = max_words
    while True:
        best, best_gain = -1, 0
        for index, sentence_words in enumerate(words):
            if index in chosen or len(sentences[index].split()) > budget:
                continue
            gain = len(sentence_words - covered)
            if gain > best_gain:
                best, best_gain = index, gain
        if best < 0:
            break
        chosen.add(best)
        covered |= words[best]
        budget -= len(sentences[best].split())
    if not chosen:  # every sentence is longer than the limit: cut the first one
        return limit_words(sentences[0], max_words)
    return " ".join(sentences[i] for i in sorted(chosen))


def _fallback(descriptions: Sequence[str], max_words: int) -> str:
    """After a failed call: the descriptions themselves, whole ones first, cut at the word limit."""
    kept: list[str] = []
    budget = max_words
    for description in descriptions:
        n = len(description.split())
        if n <= budget:
            kept.append(description)
            budget -= n
        else:
            if budget > 0:
                kept.append(limit_words(description, budget))
            break
    return join_descriptions(kept)


def _pack(descriptions: Sequence[str], budget: int, tokenizer: Tokenizer) -> list[list[str]]:
    """Consecutive descriptions grouped into chunks of at most ``budget`` tokens (each chunk non-empty)."""
    chunks: list[list[str]] = [[]]
    used = 0
    for description in descriptions:
        size = tokenizer.count(description)
        if chunks[-1] and used + size > budget:
            chunks.append([])
            used = 0
        chunks[-1].append(description)
        used += size
    return chunks


@dataclass(frozen=True)
class _Ask:
    """What the model is given for one item (picklable, unlike the item's write-back)."""

    kind: str
    name: str
    descriptions: list[str]


@dataclass(frozen=True)
class _Summary:
    text: str
    calls: int = 0  # summary requests it took (0 when it came from the memo)
    folded: bool = False  # its descriptions needed more than one round


@dataclass(frozen=True)
class _SummaryWork:
    """One item's summary, wherever it runs (picklable for Ray); a failure keeps its descriptions."""

    template: str
    settings: Settings

    async def __call__(self, chat: ChatModel, ask: _Ask) -> Outcome[_Summary]:
        summarizer = _Summarizer(chat, self.template, self.settings)
        try:
            text = await summarizer.fold(ask)
        except LLMError as exc:
            logger.warning("summary of %s '%s' failed, keeping its descriptions: %s", ask.kind, ask.name, exc)
            fallback = _fallback(ask.descriptions, self.settings.extraction.summary_max_words)
            return Outcome(_Summary(fallback, summarizer.calls), f"summary failed: {exc}")
        return Outcome(_Summary(text, summarizer.calls, summarizer.folded))


class _Summarizer:
    """Calls the model for one item, folding when its descriptions exceed the input budget."""

    def __init__(self, chat: ChatModel, template: str, settings: Settings) -> None:
        self.chat, self.template = chat, template
        self.calls, self.folded = 0, False
        self.max_words = settings.extraction.summary_max_words
        self.budget = settings.extraction.summary_max_input_tokens
        self.tokenizer = get_tokenizer(settings.chunks.encoding)

    async def _call(self, item: _Ask, descriptions: Sequence[str]) -> str:
        prompt = fill(
            self.template,
            kind=item.kind,
            name=item.name,
            max_words=self.max_words,
            descriptions="\n".join(f"- {d}" for d in descriptions),
        )
        self.calls += 1
        response = await self.chat.chat([{"role": "user", "content": prompt}], json_mode=False)
        summary = _clean_reply(response.text or "", self.max_words)
        if not summary:
            raise LLMError(f"The model returned an empty summary for {item.kind} '{item.name}'.")
        return summary

    async def fold(self, item: _Ask) -> str:
        current = [self.tokenizer.truncate(d, self.budget) for d in item.descriptions]
        for round_number in range(MAX_FOLD_ROUNDS + 1):
            total = sum(self.tokenizer.count(d) for d in current)
            if total <= self.budget or len(current) == 1:
                return await self._call(item, current)
            if round_number == MAX_FOLD_ROUNDS:
                return await self._call(item, _pack(current, self.budget, self.tokenizer)[0])
            self.folded = True
            chunks = _pack(current, self.budget, self.tokenizer)
            current = list(await asyncio.gather(*(self._call(item, chunk) for chunk in chunks)))
        raise AssertionError("unreachable")  # pragma: no cover


def _items(entities: Sequence[Entity], relationships: Sequence[Relationship]) -> list[_Item]:
    items: list[_Item] = []
    for entity in entities:
        descriptions = split_descriptions(entity.description)
        if len(descriptions) > 1:
            items.append(_Item("entity", entity.title, descriptions, _setter(entity)))
    for rel in relationships:
        descriptions = split_descriptions(rel.description)
        if len(descriptions) > 1:
            items.append(_Item("relationship", f"{rel.source} -- {rel.target}", descriptions, _setter(rel)))
    return items


def _setter(record: Entity | Relationship) -> Callable[[str], None]:
    def apply(description: str) -> None:
        record.description = description

    return apply


async def summarize_descriptions(
    entities: Sequence[Entity],
    relationships: Sequence[Relationship],
    chat: ChatModel | None,
    settings: Settings,
    project_root: Path | None,
    on_progress: ProgressCallback | None = None,
    memo: ItemMemo | None = None,
    executor: Executor | None = None,
) -> SummaryStats:
    """Replace multi-description ``description`` fields (in place) by one summary of at most
    ``extraction.summary_max_words`` words. ``chat=None`` gives the extractive summary."""
    items = _items(entities, relationships)
    stats = SummaryStats(method="llm" if chat is not None else "extractive")
    max_words = settings.extraction.summary_max_words
    if chat is None:  # no model, nothing to memoise
        for done, item in enumerate(items, 1):
            item.apply(extractive_summary(item.descriptions, max_words))
            if on_progress is not None:
                on_progress(done, len(items))
    else:
        runner = ItemRunner(memo, chat.meter, len(items), on_progress)
        work = _SummaryWork(load_prompt(PROMPT, project_root), settings)
        entries = [
            Entry(item.label, memo_key(PROMPT, item.kind, item.name, item.descriptions), item.ask)
            for item in items
        ]
        summaries = await run_items(
            runner,
            entries,
            work,
            chat,
            settings,
            executor,
            encode=lambda summary: summary.text,
            decode=lambda _, value: _Summary(str(value)),
        )
        for item, summary in zip(items, summaries, strict=True):
            item.apply(summary.text)
            stats.llm_calls += summary.calls
            stats.folded += int(summary.folded)
        stats.reused = runner.reused
        stats.failed_items = sorted(runner.failures.items())  # completion order is not deterministic
        stats.failed = len(stats.failed_items)
    failed = dict(stats.failed_items)
    summarized = [item for item in items if item.label not in failed]
    stats.entities_summarized = sum(1 for item in summarized if item.kind == "entity")
    stats.relationships_summarized = len(summarized) - stats.entities_summarized
    return stats
