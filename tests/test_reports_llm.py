"""Community report contexts and LLM reports, over HTTP to the local test server.

The graph is a small Christmas Carol cast: one dense group of 15 characters (level 0, split into level-1
sub-communities), a two-place component, and - in some tests - a lone entity whose description carries a
test-server hook that makes the model's replies unreadable.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
from collections.abc import AsyncIterator
from pathlib import Path

from conftest import llm_settings
from support import TestLLMServer
from support.replies.reports import MALFORMED_ALWAYS, MALFORMED_ONCE

from graphrag_lite.config.settings import Settings
from graphrag_lite.index.graph.communities import hierarchical_communities
from graphrag_lite.index.reports.context import build_report_context
from graphrag_lite.index.reports.llm import JSON_REMINDER, ReportResult, generate_reports
from graphrag_lite.models.base import ChatModel, UsageMeter
from graphrag_lite.models.factory import create_chat
from graphrag_lite.models.tokens import get_tokenizer
from graphrag_lite.store.ids import entity_id, relationship_id, report_id
from graphrag_lite.store.records import Community, CommunityReport, Entity, Finding, Relationship, TextUnit

CAST = {
    "Scrooge": "a miserly London money-lender who learns generosity after three spirits visit him",
    "Marley": "Scrooge's dead business partner, whose ghost warns him to change his ways",
    "Bob Cratchit": "Scrooge's underpaid and patient clerk, father of a large and loving family",
    "Tiny Tim": "Bob Cratchit's youngest son, a frail boy whose fate moves Scrooge",
    "Fred": "Scrooge's cheerful nephew who invites him to Christmas dinner every year",
    "Fezziwig": "Scrooge's kind former employer who threw a joyful Christmas ball",
    "Belle": "the young woman who broke off her engagement to Scrooge because he loved money more",
    "Ghost of Christmas Past": "the first spirit, who shows Scrooge scenes from his childhood and youth",
    "Ghost of Christmas Present": "the second spirit, a giant who shows Scrooge how others keep Christmas",
    "Ghost of Christmas Yet to Come": "the silent final spirit, who shows Scrooge his lonely death",
    "Mrs Cratchit": "Bob Cratchit's wife, who cooks the family's small Christmas goose",
    "Martha Cratchit": "the eldest Cratchit daughter, who works long hours at a milliner's",
    "Peter Cratchit": "a Cratchit son who wears his father's shirt collar with pride",
    "Topper": "a bachelor friend of Fred who plays blind man's buff at the Christmas party",
    "Fan": "Scrooge's loving younger sister, mother of Fred, who died young",
}
PLACES = {
    "London": "the city where Scrooge keeps his counting-house",
    "Camden Town": "where the Cratchits live",
}


def make_entity(title: str, description: str, units: list[str], kind: str = "person") -> Entity:
    return Entity(
        id=entity_id(title),
        title=title,
        type=kind,
        description=f"{title} is {description}.",
        text_unit_ids=units,
    )


def make_rel(a: str, b: str, weight: float) -> Relationship:
    source, target = sorted((a, b))
    return Relationship(
        id=relationship_id(a, b),
        source=source,
        target=target,
        description=f"{a} and {b} appear together in the story",
        weight=weight,
        text_unit_ids=["t-carol-0"],
    )


GROUPS = [
    ["Bob Cratchit", "Mrs Cratchit", "Tiny Tim", "Martha Cratchit", "Peter Cratchit"],
    ["Scrooge", "Fan", "Fezziwig", "Belle", "Ghost of Christmas Past"],
    ["Fred", "Topper", "Ghost of Christmas Present", "Ghost of Christmas Yet to Come", "Marley"],
]


def carol_graph(*, lone: str | None = None) -> tuple[list[Entity], list[Relationship], list[TextUnit]]:
    """Three dense groups of five with a few ties between them (seeded), two places whose one heavy
    relationship makes Leiden keep the cast together at level 0 and split it at level 1, and optionally a
    lone entity whose description ends with ``lone``."""
    rng = random.Random(1)
    names = list(CAST)
    group_of = {name: n for n, group in enumerate(GROUPS) for name in group}
    units = [
        TextUnit(
            id=f"t-carol-{n}",
            document_id="d-carol",
            chunk_index=n,
            n_tokens=0,
            text=f"Stave {n + 1}. " + " ".join(f"{name} was {CAST[name]}." for name in group),
            entity_ids=[entity_id(name) for name in group],
        )
        for n, group in enumerate(GROUPS)
    ]
    entities = [make_entity(n, CAST[n], [f"t-carol-{group_of[n]}"]) for n in names]
    rels = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            same = group_of[a] == group_of[b]
            if rng.random() < (0.9 if same else 0.2):
                rels.append(make_rel(a, b, (2.0 if same else 1.0) + rng.random()))
    entities += [make_entity(p, d, ["t-places"], "geo") for p, d in PLACES.items()]
    rels.append(make_rel("London", "Camden Town", 200.0))
    if lone is not None:
        entities.append(make_entity("Old Joe", f"a rag-and-bone dealer {lone}", ["t-joe"]))
    degree = {e.title: 0 for e in entities}
    for r in rels:
        degree[r.source] += 1
        degree[r.target] += 1
    for e in entities:
        e.degree = degree[e.title]
    for r in rels:
        r.combined_degree = degree[r.source] + degree[r.target]
    return entities, rels, units


@contextlib.asynccontextmanager
async def open_chat(settings: Settings) -> AsyncIterator[ChatModel]:
    chat = create_chat(settings, UsageMeter())
    assert chat is not None
    try:
        yield chat
    finally:
        close = getattr(chat, "aclose", None)
        if close is not None:
            await close()


async def run_reports(
    server: TestLLMServer, tmp_path: Path, *, lone: str | None = None, budget: int = 8000
) -> tuple[list[Community], ReportResult]:
    entities, rels, units = carol_graph(lone=lone)
    settings = llm_settings(server, tmp_path)
    settings.reports.max_context_tokens = budget
    communities = hierarchical_communities(entities, rels, settings)
    async with open_chat(settings) as chat:
        result = await generate_reports(communities, entities, rels, units, chat, settings, tmp_path)
    return communities, result


def report_requests(server: TestLLMServer) -> list[tuple[str, str]]:
    """(request text, reply title or "") of every report request, in arrival order."""
    out = []
    for entry in server.requests("reports:"):
        try:
            title = json.loads(entry.reply).get("title", "")
        except json.JSONDecodeError:
            title = ""
        out.append(("\n".join(m["content"] for m in entry.messages), title))
    return out


# -- contexts ------------------------------------------------------------------------------------------


def test_context_holds_tables_in_degree_order_and_sources() -> None:
    entities, rels, units = carol_graph()
    communities = hierarchical_communities(entities, rels, Settings())
    top = next(c for c in communities if c.level == 0 and c.size >= 15)
    context = build_report_context(
        top,
        {e.id: e for e in entities},
        {r.id: r for r in rels},
        {u.id: u for u in units},
        {},
        get_tokenizer(),
        8000,
    )
    assert context.source == "entities" and not context.truncated
    assert (
        sorted(context.entity_ids) == top.entity_ids
        and sorted(context.relationship_ids) == top.relationship_ids
    )
    assert context.text_unit_ids and context.n_tokens <= 8000
    lines = context.text.splitlines()
    assert lines[0] == "-----Entities-----" and lines[1] == "id|title|type|description|degree"
    assert "-----Relationships-----" in lines and "-----Sources-----" in lines
    entity_degrees = [int(line.split("|")[4]) for line in lines[2 : 2 + top.size]]
    assert entity_degrees == sorted(entity_degrees, reverse=True)  # highest degree first
    start = lines.index("-----Relationships-----") + 2
    shown = [line.split("|") for line in lines[start : start + len(top.relationship_ids)]]
    degrees = [int(cells[5]) for cells in shown]
    assert degrees == sorted(degrees, reverse=True)  # highest combined degree first
    assert any("Scrooge is a miserly London money-lender" in line for line in lines)


def test_context_over_budget_without_sub_reports_is_trimmed() -> None:
    entities, rels, _units = carol_graph()
    communities = hierarchical_communities(entities, rels, Settings())
    top = next(c for c in communities if c.level == 0 and c.size >= 15)
    by_id = {r.id: r for r in rels}
    context = build_report_context(top, {e.id: e for e in entities}, by_id, {}, {}, get_tokenizer(), 600)
    assert context.source == "entities" and context.truncated
    assert context.n_tokens == get_tokenizer().count(context.text) <= 600
    best = max(top.relationship_ids, key=lambda r: (by_id[r].combined_degree, by_id[r].weight))
    assert best in context.relationship_ids and len(context.relationship_ids) < len(top.relationship_ids)
    # every relationship shown comes with both of its entities
    shown = {e.title for e in entities if e.id in context.entity_ids}
    assert all({by_id[r].source, by_id[r].target} <= shown for r in context.relationship_ids)


def test_context_over_budget_uses_sub_reports_largest_first() -> None:
    entities, rels, units = carol_graph()
    communities = hierarchical_communities(entities, rels, Settings())
    by_id = {c.id: c for c in communities}
    top = next(c for c in communities if c.level == 0 and c.children)
    sub_reports = {
        child: CommunityReport(
            id=report_id(child),
            community_id=child,
            level=1,
            title=f"Group {n}",
            summary=f"Summary of group {n}.",
            findings=[Finding("A finding", "Details.")],
        )
        for n, child in enumerate(top.children)
    }
    context = build_report_context(
        top,
        {e.id: e for e in entities},
        {r.id: r for r in rels},
        {u.id: u for u in units},
        sub_reports,
        get_tokenizer(),
        600,
        communities_by_id=by_id,
    )
    assert context.source == "sub_reports" and context.n_tokens <= 600
    sizes = [by_id[rid.removeprefix("cr-")].size for rid in context.report_ids]
    assert sorted(context.report_ids) == sorted(report_id(c) for c in top.children)
    assert sizes == sorted(sizes, reverse=True)
    assert all(f"title: Group {n}" in context.text for n in range(len(top.children)))
    assert context.relationship_ids  # the rest of the budget went to relationships, cross-group first
    first = {r.id: r for r in rels}[context.relationship_ids[0]]
    child_of = {e: c for c in top.children for e in by_id[c].entity_ids}
    assert child_of[entity_id(first.source)] != child_of[entity_id(first.target)]


def test_context_never_exceeds_the_budget() -> None:
    entities, rels, units = carol_graph()
    communities = hierarchical_communities(entities, rels, Settings())
    by_id = {c.id: c for c in communities}
    sub_reports = {
        c.id: CommunityReport(
            id=report_id(c.id),
            community_id=c.id,
            level=c.level,
            title="T " * 40,
            summary="A long summary. " * 60,
            findings=[Finding("F " * 20, "E " * 200)] * 3,
        )
        for c in communities
        if c.level == 1
    }
    tokenizer = get_tokenizer()
    for budget in (500, 650, 800, 1200, 2500):
        for community in communities:
            context = build_report_context(
                community,
                {e.id: e for e in entities},
                {r.id: r for r in rels},
                {u.id: u for u in units},
                sub_reports,
                tokenizer,
                budget,
                communities_by_id=by_id,
            )
            assert context.n_tokens == tokenizer.count(context.text) <= budget
            assert context.entity_ids or context.report_ids


# -- LLM reports over HTTP -----------------------------------------------------------------------------


async def test_reports_bottom_up_with_content(llm_server: TestLLMServer, tmp_path: Path) -> None:
    communities, result = await run_reports(llm_server, tmp_path)
    assert result.failed == [] and len(result.reports) == len(communities)
    assert [r.community_id for r in result.reports] == [c.id for c in communities]
    level_of = {r.title: r.level for r in result.reports}
    assert len(level_of) == len(result.reports)  # titles are unique, so the log maps back to levels
    levels = [level_of[title] for _, title in report_requests(llm_server)]
    assert len(levels) == len(communities)
    assert levels == sorted(levels, reverse=True) and levels[0] > levels[-1] == 0  # deepest level first
    places = next(r for r in result.reports if "London" in r.title)
    assert places.title == "Camden Town and London" and places.status == "ok"
    assert "London" in places.summary and places.context_source == "entities"
    for report in result.reports:
        community = next(c for c in communities if c.id == report.community_id)
        records = community.size + len(community.relationship_ids)  # the fake model writes one per record
        assert report.id == report_id(report.community_id) and min(5, records) <= len(report.findings) <= 10
        assert 0 <= report.rating <= 10 and report.rating_explanation
        assert report.full_content.startswith(f"# {report.title}\n\n{report.summary}")
        assert "## Findings" in report.full_content and report.findings[0].summary in report.full_content
        cited = set(re.findall(r"\b(?:e|r)-[0-9a-f]{12}\b", " ".join(f.explanation for f in report.findings)))
        assert cited <= set(community.entity_ids) | set(community.relationship_ids)


async def test_big_community_is_described_from_sub_reports(llm_server: TestLLMServer, tmp_path: Path) -> None:
    communities, result = await run_reports(llm_server, tmp_path, budget=1000)
    by_community = {r.community_id: r for r in result.reports}
    parent = next(c for c in communities if c.level == 0 and c.children)
    report = by_community[parent.id]
    assert report.context_source == "sub_reports" and report.status == "ok"
    child_titles = [by_community[c].title for c in parent.children]
    request = next(text for text, title in report_requests(llm_server) if title == report.title)
    assert all(f"title: {t}" in request for t in child_titles)
    assert report.title.split("; ")[0] in child_titles  # the reply names the largest sub-community first
    assert all(by_community[c].context_source == "entities" for c in parent.children)


async def test_reply_malformed_twice_is_recorded_failed_and_the_run_goes_on(
    llm_server: TestLLMServer, tmp_path: Path
) -> None:
    communities, result = await run_reports(llm_server, tmp_path, lone=MALFORMED_ALWAYS)
    joe = next(c for c in communities if c.entity_ids == [entity_id("Old Joe")])
    failed = next(r for r in result.reports if r.community_id == joe.id)
    assert failed.status == "failed" and failed.title == "Old Joe" and failed.findings == []
    assert "Old Joe" in failed.summary and failed.full_content.startswith("# Old Joe")
    assert [cid for cid, _ in result.failed] == [joe.id]
    assert "after the JSON reminder" in result.failed[0][1]
    joe_requests = [text for text, _ in report_requests(llm_server) if "Old Joe" in text]
    assert (
        len(joe_requests) == 2 and JSON_REMINDER not in joe_requests[0] and JSON_REMINDER in joe_requests[1]
    )
    others = [r for r in result.reports if r.community_id != joe.id]
    assert len(others) == len(communities) - 1 and all(r.status == "ok" for r in others)


async def test_reply_malformed_once_succeeds_on_the_json_reminder(
    llm_server: TestLLMServer, tmp_path: Path
) -> None:
    communities, result = await run_reports(llm_server, tmp_path, lone=MALFORMED_ONCE)
    joe = next(c for c in communities if c.entity_ids == [entity_id("Old Joe")])
    report = next(r for r in result.reports if r.community_id == joe.id)
    assert result.failed == [] and report.status == "ok" and report.title == "Old Joe"
    assert len([text for text, _ in report_requests(llm_server) if "Old Joe" in text]) == 2


async def test_unreachable_model_fails_the_report_without_raising(
    llm_server: TestLLMServer, tmp_path: Path
) -> None:
    entities = [make_entity(p, d, ["t-places"], "geo") for p, d in PLACES.items()]
    rels = [make_rel("London", "Camden Town", 2.0)]
    settings = llm_settings(llm_server, tmp_path, max_retries=1)
    communities = hierarchical_communities(entities, rels, settings)
    llm_server.fail_next("500", n=2)
    async with open_chat(settings) as chat:
        result = await generate_reports(communities, entities, rels, [], chat, settings, tmp_path)
    assert [r.status for r in result.reports] == ["failed"]
    assert result.reports[0].title == "Camden Town and London"
    assert "report call failed" in result.failed[0][1] and "HTTP 500" in result.failed[0][1]
