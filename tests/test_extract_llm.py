"""LLM graph extraction (first pass + gleaning) and description summaries.

Logic tests use a small scripted chat model; the end-to-end tests go over HTTP to the local test server
(``support.replies.extraction`` plays the model) and count calls in the server's log.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import pytest
from conftest import llm_settings
from support import TestLLMServer
from support.replies.extraction import EXTRACT_MARKER, GLEAN_MARKER, SUMMARY_MARKER

from graphrag_lite.config.settings import Settings
from graphrag_lite.errors import LLMError
from graphrag_lite.index.extract.glean_focus import name_words
from graphrag_lite.index.extract.llm import extract_graph
from graphrag_lite.index.graph.merge import join_descriptions, merge_graph, split_descriptions
from graphrag_lite.index.graph.summarize import extractive_summary, summarize_descriptions
from graphrag_lite.index.input.chunking import chunk_documents
from graphrag_lite.models.base import ChatModel, ChatResponse, Message, UsageMeter
from graphrag_lite.models.factory import create_chat
from graphrag_lite.models.tokens import count_tokens, get_tokenizer
from graphrag_lite.store.records import Document, Entity, Relationship, TextUnit

CAROL = (
    Path(__file__).resolve().parent.parent
    / "examples"
    / "christmas_carol"
    / "input"
    / "a_christmas_carol.txt"
)
EXTRACT_KIND = "extraction:" + EXTRACT_MARKER[:40]
GLEAN_KIND = "extraction:" + GLEAN_MARKER[:40]
SUMMARY_KIND = "extraction:" + SUMMARY_MARKER[:40]


# -- helpers ---------------------------------------------------------------------------------------


class ScriptedChat:
    """A ChatModel whose reply is ``script(prompt)``; records every prompt. Raise LLMError to fail."""

    model = "scripted"

    def __init__(self, script: Callable[[str], str], delay: Callable[[str], float] | None = None) -> None:
        self.meter = UsageMeter()
        self.script = script
        self.delay = delay
        self.prompts: list[str] = []

    async def chat(
        self,
        messages: Sequence[Message],
        *,
        json_mode: bool = False,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> ChatResponse:
        prompt = messages[-1]["content"]
        self.prompts.append(prompt)
        if self.delay is not None:
            await asyncio.sleep(self.delay(prompt))
        return ChatResponse(text=self.script(prompt))

    async def stream(
        self, messages: Sequence[Message], *, temperature: float | None = None, max_tokens: int | None = None
    ) -> AsyncIterator[str]:
        yield (await self.chat(messages)).text


def unit(index: int, text: str) -> TextUnit:
    return TextUnit(
        id=f"t-{index}", document_id="d-1", chunk_index=index, text=text, n_tokens=count_tokens(text)
    )


def is_glean(prompt: str) -> bool:
    return GLEAN_MARKER in prompt


def settings_for(tmp_path: Path, **extraction: object) -> Settings:
    return Settings.model_validate({"root": tmp_path, "extraction": extraction})


def carol_excerpt(words: int = 3000) -> str:
    """The first ``words`` words after the STAVE ONE heading of A Christmas Carol."""
    text = CAROL.read_text(encoding="utf-8")
    start = re.search(r"^STAVE ONE\s*$", text, re.MULTILINE)
    assert start is not None
    body = text[start.start() :]
    ends = [m.start() for m in re.finditer(r"\S+", body)]
    return body[: ends[words]] if len(ends) > words else body


def carol_units(size: int = 1200, overlap: int = 100) -> list[TextUnit]:
    doc = Document(
        id="d-carol",
        title="A Christmas Carol",
        source="a_christmas_carol.txt",
        text=carol_excerpt(),
        content_hash="carol",
    )
    return chunk_documents([doc], size, overlap, get_tokenizer("cl100k_base"))


FIRST = '("entity"|Ebenezer Scrooge|person|A miser who keeps a counting-house.)\n("entity"|Jacob Marley|person|His late partner.)\n("relationship"|Ebenezer Scrooge|Jacob Marley|Partners for many years.|9)\n<|DONE|>'  # noqa: E501
MISSED = '("entity"|Bob Cratchit|person|The clerk.)\n("relationship"|Ebenezer Scrooge|Bob Cratchit|Employs him.|6)\n<|DONE|>'  # noqa: E501


# -- logic (scripted model) ------------------------------------------------------------------------


async def test_gleaning_sends_found_titles_not_the_previous_reply(tmp_path: Path) -> None:
    def script(prompt: str) -> str:
        if not is_glean(prompt):
            return FIRST
        return MISSED if "Bob Cratchit (person)" not in prompt else "<|DONE|>"

    chat = ScriptedChat(script)
    result = await extract_graph(
        [unit(0, "Scrooge and Marley. Bob Cratchit.")],
        chat,
        settings_for(tmp_path, max_gleanings=5, gleaning_scope="unit"),
        tmp_path,
    )
    assert [e.title for e in result.entities] == ["Ebenezer Scrooge", "Jacob Marley", "Bob Cratchit"]
    assert [(r.source, r.target) for r in result.relationships] == [
        ("Ebenezer Scrooge", "Jacob Marley"),
        ("Ebenezer Scrooge", "Bob Cratchit"),
    ]
    # first call + 2 gleaning calls: the second gleaning reply adds nothing, so the loop stops (not 5)
    assert len(chat.prompts) == 3 and result.gleaning_calls == 2 and result.gleaned_records == 2
    first_glean = chat.prompts[1]
    assert "Ebenezer Scrooge (person)" in first_glean and "Ebenezer Scrooge -- Jacob Marley" in first_glean
    assert "A miser who keeps a counting-house." not in first_glean  # no descriptions, no previous reply
    assert "Scrooge and Marley. Bob Cratchit." in first_glean
    assert "person, organization" not in first_glean and "organization, person, geo, event" in first_glean


FOG = "The fog came pouring in at every chink and keyhole, and was so dense that the houses were phantoms. "


async def test_gleaning_sends_only_sentences_naming_what_was_missed(tmp_path: Path) -> None:
    text = f"Scrooge and Marley kept the counting-house. It was cold. {FOG * 3}Bob Cratchit copied letters."

    def script(prompt: str) -> str:
        return MISSED if is_glean(prompt) else FIRST

    chat = ScriptedChat(script)
    result = await extract_graph([unit(0, text)], chat, settings_for(tmp_path, max_gleanings=5), tmp_path)
    assert [e.title for e in result.entities] == ["Ebenezer Scrooge", "Jacob Marley", "Bob Cratchit"]
    # one gleaning round: after it every name of the unit is covered, so no second round is sent
    assert len(chat.prompts) == 2 and result.gleaning_calls == 1 and result.gleaned_records == 2
    glean = chat.prompts[1]
    names = glean.split("-----NAMES START-----")[1].split("-----NAMES END-----")[0].split()
    sent = glean.split("-----TEXT START-----")[1].split("-----TEXT END-----")[0]
    assert names == ["Bob", "Cratchit"]
    assert "Bob Cratchit copied letters." in sent and "…" in sent
    assert "It was cold" not in sent and "counting-house" not in sent  # covered names stay home
    assert "fog" not in sent
    assert "Ebenezer Scrooge -- Jacob Marley" in glean


async def test_a_short_unit_is_sent_whole_when_that_is_shorter(tmp_path: Path) -> None:
    text = "Scrooge and Marley kept the counting-house. It was cold. Bob Cratchit copied letters."
    chat = ScriptedChat(lambda p: MISSED if is_glean(p) else FIRST)
    await extract_graph([unit(0, text)], chat, settings_for(tmp_path), tmp_path)
    assert (
        len(chat.prompts) == 2 and text in chat.prompts[1] and "-----NAMES START-----" not in chat.prompts[1]
    )


async def test_no_gleaning_round_when_the_first_pass_found_every_name(tmp_path: Path) -> None:
    chat = ScriptedChat(lambda p: FIRST)
    text = "Old Scrooge and Marley kept the counting-house. It was cold. Mr. Scrooge's breath froze."
    result = await extract_graph([unit(0, text)], chat, settings_for(tmp_path, max_gleanings=2), tmp_path)
    assert len(chat.prompts) == 1 and result.gleaning_calls == 0 and result.gleaning_skipped == 1


async def test_types_that_need_not_be_names_glean_the_whole_unit(tmp_path: Path) -> None:
    text = "Scrooge and Marley kept the counting-house. It was cold. Bob Cratchit used a quill pen."
    chat = ScriptedChat(lambda p: "<|DONE|>" if is_glean(p) else FIRST)
    settings = settings_for(tmp_path, entity_types=["person", "technology"])
    await extract_graph([unit(0, text)], chat, settings, tmp_path)
    assert (
        len(chat.prompts) == 2 and text in chat.prompts[1] and "-----NAMES START-----" not in chat.prompts[1]
    )


async def test_gleaning_duplicates_are_not_new_records(tmp_path: Path) -> None:
    chat = ScriptedChat(lambda p: FIRST.replace("A miser", "Another miser") if is_glean(p) else FIRST)
    settings = settings_for(tmp_path, max_gleanings=3, gleaning_scope="unit")
    result = await extract_graph([unit(0, "text")], chat, settings, tmp_path)
    assert len(chat.prompts) == 2  # the gleaning reply repeated known records: stop
    assert len(result.entities) == 2 and result.gleaned_records == 0


async def test_no_gleaning_when_disabled(tmp_path: Path) -> None:
    chat = ScriptedChat(lambda p: FIRST)
    await extract_graph([unit(0, "a"), unit(1, "b")], chat, settings_for(tmp_path, max_gleanings=0), tmp_path)
    assert len(chat.prompts) == 2 and not any(is_glean(p) for p in chat.prompts)


async def test_truncated_first_reply_is_completed_by_gleaning(tmp_path: Path) -> None:
    cut = FIRST[: FIRST.index('("relationship"')] + '("relationship"|Ebenezer Scrooge|Jac'

    def script(prompt: str) -> str:
        if not is_glean(prompt):
            return cut
        if "Ebenezer Scrooge -- Jacob Marley" in prompt:
            return "<|DONE|>"
        return '("relationship"|Ebenezer Scrooge|Jacob Marley|Partners.|9)\n<|DONE|>'

    chat = ScriptedChat(script)
    result = await extract_graph([unit(0, "text")], chat, settings_for(tmp_path, max_gleanings=2), tmp_path)
    assert result.truncated_replies == 1
    # the cut record ("Jac") is kept as written; gleaning adds the real pair
    assert ("Ebenezer Scrooge", "Jacob Marley") in [(r.source, r.target) for r in result.relationships]


async def test_failures_are_reported_not_raised(tmp_path: Path) -> None:
    def script(prompt: str) -> str:
        if "UNIT-FAIL" in prompt:
            raise LLMError("server kept answering 500")
        if "UNIT-GARBAGE" in prompt:
            return "I'm sorry, I can't help with that."
        if "UNIT-ONCE" in prompt and "Reply with records only" not in prompt:
            return "Here is what I found: Scrooge is a person."  # fixed by the format reminder
        if "UNIT-EMPTY" in prompt:
            return "<|DONE|>"
        if "UNIT-GLEAN-FAIL" in prompt and is_glean(prompt):
            raise LLMError("timeout")
        return FIRST

    units = [
        unit(0, "UNIT-OK"),
        unit(1, "UNIT-FAIL"),
        unit(2, "UNIT-GARBAGE"),
        unit(3, "UNIT-EMPTY"),
        unit(4, "UNIT-GLEAN-FAIL"),
        unit(5, "UNIT-ONCE"),
    ]
    chat = ScriptedChat(script)
    progress: list[tuple[int, int]] = []
    result = await extract_graph(
        units,
        chat,
        settings_for(tmp_path, gleaning_scope="unit"),
        tmp_path,
        on_progress=lambda done, total: progress.append((done, total)),
    )
    failed = dict(result.failed_units)
    assert set(failed) == {"t-1", "t-2"}
    assert "server kept answering 500" in failed["t-1"]
    assert "unparseable" in failed["t-2"] and "I'm sorry" in failed["t-2"]
    assert {e.text_unit_id for e in result.entities} == {"t-0", "t-4", "t-5"}  # t-4 keeps its first pass
    assert result.gleaning_failures == 1
    # garbage is asked again once with a format reminder (a new request, so no cached bad reply)
    assert sum("UNIT-GARBAGE" in p for p in chat.prompts) == 2
    assert result.format_retries == 2  # t-2 and t-5
    assert progress[-1] == (6, 6) and len(progress) == 6


async def test_results_follow_text_unit_order_not_completion_order(tmp_path: Path) -> None:
    def script(prompt: str) -> str:
        name = re.search(r"NAME-(\w+)", prompt)
        assert name is not None
        return f'("entity"|{name.group(1)}|person|x)\n<|DONE|>'

    # the first unit answers last
    chat = ScriptedChat(script, delay=lambda p: 0.05 if "NAME-Alpha" in p else 0.0)
    units = [unit(0, "NAME-Alpha"), unit(1, "NAME-Beta"), unit(2, "NAME-Gamma")]
    result = await extract_graph(units, chat, settings_for(tmp_path, max_gleanings=0), tmp_path)
    assert [e.title for e in result.entities] == ["Alpha", "Beta", "Gamma"]
    assert [e.text_unit_id for e in result.entities] == ["t-0", "t-1", "t-2"]


def test_scripted_chat_is_a_chat_model() -> None:
    assert isinstance(ScriptedChat(lambda p: ""), ChatModel)


# -- end to end over HTTP --------------------------------------------------------------------------


async def test_extraction_over_http_on_a_christmas_carol(llm_server: TestLLMServer, tmp_path: Path) -> None:
    settings = llm_settings(llm_server, tmp_path)
    chat = create_chat(settings, UsageMeter())
    assert chat is not None
    units = carol_units()
    assert len(units) >= 4
    result = await extract_graph(units, chat, settings, tmp_path)
    assert result.failed_units == []
    merged = merge_graph(result.entities, result.relationships, units)
    titles = {e.title: e for e in merged.entities}
    assert "Scrooge" in titles and "Marley" in titles
    assert titles["Scrooge"].type == "person"
    assert "Mr. Scrooge" in titles["Scrooge"].aliases  # "Mr. Scrooge" and "Scrooge" share a text unit
    assert titles["Scrooge"].frequency == len(units)
    edge = next(r for r in merged.relationships if {r.source, r.target} == {"Marley", "Scrooge"})
    assert edge.weight > 1 and "Marley" in edge.description
    assert "Camden Town" in titles and titles["Camden Town"].type == "geo"
    # one first-pass call per unit, at most one gleaning call per unit (max_gleanings=1)
    assert len(llm_server.requests(EXTRACT_KIND)) == len(units)
    gleans = llm_server.requests(GLEAN_KIND)
    assert 1 <= len(gleans) <= len(units)
    assert result.gleaned_records > 0  # the test model lists only the most mentioned entities first
    for request in gleans:  # the gleaning prompt carries the found list, not the first reply
        prompt = request.messages[-1]["content"]
        assert "-----FOUND START-----" in prompt and '("entity"|' not in prompt.split("-----FOUND START")[1]


async def test_gleaning_stops_at_the_first_round_without_news(
    llm_server: TestLLMServer, tmp_path: Path
) -> None:
    settings = llm_settings(llm_server, tmp_path)
    settings.extraction.max_gleanings = 3
    settings.extraction.gleaning_scope = "unit"  # each request names its unit by holding its whole text
    chat = create_chat(settings, UsageMeter())
    assert chat is not None
    units = carol_units()
    await extract_graph(units, chat, settings, tmp_path)
    gleans = llm_server.requests(GLEAN_KIND)
    assert len(gleans) < 3 * len(units)
    per_unit: dict[str, list[str]] = {}
    for request in gleans:
        prompt = request.messages[-1]["content"]
        key = next(u.id for u in units if u.text in prompt)
        per_unit.setdefault(key, []).append(request.reply)
    for replies in per_unit.values():
        assert len(replies) <= 2
        assert replies[-1].strip() == "<|DONE|>"


async def test_focused_gleaning_over_http_sends_less_than_the_units(
    llm_server: TestLLMServer, tmp_path: Path
) -> None:
    settings = llm_settings(llm_server, tmp_path)
    chat = create_chat(settings, UsageMeter())
    assert chat is not None
    units = carol_units()
    result = await extract_graph(units, chat, settings, tmp_path)
    gleans = [r.messages[-1]["content"] for r in llm_server.requests(GLEAN_KIND)]
    assert gleans and result.gleaned_records > 0
    sent = [p.split("-----TEXT START-----")[1].split("-----TEXT END-----")[0] for p in gleans]
    assert sum(map(count_tokens, sent)) < 0.6 * sum(u.n_tokens for u in units)
    for prompt, text in zip(gleans, sent, strict=True):
        names = prompt.split("-----NAMES START-----")[1].split("-----NAMES END-----")[0].strip().splitlines()
        assert names and all(name_words(name) <= name_words(text) for name in names)


async def test_a_unit_whose_requests_all_fail_is_reported(llm_server: TestLLMServer, tmp_path: Path) -> None:
    settings = llm_settings(llm_server, tmp_path, concurrency=1)  # requests arrive in unit order
    chat = create_chat(settings, UsageMeter())
    assert chat is not None
    units = carol_units()
    llm_server.fail_next("500", n=settings.llm.max_retries + 1)  # every attempt of the first request
    result = await extract_graph(units, chat, settings, tmp_path)
    assert [unit_id for unit_id, _ in result.failed_units] == [units[0].id]
    assert "500" in result.failed_units[0][1] or "error" in result.failed_units[0][1].lower()
    assert {e.text_unit_id for e in result.entities} == {u.id for u in units[1:]}
    failed = [e for e in llm_server.log if e.fault == "500"]
    assert len(failed) == settings.llm.max_retries + 1


# -- summaries -------------------------------------------------------------------------------------


def entity(title: str, *descriptions: str) -> Entity:
    return Entity(id=f"e-{title}", title=title, type="person", description=join_descriptions(descriptions))


async def test_summaries_only_for_items_with_several_descriptions(
    llm_server: TestLLMServer, tmp_path: Path
) -> None:
    settings = llm_settings(llm_server, tmp_path)
    settings.extraction.summary_max_words = 20
    chat = create_chat(settings, UsageMeter())
    scrooge = entity(
        "Ebenezer Scrooge",
        "A covetous old sinner. Hard and sharp as flint.",
        "Marley's sole executor and sole friend.",
        "A covetous old sinner!",
    )
    marley = entity("Jacob Marley", "Scrooge's partner, dead seven years.")
    edge = Relationship(
        id="r-1",
        source="Ebenezer Scrooge",
        target="Jacob Marley",
        description=join_descriptions(["Partners in business.", "Scrooge signed his burial."]),
    )
    progress: list[tuple[int, int]] = []
    stats = await summarize_descriptions(
        [scrooge, marley], [edge], chat, settings, tmp_path, on_progress=lambda d, t: progress.append((d, t))
    )
    requests = llm_server.requests(SUMMARY_KIND)
    assert len(requests) == 2 == stats.llm_calls  # Marley has one description: no call
    assert (stats.entities_summarized, stats.relationships_summarized, stats.failed) == (1, 1, 0)
    assert scrooge.description == "A covetous old sinner. Marley's sole executor and sole friend."
    assert marley.description == "Scrooge's partner, dead seven years."
    assert edge.description == "Partners in business. Scrooge signed his burial."
    assert split_descriptions(scrooge.description) == [scrooge.description]  # one line: not summarised again
    assert progress[-1] == (2, 2)
    assert any('"Ebenezer Scrooge"' in r.messages[-1]["content"] for r in requests)


async def test_summaries_fold_when_descriptions_exceed_the_input_budget(
    llm_server: TestLLMServer, tmp_path: Path
) -> None:
    settings = llm_settings(llm_server, tmp_path)
    settings.extraction.summary_max_input_tokens = 256
    settings.extraction.summary_max_words = 30
    chat = create_chat(settings, UsageMeter())
    descriptions = [
        f"In scene {i} Scrooge meets visitor number {i} and refuses them a coin, saying "
        f"that the workhouses are open and the treadmill is busy for case {i}."
        for i in range(40)
    ]
    scrooge = entity("Ebenezer Scrooge", *descriptions)
    total_tokens = sum(count_tokens(d) for d in descriptions)
    assert total_tokens > 3 * 256
    stats = await summarize_descriptions([scrooge], [], chat, settings, tmp_path)
    requests = llm_server.requests(SUMMARY_KIND)
    assert stats.folded == 1 and stats.failed == 0
    assert len(requests) == stats.llm_calls >= 5  # >= 4 chunk summaries, then the summary of summaries
    for request in requests:
        block = request.messages[-1]["content"].split("-----DESCRIPTIONS START-----")[1]
        assert count_tokens(block.split("-----DESCRIPTIONS END-----")[0]) <= 256 + 10
    assert len(scrooge.description.split()) <= 30
    assert scrooge.description.startswith("In scene 0 Scrooge meets visitor number 0")


async def test_a_failed_summary_keeps_the_descriptions(llm_server: TestLLMServer, tmp_path: Path) -> None:
    settings = llm_settings(llm_server, tmp_path, concurrency=1)
    settings.extraction.summary_max_words = 20
    chat = create_chat(settings, UsageMeter())
    scrooge = entity(
        "Ebenezer Scrooge",
        "A covetous old sinner, hard and sharp as flint.",
        "Marley's sole executor, sole friend and sole mourner, who signed the register.",
    )
    llm_server.fail_next("500", n=settings.llm.max_retries + 1)
    stats = await summarize_descriptions([scrooge], [], chat, settings, tmp_path)
    assert stats.failed == 1 and stats.entities_summarized == 0
    first, second = split_descriptions(scrooge.description)
    assert first == "A covetous old sinner, hard and sharp as flint."  # whole descriptions first,
    assert second == "Marley's sole executor, sole friend and sole mourner, who signed the"  # then cut
    assert len(scrooge.description.split()) == 20


async def test_offline_summaries_are_extractive(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, summary_max_words=25)
    scrooge = entity(
        "Ebenezer Scrooge",
        "Scrooge is a miser. He keeps a counting-house in London.",
        "Scrooge is a miser! Marley was his partner for many years.",
        "He keeps a counting-house in London with a clerk called Bob Cratchit.",
    )
    stats = await summarize_descriptions([scrooge], [], None, settings, tmp_path)
    assert stats.method == "extractive" and stats.entities_summarized == 1
    assert scrooge.description == (
        "Scrooge is a miser. Marley was his partner for many years. He keeps a counting-house in London "
        "with a clerk called Bob Cratchit."
    )
    assert len(scrooge.description.split()) <= 25


def test_extractive_summary_respects_the_word_limit() -> None:
    long = "word " * 50
    assert len(extractive_summary([long.strip() + ".", "Short fact here."], 10).split()) <= 10
    assert extractive_summary([], 10) == ""


@pytest.mark.parametrize("max_gleanings", [0, 1])
async def test_extract_then_merge_then_summarise_end_to_end(
    llm_server: TestLLMServer, tmp_path: Path, max_gleanings: int
) -> None:
    settings = llm_settings(llm_server, tmp_path)
    settings.extraction.max_gleanings = max_gleanings
    chat = create_chat(settings, UsageMeter())
    assert chat is not None
    units = carol_units()
    result = await extract_graph(units, chat, settings, tmp_path)
    merged = merge_graph(result.entities, result.relationships, units)
    items: list[Entity | Relationship] = [*merged.entities, *merged.relationships]
    multi = sum(len(split_descriptions(x.description)) > 1 for x in items)
    stats = await summarize_descriptions(merged.entities, merged.relationships, chat, settings, tmp_path)
    assert stats.llm_calls == multi == len(llm_server.requests(SUMMARY_KIND))
    assert all("\n" not in e.description for e in merged.entities)
    scrooge = next(e for e in merged.entities if e.title == "Scrooge")
    assert "Scrooge" in scrooge.description and len(scrooge.description.split()) <= 500
