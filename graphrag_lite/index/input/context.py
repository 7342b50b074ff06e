"""Contextual Retrieval (Anthropic, 2024): a sentence that situates each text unit in its document.

A unit cut from the middle of a document says "he", "the company" or "the second film"; search cannot match
it to a question that names them. With ``chunks.contextual_prefix`` and an LLM, each unit gets one or two
sentences written from its document, which BM25 and the text-unit vectors see before the unit's text (see
``store.records.search_text``); answers still quote the unit itself. Without an LLM the document title is the
only prefix.

The prompt puts the document before the passage, so all units of one document (or one window of a long
document) share a prompt prefix: servers with prompt caching bill that part once, and the usage meter
records what they report as ``cached_prompt_tokens``. Results are memoised per unit, so a re-run or an
update only asks about new units.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from graphrag_lite.config.prompts import fill, load_prompt
from graphrag_lite.errors import LLMError
from graphrag_lite.index.items import ItemRunner, Outcome, ProgressCallback
from graphrag_lite.models.base import ChatModel
from graphrag_lite.models.tokens import Tokenizer
from graphrag_lite.store.memo import ItemMemo, memo_key
from graphrag_lite.store.records import Document, TextUnit, UnitContext

logger = logging.getLogger(__name__)

PROMPT = "contextualize_unit"
MAX_WORDS = 70  # the prompt's limit; Anthropic's recipe asks for 50-100 tokens
_WORDS_KEPT = 2 * MAX_WORDS  # a reply that ignores the limit is cut here, so it cannot swamp the unit
_MAX_REPLY_TOKENS = 200


@dataclass
class ContextResult:
    contexts: list[UnitContext]  # in text-unit order, units without a context left out
    reused: int
    failed: list[tuple[str, str]]  # (unit id, reason), in text-unit order


def document_window(document: str, start: int, end: int, n_tokens: int, window_tokens: int) -> str:
    """The document text sent with the unit at characters [start, end): the whole document if it has at
    most ``window_tokens`` tokens, else the fixed window (half-overlapping, cut at whitespace) that holds
    the unit. Fixed windows, not one centred on each unit, so that neighbouring units share a prompt prefix.
    """
    if n_tokens <= window_tokens:
        return document
    chars_per_token = len(document) / n_tokens
    length = window_tokens * chars_per_token
    stride = length / 2
    index = max(0, math.ceil((end - length) / stride))
    index = min(index, int(start // stride))  # a unit longer than half a window starts it
    low, high = int(index * stride), min(len(document), int(index * stride + length))
    if low > 0:
        space = document.find(" ", low, start)
        low = space + 1 if space >= 0 else low
    if high < len(document):
        space = document.rfind(" ", end, high)
        high = space if space >= 0 else high
    return document[low:high]


def _clean(reply: str) -> str:
    words = reply.split()
    return re.sub(r"^(context|search context)\s*:\s*", "", " ".join(words[:_WORDS_KEPT]), flags=re.I)


def _unit_spans(document: Document, units: Sequence[TextUnit]) -> dict[str, tuple[int, int]]:
    """Character span of each unit in its document (units are cut in order and may overlap)."""
    spans: dict[str, tuple[int, int]] = {}
    cursor = 0
    for unit in sorted(units, key=lambda u: u.chunk_index):
        start = document.text.find(unit.text, cursor)
        if start < 0:  # text repaired while chunking (lone surrogates): place it at the cursor
            start = min(cursor, len(document.text))
        spans[unit.id] = (start, start + len(unit.text))
        cursor = start + 1
    return spans


def prompt_windows(
    documents: Sequence[Document], text_units: Sequence[TextUnit], tokenizer: Tokenizer, window_tokens: int
) -> Iterator[tuple[Document, TextUnit, str]]:
    """Each unit with its document and the document text its prompt carries (see ``document_window``)."""
    by_document: dict[str, list[TextUnit]] = {}
    for unit in text_units:
        by_document.setdefault(unit.document_id, []).append(unit)
    for document in documents:
        units = by_document.get(document.id, [])
        if not units:
            continue
        n_tokens = tokenizer.count(document.text)
        spans = _unit_spans(document, units)
        for unit in units:
            yield document, unit, document_window(document.text, *spans[unit.id], n_tokens, window_tokens)


async def contextualize_units(
    documents: Sequence[Document],
    text_units: Sequence[TextUnit],
    chat: ChatModel,
    tokenizer: Tokenizer,
    *,
    window_tokens: int,
    project_root: Path | None = None,
    on_progress: ProgressCallback | None = None,
    memo: ItemMemo | None = None,
) -> ContextResult:
    """One context per text unit from the LLM; a unit whose call fails gets none (and is retried next run)."""
    template = load_prompt(PROMPT, project_root)
    runner = ItemRunner(memo, chat.meter, len(text_units), on_progress)
    contexts: dict[str, str] = {}

    async def contextualize(document: Document, unit: TextUnit, window: str) -> None:
        prompt = fill(template, title=document.title, document=window, passage=unit.text, max_words=MAX_WORDS)

        async def compute() -> Outcome[str]:
            try:
                reply = await chat.chat([{"role": "user", "content": prompt}], max_tokens=_MAX_REPLY_TOKENS)
            except LLMError as exc:
                logger.warning("context of text unit %s failed, searching it by title only: %s", unit.id, exc)
                return Outcome("", f"context failed: {exc}")
            return Outcome(_clean(reply.text))

        key = memo_key(PROMPT, template, document.title, window, unit.text)
        contexts[unit.id] = await runner.run(unit.id, key, compute, encode=str, decode=str)

    await asyncio.gather(
        *(contextualize(*job) for job in prompt_windows(documents, text_units, tokenizer, window_tokens))
    )
    order = [u.id for u in text_units]
    return ContextResult(
        [UnitContext(unit_id, contexts[unit_id]) for unit_id in order if contexts.get(unit_id)],
        runner.reused,
        runner.failed(order),
    )
