"""The four judgements of lazy search, done by the model (:class:`LLMLazySteps`) or, with no model, by the
text itself (:class:`OfflineLazySteps`): expand the question, judge units, pull claims, write the answer.

The search loop (:mod:`.search`) is the same for both; the answerer picks the side.
"""

# ruff: noqa: ARG002  (the offline side ignores what only the model uses)
from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from graphrag_lite.config.prompts import fill, load_prompt
from graphrag_lite.config.settings import Settings
from graphrag_lite.errors import LLMError
from graphrag_lite.models.base import ChatModel, Embedder, Message
from graphrag_lite.models.json_reply import parse_json_object
from graphrag_lite.models.tokens import Tokenizer, get_tokenizer
from graphrag_lite.query.answer import Emit, emit_whole, write_answer
from graphrag_lite.query.citations import parse_cited_ids, strip_citations
from graphrag_lite.query.extractive import (
    EXTRACTIVE_LABEL,
    NO_EVIDENCE,
    Evidence,
    coverage,
    rank_evidence,
    split_sentences,
    terms,
)
from graphrag_lite.query.index_data import IndexData
from graphrag_lite.query.lazy.frontier import Visit
from graphrag_lite.query.sections import clean_cell, fill_budget

log = logging.getLogger(__name__)

MAX_CLAIMS_PER_CALL = 10
OFFLINE_MIN_COVERAGE = 1 / 3  # offline, a unit is relevant when it has a third of the question's words
OFFLINE_ANSWER_CLAIMS = 8
NOT_FOUND = "I could not find passages relevant to this question within the relevance budget."


@dataclass(frozen=True)
class Claim:
    """A cited statement (``[Data: Sources (n)]``) and how much it helps (0-100)."""

    statement: str
    score: int
    community_id: str


@dataclass(frozen=True)
class ClaimGroup:
    """Relevant units handed to one claim call, with the community each was found in."""

    unit_ids: list[str]
    communities: list[str]


def sources_table(unit_ids: Sequence[str], numbers: Mapping[str, int], data: IndexData) -> str:
    """The units as a ``Sources`` table, each under its number for the whole query."""
    rows = [f"{numbers[u]}|{clean_cell(data.text_unit_by_id[u].text)}" for u in unit_ids]
    return "-----Sources-----\nid|text\n" + "\n".join(rows) + "\n"


def claim_groups(
    visits: Sequence[Visit], data: IndexData, tokenizer: Tokenizer, max_tokens: int
) -> list[ClaimGroup]:
    """Relevant units in the order they were found, packed into groups of at most ``max_tokens``."""
    groups: list[ClaimGroup] = []
    units: list[str] = []
    communities: list[str] = []
    used = 0
    for visit in visits:
        for unit_id in visit.relevant:
            cost = data.text_unit_by_id[unit_id].n_tokens or tokenizer.count(
                data.text_unit_by_id[unit_id].text
            )
            if units and used + cost > max_tokens:
                groups.append(ClaimGroup(units, communities))
                units, communities, used = [], [], 0
            units.append(unit_id)
            communities.append(visit.community_id)
            used += cost
    if units:
        groups.append(ClaimGroup(units, communities))
    return groups


def claims_text(claims: Sequence[Claim], tokenizer: Tokenizer, max_tokens: int) -> tuple[str, int]:
    """The ranked claims as the reduce prompt's data, within ``max_tokens``; returns (text, claims used)."""
    parts = (
        f"----Claim {rank}----\nImportance: {claim.score}\n{claim.statement}\n"
        for rank, claim in enumerate(claims, start=1)
    )
    return fill_budget(parts, tokenizer, max_tokens)


class LazySteps(Protocol):
    """What lazy search asks of a judge; ``numbers``: unit id -> its number for the whole query."""

    async def subqueries(self, query: str) -> list[str]: ...

    async def judge(
        self, query: str, aspects: Sequence[str], visit: Visit, numbers: Mapping[str, int]
    ) -> None:
        """Set ``visit.relevant`` (or ``visit.failed``)."""
        ...

    async def claims(self, query: str, group: ClaimGroup, numbers: Mapping[str, int]) -> list[Claim]: ...

    async def answer(
        self, query: str, claims: Sequence[Claim], emit: Emit | None, max_tokens: int
    ) -> tuple[str, str]:
        """(answer, the claims text it was written from)."""
        ...


class LLMLazySteps:
    def __init__(self, chat: ChatModel, data: IndexData, settings: Settings) -> None:
        self.chat = chat
        self.data = data
        self.settings = settings
        self.tokenizer = get_tokenizer(settings.chunks.encoding)
        self.limit = asyncio.Semaphore(settings.query.lazy.concurrency)

    async def _ask_json(self, system: str, query: str) -> dict[str, object]:
        messages: list[Message] = [{"role": "system", "content": system}, {"role": "user", "content": query}]
        async with self.limit:
            reply = await self.chat.chat(messages, json_mode=self.settings.llm.json_mode)
        return parse_json_object(reply.text)

    async def _ask_list(self, system: str, query: str, key: str) -> list[object]:
        """The list under ``key`` of the model's JSON reply; ValueError when the reply has none."""
        raw = (await self._ask_json(system, query)).get(key)
        if not isinstance(raw, list):
            raise ValueError(f"the reply has no '{key}' list")
        return raw

    async def subqueries(self, query: str) -> list[str]:
        wanted = self.settings.query.lazy.subqueries
        if wanted == 0:
            return []
        template = load_prompt("lazy_subqueries", self.settings.root)
        try:
            raw = (await self._ask_json(fill(template, max_subqueries=wanted), query)).get("subqueries")
        except (ValueError, LLMError) as exc:
            log.warning("lazy search: no sub-queries (%s); searching with the question alone", exc)
            return []
        items = raw if isinstance(raw, list) else []
        return [q for q in dict.fromkeys(" ".join(str(i).split()) for i in items) if q][:wanted]

    async def judge(
        self, query: str, aspects: Sequence[str], visit: Visit, numbers: Mapping[str, int]
    ) -> None:
        template = load_prompt("lazy_relevance", self.settings.root)
        system = fill(
            template,
            aspects="; ".join(aspects) or "(the question itself)",
            passages=sources_table(visit.unit_ids, numbers, self.data),
        )
        try:
            raw = await self._ask_list(system, query, "relevant")
        except (ValueError, LLMError) as exc:
            visit.failed = True
            log.warning("lazy search: a relevance test of %d units failed (%s)", len(visit.unit_ids), exc)
            return
        said = {str(item).strip() for item in raw}
        visit.relevant = [u for u in visit.unit_ids if str(numbers[u]) in said]

    async def claims(self, query: str, group: ClaimGroup, numbers: Mapping[str, int]) -> list[Claim]:
        template = load_prompt("lazy_claims", self.settings.root)
        system = fill(
            template,
            max_claims=MAX_CLAIMS_PER_CALL,
            passages=sources_table(group.unit_ids, numbers, self.data),
        )
        try:
            raw = await self._ask_list(system, query, "claims")
        except (ValueError, LLMError) as exc:
            log.warning("lazy search: a claims call over %d units failed (%s)", len(group.unit_ids), exc)
            return []
        community = group.communities[0]
        out: list[Claim] = []
        for item in raw[:MAX_CLAIMS_PER_CALL]:
            if not isinstance(item, dict):
                continue
            statement = " ".join(str(item.get("statement", "")).split())
            try:
                score = max(0, min(100, round(float(item.get("score", 0)))))
            except (TypeError, ValueError):
                score = 0
            if statement:
                out.append(Claim(statement, score, _community_of(statement, group, numbers) or community))
        return out

    async def answer(
        self, query: str, claims: Sequence[Claim], emit: Emit | None, max_tokens: int
    ) -> tuple[str, str]:
        text, _ = claims_text(claims, self.tokenizer, max_tokens)
        template = load_prompt("lazy_reduce", self.settings.root)
        system = fill(template, response_type=self.settings.query.response_type, claim_data=text)
        messages: list[Message] = [{"role": "system", "content": system}, {"role": "user", "content": query}]
        return await write_answer(self.chat, messages, emit), text


def _community_of(statement: str, group: ClaimGroup, numbers: Mapping[str, int]) -> str | None:
    """The community of the first unit a claim cites (claims of one call may span communities)."""
    cited = parse_cited_ids(statement)["sources"]
    by_number = {str(numbers[u]): c for u, c in zip(group.unit_ids, group.communities, strict=True)}
    return next((by_number[n] for n in cited if n in by_number), None)


class OfflineLazySteps:
    """No model: the question alone, a unit is relevant when it holds a third of the question's content
    words, its claim is its best sentence, and the answer quotes the best claim of each community."""

    def __init__(self, data: IndexData, embedder: Embedder) -> None:
        self.data = data
        self.embedder = embedder

    async def subqueries(self, query: str) -> list[str]:
        return []

    async def judge(
        self, query: str, aspects: Sequence[str], visit: Visit, numbers: Mapping[str, int]
    ) -> None:
        words = terms(query)
        visit.relevant = [
            u
            for u in visit.unit_ids
            if words and coverage(words, self.data.text_unit_by_id[u].text) >= OFFLINE_MIN_COVERAGE
        ]

    async def claims(self, query: str, group: ClaimGroup, numbers: Mapping[str, int]) -> list[Claim]:
        out: list[Claim] = []
        for unit_id, community in zip(group.unit_ids, group.communities, strict=True):
            cite = f"Sources ({numbers[unit_id]})"
            sentences = split_sentences(self.data.text_unit_by_id[unit_id].text)
            picked = await rank_evidence(
                query, [Evidence(s, cite, 0.0, unit_id) for s in sentences], self.embedder, top_n=1
            )
            if picked:
                best = picked[0]
                out.append(
                    Claim(
                        f"{best.evidence.text} [Data: {cite}]", round(100 * max(0.0, best.score)), community
                    )
                )
        return out

    async def answer(
        self, query: str, claims: Sequence[Claim], emit: Emit | None, max_tokens: int
    ) -> tuple[str, str]:
        best_per_community: dict[str, Claim] = {}
        for claim in claims:
            best_per_community.setdefault(claim.community_id, claim)
        picked = list(best_per_community.values())[:OFFLINE_ANSWER_CLAIMS]
        if not picked:
            answer = NO_EVIDENCE
        else:
            lines = [
                f"{EXTRACTIVE_LABEL}: the best passage of each community whose passages match the question.",
                "",
            ]
            lines += [f"- {claim.statement}" for claim in picked]
            answer = "\n".join(lines)
        emit_whole(emit, answer)
        return answer, "\n".join(strip_citations(c.statement) for c in picked)
