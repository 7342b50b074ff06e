"""Extractive community reports over the Carol excerpt, with hand-built entities and communities."""

from __future__ import annotations

import re
import time
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from graphrag_lite.index.input.chunking import chunk_documents
from graphrag_lite.index.reports.extractive import extractive_reports, rating_for
from graphrag_lite.index.reports.sentences import NameMatcher, split_sentences, textrank, word_keys
from graphrag_lite.models.tokens import get_tokenizer
from graphrag_lite.store.graph import compute_degrees
from graphrag_lite.store.ids import community_id, entity_id, relationship_id, report_id
from graphrag_lite.store.records import Community, CommunityReport, Document, Entity, Relationship, TextUnit

EXCERPT = Path(__file__).parent / "data" / "carol_excerpt.txt"
PEOPLE = {
    "Ebenezer Scrooge": ["Scrooge", "Mr. Scrooge"],
    "Jacob Marley": ["Marley"],
    "Bob Cratchit": ["Bob"],
    "Tiny Tim": [],
    "Mrs. Cratchit": [],
}
CONCEPTS = ["counting-house", "fog"]
EDGES = [
    ("Ebenezer Scrooge", "Jacob Marley", 10),
    ("Ebenezer Scrooge", "Bob Cratchit", 3),
    ("Jacob Marley", "Bob Cratchit", 1),
    ("Ebenezer Scrooge", "counting-house", 2),
    ("Jacob Marley", "counting-house", 1),
    ("Ebenezer Scrooge", "fog", 1),
    ("Bob Cratchit", "Tiny Tim", 6),
    ("Bob Cratchit", "Mrs. Cratchit", 5),
    ("Tiny Tim", "Mrs. Cratchit", 3),
]
Graph = tuple[list[TextUnit], list[Entity], list[Relationship]]


def _mentions(unit: TextUnit, names: list[str]) -> bool:
    return any(re.search(rf"\b{re.escape(n)}\b", " ".join(unit.text.split())) for n in names)


@pytest.fixture(scope="module")
def graph() -> Graph:
    text = EXCERPT.read_text(encoding="utf-8")
    document = Document(id="d-carol", title="carol", source="carol.txt", text=text, content_hash="x")
    units = chunk_documents([document], 300, 30, get_tokenizer("cl100k_base"))
    entities = []
    for title, aliases in [*PEOPLE.items(), *((c, []) for c in CONCEPTS)]:
        unit_ids = [u.id for u in units if _mentions(u, [title, *aliases])]
        entities.append(
            Entity(
                id=entity_id(title),
                title=title,
                type="concept" if title in CONCEPTS else "person",
                description=f"{title} of the story.",
                aliases=aliases,
                text_unit_ids=unit_ids,
                frequency=len(unit_ids),
            )
        )
    relationships = [
        Relationship(
            id=relationship_id(a, b),
            source=min(a, b),
            target=max(a, b),
            description=f"{a} / {b}",
            weight=float(w),
            text_unit_ids=[],
        )
        for a, b, w in EDGES
    ]
    compute_degrees(entities, relationships)
    return units, entities, relationships


def community(level: int, titles: list[str], graph: Graph) -> Community:
    ids = [entity_id(t) for t in titles]
    units = sorted({u for e in graph[1] if e.id in ids for u in e.text_unit_ids})
    return Community(
        id=community_id(level, ids),
        level=level,
        parent=None,
        entity_ids=sorted(ids),
        text_unit_ids=units,
        size=len(ids),
    )


OFFICE = ["Ebenezer Scrooge", "Jacob Marley", "Bob Cratchit", "counting-house", "fog"]
FAMILY = ["Bob Cratchit", "Tiny Tim", "Mrs. Cratchit"]


@pytest.fixture(scope="module")
def reports(graph: Graph) -> dict[str, CommunityReport]:
    communities = [
        community(0, [*PEOPLE, *CONCEPTS], graph),
        community(1, OFFICE, graph),
        community(1, FAMILY, graph),
        community(2, ["fog"], graph),
    ]
    found = extractive_reports(communities, graph[1], graph[2], graph[0])
    assert [r.community_id for r in found] == [c.id for c in communities]
    return {name: r for name, r in zip(("root", "office", "family", "fog"), found, strict=True)}


def test_titles_name_the_top_entities_by_internal_degree(reports: dict[str, CommunityReport]) -> None:
    assert reports["office"].title == "Ebenezer Scrooge, Jacob Marley and Bob Cratchit"
    assert reports["family"].title == "Bob Cratchit, Mrs. Cratchit and Tiny Tim"
    assert reports["root"].title.startswith("Ebenezer Scrooge, Bob Cratchit")
    assert reports["fog"].title == "fog"  # a concept names a community only when no name is a member


def test_findings_are_cited_sentences_from_the_community_units(
    graph: Graph, reports: dict[str, CommunityReport]
) -> None:
    units = {u.id: " ".join(u.text.replace("_", " ").split()) for u in graph[0]}
    for name, report in reports.items():
        assert 3 <= len(report.findings) <= 8, name
        for finding in report.findings:
            match = re.fullmatch(r"(.+) \[Data: Sources \((t-[0-9a-f]+)\)\]", finding.explanation)
            assert match, finding.explanation
            sentence, unit_id = match.groups()
            assert unit_id in units
            assert sentence.removesuffix(" …") in units[unit_id]
            assert finding.summary
    office_labels = " ".join(f.summary for f in reports["office"].findings)
    assert "Ebenezer Scrooge" in office_labels and "Jacob Marley" in office_labels
    family_text = " ".join(f.explanation for f in reports["family"].findings)
    assert "Tiny Tim" in family_text and "Cratchit" in family_text
    assert all("fog" in f.explanation.lower() for f in reports["fog"].findings)


def test_report_schema_rating_and_markdown(reports: dict[str, CommunityReport]) -> None:
    for report in reports.values():
        assert report.method == "extractive" and report.status == "ok"
        assert report.id == report_id(report.community_id)
        assert 0 <= report.rating <= 10 and "density" in report.rating_explanation
        assert report.full_content.startswith(f"# {report.title}\n")
        assert "## Findings" in report.full_content and "## Rating" in report.full_content
        assert all(f"### {f.summary}" in report.full_content for f in report.findings)
        assert report.summary.startswith("A community of")
    assert reports["office"].level == 1 and reports["fog"].level == 2
    assert reports["office"].rating > reports["fog"].rating
    assert rating_for(1, [])[0] == 1.0
    assert rating_for(40, [])[0] == 5.0


def test_reports_are_deterministic(graph: Graph, reports: dict[str, CommunityReport]) -> None:
    again = extractive_reports([community(1, OFFICE, graph)], graph[1], graph[2], graph[0])[0]
    assert again == reports["office"]


def test_hundreds_of_communities_stay_fast(graph: Graph) -> None:
    names = [*PEOPLE, *CONCEPTS]
    rng = np.random.default_rng(7)
    communities = [
        community(1, sorted(set(rng.choice(names, size=int(rng.integers(1, 6))))), graph) for _ in range(300)
    ]
    started = time.perf_counter()
    found = extractive_reports(communities, graph[1], graph[2], graph[0])
    assert len(found) == 300
    assert time.perf_counter() - started < 10  # about 1 s here; generous for a loaded CI machine


def test_textrank_equals_networkx_pagerank() -> None:
    rng = np.random.default_rng(3)
    similarity = rng.random((7, 7))
    similarity = (similarity + similarity.T) / 2
    similarity[similarity < 0.5] = 0
    np.fill_diagonal(similarity, 0)
    similarity[6, :] = similarity[:, 6] = 0  # a sentence like no other (dangling node)
    bias = [1, 2, 3, 1, 1, 0.1, 2]
    g = nx.Graph()
    g.add_nodes_from(range(7))
    g.add_weighted_edges_from(
        (i, j, similarity[i, j]) for i in range(7) for j in range(i + 1, 7) if similarity[i, j] > 0
    )
    expected = nx.pagerank(g, personalization=dict(enumerate(bias)), weight="weight", tol=1e-12)
    assert np.allclose(textrank(similarity, bias), [expected[i] for i in range(7)], atol=1e-6)


def test_sentence_splitting_and_name_matching() -> None:
    text = (
        "Mr. Scrooge went home. 'Bah!' said he.\n\nSTAVE TWO\n\n"
        "The Ghost of Jacob Marley's chains rattled in the dark."
    )
    sentences = split_sentences(text, min_words=1)
    assert sentences[0] == "Mr. Scrooge went home." and "STAVE TWO" in sentences
    matcher = NameMatcher([("e1", "Jacob Marley"), ("e2", "Scrooge"), ("e3", "chain")])
    assert matcher.find(word_keys(sentences[-1])) == {"e1", "e3"}  # possessive and plural stripped
    assert matcher.find(word_keys("Scrooge's nephew")) == {"e2"}
