"""DRIFT step 3: reduce the hierarchy's answers into the final answer.

The answers (most relevant first) are packed into batches of ``reduce_max_tokens``. One batch is reduced by
one call; with more, each extra batch is first condensed by the same prompt (map) and the condensed parts
join the first batch's findings in the final call (reduce). Citations were renumbered into one book when
the answers joined the tree, so the final answer's citations resolve like any other method's. Without a
model the best quotes of every answer are ranked against the question (the extractive answerer).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from graphrag_lite.config.prompts import fill, load_prompt
from graphrag_lite.config.settings import Settings
from graphrag_lite.errors import LLMError
from graphrag_lite.models.base import ChatModel, Embedder, Message
from graphrag_lite.models.tokens import Tokenizer, get_tokenizer
from graphrag_lite.query.answer import Emit, emit_whole, write_answer
from graphrag_lite.query.drift.budget import CallBudget, budgeted_chat, prompt_tokens
from graphrag_lite.query.drift.offline import named_entities, usual_name
from graphrag_lite.query.drift.tree import DriftNode
from graphrag_lite.query.extractive import Evidence, ScoredEvidence, format_extractive, rank_evidence
from graphrag_lite.query.index_data import IndexData

log = logging.getLogger(__name__)

NOT_FOUND = "I could not find relevant information in the index for this question."
CONDENSE_RESPONSE = (
    "a condensed list of the facts in these findings that bear on the question, each keeping its citations"
)
MIN_FINDINGS_TOKENS = 200  # below this the reduce is skipped: the best findings are returned as they are
CONDENSED_TOKENS = 400  # expected length of one condensed batch (room kept for it in the final call)
FALLBACK_FINDINGS = 5
EXTRACTIVE_QUOTES = 5
QUOTES_PER_ANSWER = 1
HISTORY_TURNS = 6


@dataclass
class ReduceOutcome:
    answer: str
    context_text: str
    findings_used: int
    batches: int  # findings batches read (1 = a single reduce call)
    mode: str  # "llm", "extractive", "not_found", or "fallback: <why>" when the final call could not run


def finding_block(rank: int, node: DriftNode) -> str:
    return f"----Finding {rank} (score {node.score})----\nQuestion: {node.question}\n{node.answer.strip()}\n"


def pack_findings(nodes: Sequence[DriftNode], tokenizer: Tokenizer, max_tokens: int) -> list[list[str]]:
    """Finding blocks in rank order, in batches of at most ``max_tokens`` (an over-long block is cut)."""
    batches: list[list[str]] = [[]]
    used = 0
    for rank, node in enumerate(nodes, start=1):
        block = finding_block(rank, node)
        cost = tokenizer.count(block)
        if cost > max_tokens:
            block, cost = tokenizer.truncate(block, max_tokens), max_tokens
        if used + cost > max_tokens and batches[-1]:
            batches.append([])
            used = 0
        batches[-1].append(block)
        used += cost
    return [b for b in batches if b]


def reserve_for_reduce(nodes: Sequence[DriftNode], query: str, settings: Settings) -> int:
    """Prompt tokens the final reduce is expected to need (kept free by the follow-up rounds)."""
    tokenizer = get_tokenizer(settings.chunks.encoding)
    findings = sum(tokenizer.count(finding_block(i, n)) for i, n in enumerate(nodes, start=1))
    template = tokenizer.count(load_prompt("drift_reduce", settings.root))
    return template + tokenizer.count(query) + min(findings, settings.query.drift.reduce_max_tokens)


def _messages(
    query: str, findings: str, response_type: str, settings: Settings, history: Sequence[Message] | None
) -> list[Message]:
    system = fill(
        load_prompt("drift_reduce", settings.root), response_type=response_type, answers_data=findings
    )
    turns = list(history or [])[-HISTORY_TURNS:]
    return [{"role": "system", "content": system}, *turns, {"role": "user", "content": query}]


async def reduce_with_model(
    query: str,
    nodes: Sequence[DriftNode],
    chat: ChatModel,
    settings: Settings,
    *,
    budget: CallBudget,
    emit: Emit | None,
    history: Sequence[Message] | None,
    max_tokens: int,
) -> ReduceOutcome:
    """The final answer written by the model (streamed through ``emit`` when given).

    The findings fill at most ``max_tokens`` and never more than the token budget has left, so a search
    that spent most of its budget still gets a (shorter) reduce rather than none.
    """
    if not nodes:
        emit_whole(emit, NOT_FOUND)
        return ReduceOutcome(NOT_FOUND, "", 0, 0, "not_found")
    tokenizer = get_tokenizer(settings.chunks.encoding)
    response_type = settings.query.response_type
    overhead = prompt_tokens(_messages(query, "", response_type, settings, history), tokenizer)
    room = min(max_tokens, budget.tokens_left() - overhead)
    if room < MIN_FINDINGS_TOKENS:
        return _give_up(nodes, emit, f"max_tokens ({budget.max_tokens}) reached")
    batches = pack_findings(nodes, tokenizer, room)
    parts, used = list(batches[0]), len(batches[0])
    if len(batches) > 1:  # map: condense every batch, then reduce the condensed parts
        parts, used = await _condense(query, batches, chat, settings, budget, tokenizer, overhead)
    while parts:  # condensed parts may come back longer than the budget has left: drop the last
        messages = _messages(query, "\n".join(parts), response_type, settings, history)
        tokens = prompt_tokens(messages, tokenizer)
        if budget.take(tokens, final=True):
            break
        parts.pop()
    else:
        return _give_up(nodes, emit, budget.refused or "nothing left to reduce")
    text = "\n".join(parts)
    try:
        answer = await write_answer(chat, messages, emit)
    except LLMError as exc:
        log.warning("DRIFT: the final reduce failed (%s)", exc)
        return _give_up(nodes, emit, f"the final call failed: {exc}")
    finally:
        budget.settle(tokens, final=True)
    return ReduceOutcome(answer, text, used, len(batches), "llm")


async def _condense(
    query: str,
    batches: list[list[str]],
    chat: ChatModel,
    settings: Settings,
    budget: CallBudget,
    tokenizer: Tokenizer,
    overhead: int,
) -> tuple[list[str], int]:
    """One condensing call per batch, most relevant batch first, while the budget lasts (keeping room for
    the final call); returns the condensed parts and how many findings they cover."""
    budget.keep_for_reduce(overhead + CONDENSED_TOKENS * len(batches))
    parts: list[str] = []
    used = 0
    for index, batch in enumerate(batches, start=1):
        messages = _messages(query, "\n".join(batch), CONDENSE_RESPONSE, settings, None)
        try:
            response = await budgeted_chat(chat, messages, budget, tokenizer)
        except LLMError as exc:
            log.warning("DRIFT: condensing findings batch %d failed (%s)", index, exc)
            continue
        if response is None:
            break  # the budget is spent: the less relevant batches are left out
        parts.append(f"----Condensed findings, part {index}----\n{response.text.strip()}\n")
        used += len(batch)
    return parts, used


async def with_hops(
    query: str,
    picked: Sequence[ScoredEvidence],
    owner: dict[Evidence, DriftNode],
    nodes: Sequence[DriftNode],
    data: IndexData,
    embedder: Embedder,
) -> list[ScoredEvidence]:
    """``picked``, each quote from a follow-up about an entity the question does not name preceded by
    the *hop*: the quote of the search (any answer's) that names that entity together with one the
    question names, the one that best matches the question and the entity.

    "What does the employer of Bob Cratchit think of Christmas?": what the follow-up "What is the role of
    Ebenezer Scrooge?" found about Christmas answers the question only through "Bob Cratchit, clerk to
    Ebenezer Scrooge." (a quote of another answer, and not that answer's best one), so that quote comes
    with it. The hop is added, not ranked against the other quotes: it is evidence for the chain, not for
    the question's last word."""
    asked = named_entities(data, query)
    quotes = list(dict.fromkeys(e for node in nodes for e in node.evidence))
    names = {e: named_entities(data, e.text) for e in quotes}
    shown = {p.evidence.text for p in picked}
    out: list[ScoredEvidence] = []
    for item in picked:
        node = owner.get(item.evidence)
        subjects = named_entities(data, node.question) - asked if node is not None else set()
        for subject in sorted(subjects):
            links = [e for e in quotes if subject in names[e] and names[e] & asked and e.text not in shown]
            focus = f"{query} {usual_name(data, subject)}"
            for hop in await rank_evidence(focus, links, embedder, top_n=1):
                out.append(hop)
                shown.add(hop.evidence.text)
        out.append(item)
    return out


def _give_up(nodes: Sequence[DriftNode], emit: Emit | None, why: str) -> ReduceOutcome:
    answer = _fallback(nodes, why)
    emit_whole(emit, answer)
    return ReduceOutcome(answer, "", len(nodes[:FALLBACK_FINDINGS]), 0, f"fallback: {why}")


def _fallback(nodes: Sequence[DriftNode], why: str) -> str:
    """The best answers as they are (they keep their citations) when no final call could be made."""
    parts = [f"Not reduced ({why}); the most relevant findings follow.", ""]
    parts += [f"**{n.question}**\n{n.answer.strip()}\n" for n in nodes[:FALLBACK_FINDINGS]]
    return "\n".join(parts).strip()


async def reduce_extractive(
    query: str, nodes: Sequence[DriftNode], data: IndexData, embedder: Embedder, emit: Emit | None
) -> ReduceOutcome:
    """No model: each answer's best quotes (ranked for its own question when it was answered) compete
    for the final answer by relevance to the original question; an answer with a higher score gives its
    quotes a higher prior. Taking only the best few per answer keeps every hop of the tree in the running
    rather than letting the passages that name the question's own entities crowd out the rest. A quote
    from a follow-up about someone the question does not name comes with the quote that links them
    (:func:`with_hops`)."""
    owner: dict[Evidence, DriftNode] = {}
    for node in nodes:
        for e in node.evidence[:QUOTES_PER_ANSWER]:
            owner.setdefault(Evidence(e.text, e.cite, node.score / 100.0, e.record_id), node)
    picked = await rank_evidence(query, list(owner), embedder, top_n=EXTRACTIVE_QUOTES)
    picked = await with_hops(query, picked, owner, nodes, data, embedder)
    answer = format_extractive(picked, what="findings of the DRIFT search")
    emit_whole(emit, answer)
    text = "\n".join(finding_block(rank, node) for rank, node in enumerate(nodes, start=1))
    return ReduceOutcome(answer, text, len(nodes), 1 if nodes else 0, "extractive")
