"""Rank text units by Personalized PageRank over a graph of passages and entities (after HippoRAG 2).

Nodes are text units and entities. Edges, undirected and scaled so each node's weights sum to 1: an entity
and each unit that mentions it; two related entities (weight capped); and a *title link* from a unit whose
text names another document's title to every unit of that document. The walk restarts at what the question
gives: the entities it names, the units that match it (a sharp lexical + dense score) and the units of
documents whose title it names. A second round adds what the best unit points to (its other entities and
the documents it names): the hop of a multi-hop question. docs/search-methods.md shows the measurements.

The graph is built once per loaded index (cached on :class:`IndexData`); a question then costs two
PageRank runs of at most 50 sparse matrix-vector products each (milliseconds).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from graphrag_lite.config.settings import PassageRankSettings
from graphrag_lite.query.index_data import IndexData
from graphrag_lite.query.names import EntityNameIndex

_CACHE_KEY = "passage_graph"
_MAX_ITERATIONS = 50


def title_forms(title: str) -> list[str]:
    """A title and its short forms a question may use: without a trailing "(…)", without a leading "The"."""
    forms = [title]
    bare = re.sub(r"\s*\([^)]*\)\s*$", "", title).strip()
    if bare and bare != title:
        forms.append(bare)
    forms += [f[4:].strip() for f in list(forms) if f.lower().startswith("the ") and f[4:].strip()]
    return forms


@dataclass
class PassageGraph:
    unit_ids: list[str]  # node i < len(unit_ids) is a unit; the rest are entities, in entity_ids order
    entity_ids: list[str]
    transition_t: sp.csr_array  # transposed row-normalised adjacency
    dangling: np.ndarray  # nodes without edges
    unit_row: dict[str, int]
    entity_column: dict[str, int]
    unit_entities: list[np.ndarray]  # entity columns per unit
    unit_named_documents: list[list[str]]  # documents whose title each unit names (not its own)
    document_units: dict[str, np.ndarray]  # unit rows per document id
    entity_unit_count: np.ndarray
    question_titles: EntityNameIndex  # document ids by title and its short forms

    @property
    def n_units(self) -> int:
        return len(self.unit_ids)


def passage_graph(data: IndexData, opts: PassageRankSettings) -> PassageGraph:
    """The graph of ``data`` (built on first use, then cached with the weights it was built with)."""
    key = f"{_CACHE_KEY}:{opts.relationship_cap}:{opts.title_link_weight}"
    if key not in data.cache:
        data.cache[key] = _build(data, opts)
    graph: PassageGraph = data.cache[key]
    return graph


def _build(data: IndexData, opts: PassageRankSettings) -> PassageGraph:
    units, entities = data.text_units, data.entities
    n_u = len(units)
    unit_row = {u.id: i for i, u in enumerate(units)}
    entity_column = {e.id: j for j, e in enumerate(entities)}
    document_units: dict[str, list[int]] = {}
    for i, unit in enumerate(units):
        document_units.setdefault(unit.document_id, []).append(i)
    exact_titles, question_titles = EntityNameIndex(), EntityNameIndex()
    for doc in data.documents:
        if doc.title and doc.id in document_units:
            exact_titles.add(doc.id, [doc.title])
            question_titles.add(doc.id, title_forms(doc.title))
    rows: list[int] = []
    cols: list[int] = []
    weights: list[float] = []
    unit_entities: list[np.ndarray] = []
    unit_named: list[list[str]] = []
    entity_unit_count = np.zeros(len(entities))
    for i, unit in enumerate(units):
        columns = np.array(
            sorted({entity_column[e] for e in unit.entity_ids if e in entity_column}), dtype=int
        )
        unit_entities.append(columns)
        entity_unit_count[columns] += 1
        rows += [i] * len(columns)
        cols += (n_u + columns).tolist()
        weights += [1.0] * len(columns)
        named = sorted({m.entity_id for m in exact_titles.find_in(unit.text)} - {unit.document_id})
        unit_named.append(named)
        for doc_id in named:
            targets = document_units[doc_id]
            rows += [i] * len(targets)
            cols += targets
            weights += [opts.title_link_weight] * len(targets)
    for rel in data.relationships:
        source, target = data.relationship_ends(rel)
        if source in entity_column and target in entity_column and source != target:
            rows.append(n_u + entity_column[source])
            cols.append(n_u + entity_column[target])
            weights.append(min(rel.weight, opts.relationship_cap))
    n = n_u + len(entities)
    adjacency = sp.coo_array((weights, (rows, cols)), shape=(n, n)).tocsr()
    adjacency = (adjacency + adjacency.T).tocsr()
    out = np.asarray(adjacency.sum(axis=1)).ravel()
    scale = np.divide(1.0, out, out=np.zeros_like(out), where=out > 0)
    transition = sp.csr_array(sp.diags_array(scale) @ adjacency)
    return PassageGraph(
        unit_ids=[u.id for u in units],
        entity_ids=[e.id for e in entities],
        transition_t=sp.csr_array(transition.T),
        dangling=out == 0,
        unit_row=unit_row,
        entity_column=entity_column,
        unit_entities=unit_entities,
        unit_named_documents=unit_named,
        document_units={d: np.array(rows_, dtype=int) for d, rows_ in document_units.items()},
        entity_unit_count=entity_unit_count,
        question_titles=question_titles,
    )


def personalized_pagerank(
    graph: PassageGraph, restart: np.ndarray, continue_probability: float
) -> np.ndarray:
    """Scores ``s = c·Pᵀs + (1 − c)·r`` by power iteration; the mass of dangling nodes returns to ``r``."""
    total = restart.sum()
    if total <= 0:
        return np.zeros_like(restart)
    r = restart / total
    s = r.copy()
    for _ in range(_MAX_ITERATIONS):
        walked: np.ndarray = graph.transition_t @ s + s[graph.dangling].sum() * r
        updated = continue_probability * walked + (1 - continue_probability) * r
        converged = np.abs(updated - s).sum() < 1e-9
        s = updated
        if converged:
            break
    return np.asarray(s, dtype=float)


def _unit_seed(graph: PassageGraph, document_ids: Iterable[str]) -> np.ndarray:
    seed = np.zeros(graph.n_units)
    for doc_id in document_ids:
        seed[graph.document_units.get(doc_id, [])] = 1.0
    return seed


def _unit(v: np.ndarray) -> np.ndarray:
    """``v`` scaled to sum 1 (all zeros stay zeros)."""
    total = v.sum()
    return v / total if total > 0 else v


def unit_scores(graph: PassageGraph, scores: Mapping[str, float]) -> np.ndarray:
    """``scores`` (unit id -> score, e.g. the fused BM25 + vector match) as a vector over the units."""
    vector = np.zeros(graph.n_units)
    for unit_id, score in scores.items():
        row = graph.unit_row.get(unit_id)
        if row is not None:
            vector[row] = score
    return vector


def rank_units(
    graph: PassageGraph,
    question: str,
    question_entities: Mapping[str, float],
    match: np.ndarray,
    opts: PassageRankSettings,
) -> list[str]:
    """Text-unit ids, best first (units the walk never reaches are left out). ``match``: each unit's match
    score in [0, 1] (:func:`unit_scores`); ``question_entities``: entity id -> seed weight (1 = named)."""
    entity_seed = np.zeros(len(graph.entity_ids))
    named = {graph.entity_column[e]: w for e, w in question_entities.items() if e in graph.entity_column}
    for column, weight in named.items():
        entity_seed[column] = weight / max(1.0, graph.entity_unit_count[column])
    title_seed = _unit_seed(graph, {m.entity_id for m in graph.question_titles.find_in(question)})
    restart = np.concatenate(
        [
            opts.text_seed * _unit(match**opts.sharpness) + opts.title_seed * _unit(title_seed),
            opts.entity_seed * _unit(entity_seed),
        ]
    )
    scores = personalized_pagerank(graph, restart, opts.continue_probability)
    if opts.second_round > 0 and graph.n_units and scores[: graph.n_units].max() > 0:
        best = int(np.argmax(scores[: graph.n_units]))
        hop_entities = np.zeros(len(graph.entity_ids))
        hop_entities[[c for c in graph.unit_entities[best] if c not in named]] = 1.0
        hop_units = _unit_seed(graph, graph.unit_named_documents[best])
        restart = _unit(restart) + opts.second_round * np.concatenate([_unit(hop_units), _unit(hop_entities)])
        scores = personalized_pagerank(graph, restart, opts.continue_probability)
    unit_scores = scores[: graph.n_units]
    order = np.lexsort((np.arange(graph.n_units), -unit_scores))
    return [graph.unit_ids[i] for i in order if unit_scores[i] > 0]


def documents_first(unit_ids: Sequence[str], data: IndexData) -> list[str]:
    """The same units, each document's best unit before any document's second one: a budget then covers
    more documents, which is what multi-hop questions need."""
    seen: set[str] = set()
    first: list[str] = []
    rest: list[str] = []
    for unit_id in unit_ids:
        document_id = data.text_unit_by_id[unit_id].document_id
        (rest if document_id in seen else first).append(unit_id)
        seen.add(document_id)
    return first + rest


def rank_for_question(
    question: str, data: IndexData, match: Mapping[str, float], opts: PassageRankSettings
) -> list[str]:
    """Text-unit ids for ``question``, best first, each document's best unit before any second one: the
    walk seeded by the entities the question names, ``match`` (unit id -> fused BM25 + vector score) and
    the titles it names. Graph search and local search (so DRIFT's follow-ups too) rank passages so."""
    graph = passage_graph(data, opts)
    named = {
        m.entity_id: 1.0 for m in data.entity_names.find_in(question) if m.entity_id in data.entity_by_id
    }
    return documents_first(rank_units(graph, question, named, unit_scores(graph, match), opts), data)
