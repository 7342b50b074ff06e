"""Passage PageRank on a hand-made index: title links carry the walk, the question's titles seed it, the
second round makes the hop, and packing puts each document's best unit first."""

from __future__ import annotations

import numpy as np

from graphrag_lite.config.settings import PassageRankSettings
from graphrag_lite.query.basic.context import fuse
from graphrag_lite.query.graph.passage_rank import (
    documents_first,
    passage_graph,
    personalized_pagerank,
    rank_units,
    title_forms,
    unit_scores,
)
from graphrag_lite.query.index_data import IndexData
from graphrag_lite.store.records import Document, Entity, Relationship, TextUnit


def _index() -> IndexData:
    docs = [
        Document("d1", "Alpha Station", "a", "", ""),
        Document("d2", "Beta Harbour", "b", "", ""),
        Document("d3", "Gamma Fields", "c", "", ""),
        Document("d4", "Delta Works", "d", "", ""),
    ]
    units = [
        TextUnit("u1", "d1", 0, "The station was built near Beta Harbour in 1901.", 12, ["e1"]),
        TextUnit("u2", "d2", 0, "The harbour was designed by Maria Keller.", 9, ["e2"]),
        TextUnit("u3", "d3", 0, "Fields of wheat grow in the south.", 8, ["e3"]),
        TextUnit("u4", "d4", 0, "The works employ the brother of Maria Keller.", 10, ["e2", "e4"]),
        TextUnit("u5", "d1", 1, "The station closed in 1970.", 6, ["e1"]),
    ]
    entities = [
        Entity("e1", "STATION", "geo", ""),
        Entity("e2", "MARIA KELLER", "person", ""),
        Entity("e3", "WHEAT", "thing", ""),
        Entity("e4", "BROTHER", "person", ""),
    ]
    relationships = [Relationship("r1", "BROTHER", "MARIA KELLER", "", weight=5.0)]
    return IndexData(docs, units, entities, relationships, [], [])


def test_pagerank_on_a_path_prefers_the_seed_then_its_neighbours() -> None:
    data = _index()
    graph = passage_graph(data, PassageRankSettings())
    restart = np.zeros(graph.n_units + len(graph.entity_ids))
    restart[graph.unit_row["u3"]] = 1.0
    scores = personalized_pagerank(graph, restart, 0.3)
    assert abs(scores.sum() - 1.0) < 1e-9
    # u3 only touches WHEAT: the walk stays on u3 and e3, nothing else is reached
    reached = {i for i in np.nonzero(scores > 1e-12)[0]}
    assert reached == {graph.unit_row["u3"], graph.n_units + graph.entity_column["e3"]}
    assert scores[graph.unit_row["u3"]] > scores[graph.n_units + graph.entity_column["e3"]]


def test_title_link_carries_the_walk_to_the_named_document() -> None:
    data = _index()
    opts = PassageRankSettings(second_round=0)
    graph = passage_graph(data, opts)
    assert graph.unit_named_documents == [["d2"], [], [], [], []]
    match = unit_scores(graph, {"u1": 1.0})  # only u1 matches the words
    assert rank_units(graph, "When was it built?", {}, match, opts)[:3] == ["u1", "u2", "u5"]


def test_expected_order_with_entity_seeds_and_relationship_edges() -> None:
    data = _index()
    opts = PassageRankSettings(second_round=0)
    graph = passage_graph(data, opts)
    nothing = np.zeros(graph.n_units)
    # the question names Maria Keller: both of her units first, then the walk reaches u1 through the title
    # link from u1 to Beta Harbour's unit; the unrelated u3 is never reached
    order = rank_units(graph, "Who is related to Maria Keller?", {"e2": 1.0}, nothing, opts)
    assert set(order[:2]) == {"u2", "u4"}
    assert "u1" in order and "u3" not in order


def test_question_naming_a_title_seeds_its_units_even_in_short_form() -> None:
    data = _index()
    graph = passage_graph(data, PassageRankSettings())
    nothing = np.zeros(graph.n_units)
    assert rank_units(graph, "What grows in Gamma Fields?", {}, nothing, PassageRankSettings())[0] == "u3"
    assert title_forms("The Wall (film)") == ["The Wall (film)", "The Wall", "Wall (film)", "Wall"]


def test_second_round_follows_the_best_unit_to_the_document_it_names() -> None:
    data = _index()
    no_links = PassageRankSettings(title_link_weight=0)
    graph = passage_graph(data, no_links)
    match = unit_scores(graph, {"u1": 1.0})
    without = rank_units(graph, "q", {}, match, PassageRankSettings(title_link_weight=0, second_round=0))
    with_hop = rank_units(graph, "q", {}, match, no_links)
    assert without == ["u1", "u5"]  # no title edge and no hop: Beta Harbour is unreachable
    assert with_hop[:2] == ["u1", "u2"]


def test_fusion_scales_each_retriever_and_documents_first_packs_one_per_document() -> None:
    data = _index()
    graph = passage_graph(data, PassageRankSettings())
    fused = unit_scores(graph, fuse({"u1": 10.0, "u2": 5.0}, {"u2": 0.9, "u3": 0.45}, lexical_share=0.2))
    assert np.allclose(fused, [0.2, 0.1 + 0.8, 0.4, 0.0, 0.0])
    assert documents_first(["u1", "u5", "u2"], data) == ["u1", "u2", "u5"]
