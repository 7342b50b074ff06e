"""Local search: answer from the entity-centred context of :mod:`graphrag_lite.query.local.context`."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from graphrag_lite.config.prompts import fill, load_prompt
from graphrag_lite.config.settings import Settings
from graphrag_lite.models.base import Message
from graphrag_lite.query.answer import (
    Emit,
    query_run,
)
from graphrag_lite.query.answerer import answer_from_context
from graphrag_lite.query.engine import LocalOptions, QueryEnv
from graphrag_lite.query.extractive import Evidence, split_sentences
from graphrag_lite.query.index_data import IndexData
from graphrag_lite.query.local.context import LocalContext, build_local_context
from graphrag_lite.query.result import QueryResult


def local_messages(query: str, context: LocalContext, settings: Settings) -> list[Message]:
    """The chat messages of a local-search answer (system: instructions + tables; user: the question)."""
    template = load_prompt("local_search", settings.root)
    system = fill(template, response_type=settings.query.response_type, context_data=context.text)
    return [{"role": "system", "content": system}, {"role": "user", "content": query}]


def source_evidence(context_units: Sequence[str], data: IndexData) -> list[Evidence]:
    """Sentences of the context's text units, tagged with their short source id and a rank prior."""
    evidence: list[Evidence] = []
    count = max(1, len(context_units))
    for position, unit_id in enumerate(context_units):
        unit = data.text_unit_by_id[unit_id]
        prior = 1.0 - position / count
        evidence.extend(
            Evidence(s, f"Sources ({position + 1})", prior, unit_id) for s in split_sentences(unit.text)
        )
    return evidence


async def local_search(
    query: str, options: LocalOptions, env: QueryEnv, emit: Emit | None = None
) -> QueryResult:
    """Answer ``query`` from the entities it names or resembles and everything around them."""
    with query_run("local", env.chat) as run:
        context = await build_local_context(
            query,
            env.data,
            env.embedder,
            env.settings,
            options.context_tokens,
            options.community_level,
            options.history,
        )
        extra = {
            "matched_entities": [{"id": m.entity_id, "how": m.how} for m in context.entities],
            "context_tokens": context.tokens,
            "section_tokens": context.section_tokens,
        }
        messages = partial(local_messages, query, context, env.settings)
        return await answer_from_context(query, messages, context, env, run, emit, extra)
