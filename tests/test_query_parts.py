"""The query building blocks on their own: name matching, citations, sections, fusion, extractive scoring,
JSON replies and the test-server reply module."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pytest
from support.replies import ReplyRequest
from support.replies.query import LOCAL_MARKER, MAP_MARKER, answer_from_sources, map_points

from graphrag_lite.index.extract.names import name_key
from graphrag_lite.models.json_reply import parse_json_object
from graphrag_lite.models.tokens import get_tokenizer
from graphrag_lite.query.basic.context import fuse, light_stem
from graphrag_lite.query.citations import parse_cited_ids, strip_citations
from graphrag_lite.query.extractive import Evidence, format_extractive, rank_evidence, split_sentences
from graphrag_lite.query.index_data import IndexData
from graphrag_lite.query.names import EntityNameIndex
from graphrag_lite.query.result import Citation, ContextRecords, QueryResult
from graphrag_lite.query.sections import ContextIds, TableSection


def test_names_match_on_word_boundaries_longest_first() -> None:
    index = EntityNameIndex()
    index.add("e-tim", ["TINY TIM", "Tim Cratchit"])
    index.add("e-tim2", ["Tim"])
    index.add("e-bob", ["BOB CRATCHIT", "Bob"])
    index.add("e-the", ["The", "he"])  # uninformative keys are never indexed
    found = index.find_in("Who is Tiny Tim's father? Ask Bob.")
    assert [m.entity_id for m in found] == ["e-tim", "e-bob"]
    assert index.find_in("Timothy and Bobby") == []
    assert index.lookup("tiny  tim") == ["e-tim"] and index.lookup("the") == []
    assert name_key("Mr. Fezziwig's ball") == "MR FEZZIWIG S BALL"


def test_citations_parse_every_kind_and_ignore_more() -> None:
    answer = (
        "Bob is Tim's father [Data: Sources (2, 7, +more); Entities (1)]. "
        "Marley warns him [Data: Reports (3); Relationships (4, 5)] [Data: Sources (2)]."
    )
    cited = parse_cited_ids(answer)
    assert cited == {"sources": ["2", "7"], "entities": ["1"], "relationships": ["4", "5"], "reports": ["3"]}
    assert strip_citations(answer) == "Bob is Tim's father . Marley warns him ."
    ids = ContextIds()
    ids.register("sources", ["t-a", "t-b"])
    assert ids.resolve("sources", "2") == "t-b" and ids.resolve("sources", "t-a") == "t-a"
    assert ids.resolve("sources", "3") is None and ids.resolve("reports", "1") is None


def test_table_section_counts_rows_once_and_stops_at_budget() -> None:
    tokenizer = get_tokenizer()
    section = TableSection(tokenizer, "Sources", ["id", "text"], 40)
    assert section.text == "" and section.tokens == 0
    assert section.add("t-1", ["first | row\nwith a newline"])
    while section.add("t-x", ["another row of several words"]):
        pass
    assert section.full and section.tokens <= 40
    assert tokenizer.count(section.text) <= 40
    assert section.text.startswith("-----Sources-----\nid|text\n1|first / row with a newline\n")
    assert section.record_ids[0] == "t-1"


def test_score_fusion_and_light_stem() -> None:
    fused = fuse({"a": 9.0, "b": 5.0, "c": 1.0}, {"c": 0.9, "a": 0.7, "d": 0.5}, lexical_share=0.2)
    ranked = sorted(fused, key=lambda u: -fused[u])
    assert ranked[:2] == ["c", "a"] and set(fused) == {"a", "b", "c", "d"}  # the dense side weighs 0.8
    assert abs(fused["a"] - (0.2 + 0.8 * 0.7 / 0.9)) < 1e-9 and abs(fused["d"] - 0.8 * 0.5 / 0.9) < 1e-9
    assert fuse({"a": 3.0}, {"b": -0.2, "a": 0.4}, lexical_share=0.2) == pytest.approx({"a": 1.0, "b": 0.0})
    assert light_stem(["fathers", "stories", "class", "is", "bus"]) == [
        "father",
        "story",
        "class",
        "is",
        "bus",
    ]


def test_split_sentences_keeps_real_sentences() -> None:
    text = "Marley was dead. Scrooge signed it, of course.\n\nOld Marley was as dead as a door-nail! Yes."
    assert split_sentences(text) == [
        "Scrooge signed it, of course.",
        "Old Marley was as dead as a door-nail!",
    ]


class _WordEmbedder:
    """A tiny deterministic embedder: bag of hashed words (enough to rank by shared words)."""

    model = "words"
    dim = 64

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                out[row, hash(word.strip(".?!,")) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


async def test_extractive_ranking_drops_near_duplicates() -> None:
    evidence = [
        Evidence("Bob Cratchit is the father of Tiny Tim.", "Sources (1)", 1.0, "t-1"),
        Evidence("Bob Cratchit is the father of Tiny Tim!", "Sources (2)", 0.5, "t-2"),
        Evidence("The fog came pouring in at every chink.", "Sources (3)", 0.9, "t-3"),
    ]
    picked = await rank_evidence("Who is the father of Tiny Tim?", evidence, _WordEmbedder(), top_n=3)
    assert [p.evidence.record_id for p in picked][:2] == ["t-1", "t-3"]
    answer = format_extractive(picked)
    assert "Bob Cratchit is the father of Tiny Tim. [Data: Sources (1)]" in answer
    assert "Sources (2)" not in answer


def test_json_object_from_fenced_or_broken_replies() -> None:
    assert parse_json_object('Sure:\n```json\n{"points": []}\n```') == {"points": []}
    assert parse_json_object('{"rating": 7, "reason": "fits",}') == {"rating": 7, "reason": "fits"}


def test_result_json_shape() -> None:
    result = QueryResult(
        answer="A",
        method="basic",
        citations=[Citation("t-1", "d-1", "Doc")],
        context=ContextRecords(text_units=["t-1"]),
        context_text="ctx",
    )
    data = result.to_dict()
    assert data["citations"] == [{"text_unit_id": "t-1", "document_id": "d-1", "document_title": "Doc"}]
    assert set(data["context"]) == {"text_units", "entities", "relationships", "reports"}
    assert "context_text" not in data and result.to_dict(include_context_text=True)["context_text"] == "ctx"
    assert json.loads(json.dumps(data)) == data


def test_reply_module_cites_context_ids_and_scores_overlap() -> None:
    system = f"{LOCAL_MARKER}\n-----Sources-----\nid|text\n1|The fog was thick. Bob is Tim's father.\n2|No.\n"
    reply = answer_from_sources(
        ReplyRequest(
            [{"role": "system", "content": system}, {"role": "user", "content": "Who is Tim's father?"}]
        )
    )
    assert reply.startswith("Bob is Tim's father. [Data: Sources (1)]")
    blocks = f"{MAP_MARKER}\n[4] # Title\n\nThe theme of the story is redemption.\n[5] Nothing here at all.\n"
    points = json.loads(
        map_points(
            ReplyRequest(
                [
                    {"role": "system", "content": blocks},
                    {"role": "user", "content": "Main themes of the story?"},
                ]
            )
        )
    )
    assert points == {
        "points": [{"description": "The theme of the story is redemption. [Data: Reports (4)]", "score": 50}]
    }
    unrelated = ReplyRequest([{"role": "system", "content": blocks}, {"role": "user", "content": "Mercury?"}])
    assert json.loads(map_points(unrelated)) == {"points": []}


def test_pack_skips_a_row_that_does_not_fit_and_takes_later_shorter_ones() -> None:
    tokenizer = get_tokenizer()
    section = TableSection(tokenizer, "Sources", ["id", "text"], 40)
    long_row = "word " * 60
    section.pack([("t-1", ["a short first row"]), ("t-2", [long_row]), ("t-3", ["another short row"])])
    assert section.record_ids == ["t-1", "t-3"] and section.tokens <= 40
    # add() stops at the first row that does not fit; pack() gives up only after many misses in a row
    first_fit = TableSection(tokenizer, "Sources", ["id", "text"], 40)
    assert first_fit.add("t-1", ["a short first row"]) and not first_fit.add("t-2", [long_row])
    assert not first_fit.add("t-3", ["another short row"])
    stubborn = TableSection(tokenizer, "Sources", ["id", "text"], 40)
    stubborn.pack([(f"x-{i}", [long_row]) for i in range(5)] + [("t-9", ["short"])], give_up_after=5)
    assert stubborn.record_ids == []


def test_citation_markers_become_one_numbered_scheme(data: IndexData) -> None:
    import re

    from graphrag_lite.query.citations import number_citations
    from graphrag_lite.query.sections import ContextIds

    units = [u.id for u in data.text_units[:3]]
    report = next(r for r in data.reports if r.level == 0)
    ids = ContextIds()
    ids.register("sources", units)
    ids.register("reports", [report.id])
    answer = (
        "A [Data: Sources (1, 2)]. B [Data: Sources (2); Sources (3)]. C [Data: Reports (1)]. "
        "D [Data: Sources (9)]."
    )
    text, numbers = number_citations(answer, ids, data, units)
    assert text.startswith("A [1, 2]. B [2, 3]. C [")
    assert text.endswith("D [Data: Sources (9)].")  # an id that resolves to nothing stays as written
    assert numbers[:3] == units
    cited = re.search(r"C \[([\d, ]+)\]", text)  # the report resolved to the source units it was built from
    assert cited and all(1 <= int(n) <= len(numbers) for n in cited.group(1).split(", "))
