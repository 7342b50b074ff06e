"""A single self-contained HTML page to explore the graph: no server, no CDN, no network when viewed.

The page inlines the vendored Cytoscape.js build (``assets/cytoscape.min.js``, MIT, see the licence file
next to it), its own script and style, and the graph as JSON. Positions are computed here (a seeded
force-directed layout, so the same index gives the same page) and the browser only draws them: a page of
thousands of nodes opens at once instead of running a physics simulation.

By default the page shows the ``max_nodes`` entities with the highest degree; it says how many of how many
are drawn. Nodes are coloured by community at one level (switchable in the page) and sized by degree.
"""

from __future__ import annotations

import html
import json
import logging
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from graphrag_lite.api.export import community_of, load_graph_tables, refuse_overwrite
from graphrag_lite.errors import GraphRAGError
from graphrag_lite.store.atomic import atomic_write_text
from graphrag_lite.store.ids import normalize_title
from graphrag_lite.store.reader import IndexReader
from graphrag_lite.store.records import Community, Document, Entity, Relationship, TextUnit

log = logging.getLogger(__name__)

ASSETS = Path(__file__).parent / "assets"
LIBRARY_FILE = "cytoscape.min.js"
DEFAULT_FILE_NAME = "graph.html"

SNIPPET_CHARS = 300  # source text shown per text unit
DESCRIPTION_CHARS = 1500  # entity description kept in the page
RELATION_CHARS = 300  # relationship description kept in the page
UNITS_PER_ENTITY = 10  # source text units listed per entity
HIDDEN_RELATIONS_PER_ENTITY = 25  # relationships to entities that are not drawn, listed per entity
DENSE_LAYOUT_LIMIT = 200  # above this many nodes, repulsion only acts between near neighbours (k-d tree)
LAYOUT_SEED = 7
GRAVITY = 0.25  # pull towards the centre: keeps loose components and isolated entities near the rest
SCALE = 80.0  # pixels per layout unit (the ideal edge length)
MIN_NODE_SIZE, MAX_NODE_SIZE = 10.0, 50.0


class UnknownLevelError(GraphRAGError):
    """The community level asked for does not exist in the index."""


@dataclass
class _Sources:
    """Text units and documents (both optional: an index may lack them)."""

    units: dict[str, TextUnit]
    documents: dict[str, Document]


# -- selection ----------------------------------------------------------------------------------------


def select_entities(entities: list[Entity], max_nodes: int) -> list[Entity]:
    """The ``max_nodes`` entities with the highest degree (then frequency, then title); all when <= 0."""
    ranked = sorted(entities, key=lambda e: (-int(e.degree), -int(e.frequency), e.title))
    return ranked if max_nodes <= 0 else ranked[:max_nodes]


def choose_level(communities: list[Community], shown_ids: set[str]) -> int | None:
    """The colour level: the coarsest that splits the drawn entities into at least 3 communities.

    Level 0 often holds one or two giant communities on a small graph, which colours everything alike;
    a finer level then tells more. Falls back to the level with the most communities, None without any.
    """
    counts: dict[int, int] = {}
    for community in communities:
        if shown_ids.intersection(community.entity_ids):
            counts[int(community.level)] = counts.get(int(community.level), 0) + 1
    if not counts:
        return None
    for level in sorted(counts):
        if counts[level] >= 3:
            return level
    return max(sorted(counts), key=lambda level: counts[level])


# -- layout -------------------------------------------------------------------------------------------


def _seed_positions(groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Start each community as a blob on a sunflower spiral (largest first): the layout then only refines."""
    n = len(groups)
    pos = np.zeros((n, 2))
    sizes = Counter(int(g) for g in groups if g >= 0)
    golden = math.pi * (3 - math.sqrt(5))
    placed = 0
    for rank, group in enumerate(sorted(sizes, key=lambda g: (-sizes[g], g))):
        members = np.flatnonzero(groups == group)
        radius = math.sqrt(placed + len(members) / 2) * 1.6
        centre = np.array([radius * math.cos(rank * golden), radius * math.sin(rank * golden)])
        pos[members] = centre + rng.normal(scale=0.5 * math.sqrt(len(members)), size=(len(members), 2))
        placed += len(members)
    loose = np.flatnonzero(groups < 0)
    if len(loose):
        angle = rng.uniform(0, 2 * math.pi, len(loose))
        spread = math.sqrt(max(n, 1)) * 1.6 * np.sqrt(rng.uniform(0, 1, len(loose)))
        pos[loose] = np.column_stack([spread * np.cos(angle), spread * np.sin(angle)])
    return pos


def _repulsion_pairs(pos: np.ndarray, cutoff: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (small graphs) or the pairs closer than ``cutoff`` (large graphs, via a k-d tree)."""
    if cutoff is None:
        i, j = np.triu_indices(len(pos), 1)
        return i, j
    from scipy.spatial import cKDTree

    pairs = cKDTree(pos).query_pairs(cutoff, output_type="ndarray")
    return pairs[:, 0], pairs[:, 1]


def force_layout(
    n: int,
    edges: np.ndarray,
    weights: np.ndarray,
    groups: np.ndarray,
    *,
    iterations: int | None = None,
    seed: int = LAYOUT_SEED,
) -> np.ndarray:
    """Fruchterman-Reingold positions (ideal edge length 1) plus gravity; deterministic for a seed.

    ``edges`` is an (m, 2) int array of node indices, ``groups`` a community index per node (-1 for
    none) used for the start positions. Above DENSE_LAYOUT_LIMIT nodes repulsion is cut off at a few edge
    lengths, which keeps each step near-linear (3,000 nodes lay out in about 3 s, not minutes) and, with
    the gravity, keeps the picture compact instead of pushing loose entities to the edges.
    """
    rng = np.random.default_rng(seed)
    pos = _seed_positions(groups, rng)
    if n < 2:
        return pos
    cutoff = None if n <= DENSE_LAYOUT_LIMIT else 6.0
    steps = iterations or (200 if cutoff is None else 120)
    src, dst = (edges[:, 0], edges[:, 1]) if len(edges) else (np.zeros(0, int), np.zeros(0, int))
    pull_weight = 0.5 + 0.5 * np.sqrt(weights / weights.max()) if len(weights) else weights
    temperature = 0.1 * math.sqrt(n) + 1.0
    cooling = temperature / (steps + 1)

    def spread(index: np.ndarray, force: np.ndarray) -> np.ndarray:
        return np.column_stack([np.bincount(index, force[:, k], minlength=n) for k in (0, 1)])

    for _ in range(steps):
        i, j = _repulsion_pairs(pos, cutoff)
        delta = pos[i] - pos[j]
        push = delta / ((delta * delta).sum(1) + 1e-3)[:, None]
        disp = spread(i, push) - spread(j, push)
        if len(src):
            delta = pos[src] - pos[dst]
            pull = delta * (np.sqrt((delta * delta).sum(1)) * pull_weight)[:, None]
            disp += spread(dst, pull) - spread(src, pull)
        disp -= GRAVITY * pos
        length = np.sqrt((disp * disp).sum(1)) + 1e-9
        pos += disp * (np.minimum(length, temperature) / length)[:, None]
        temperature = max(temperature - cooling, 0.05)
    centred: np.ndarray = pos - pos.mean(0)
    return centred


# -- page data ----------------------------------------------------------------------------------------


def _clip(text: str, limit: int, *, one_line: bool = True) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis; ``one_line`` collapses whitespace."""
    text = " ".join(str(text).split()) if one_line else str(text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass
class _Edges:
    """Relationships touching the drawn entities. Rows are [i, j, weight, description]; an index past the
    drawn entities points into ``others`` (the far end is not drawn)."""

    rows: list[list[Any]]
    drawn: list[tuple[int, int, float]]
    others: list[str]
    left_out: dict[int, int]  # drawn entity -> relationships to undrawn entities not listed


def _collect_edges(relationships: list[Relationship], entities: list[Entity], shown: list[Entity]) -> _Edges:
    index_of = {normalize_title(e.title): i for i, e in enumerate(shown)}
    titles = {normalize_title(e.title): e.title for e in entities}
    others: dict[str, int] = {}
    drawn: list[tuple[int, int, float]] = []
    rows: list[list[Any]] = []
    hidden: dict[int, list[tuple[float, list[Any]]]] = {}
    for rel in relationships:
        a, b = index_of.get(normalize_title(rel.source)), index_of.get(normalize_title(rel.target))
        weight = float(rel.weight) if math.isfinite(rel.weight) else 0.0
        row: list[Any] = [a, b, round(weight, 3), _clip(rel.description, RELATION_CHARS)]
        if a is not None and b is not None:
            drawn.append((a, b, weight))
            rows.append(row)
            continue
        for near, far, slot in ((a, rel.target, 1), (b, rel.source, 0)):
            if near is not None:  # exactly one end is drawn: name the other in `others`
                far_title = titles.get(normalize_title(far), far)
                row[slot] = len(shown) + others.setdefault(far_title, len(others))
                hidden.setdefault(near, []).append((weight, row))
    left_out: dict[int, int] = {}
    for node, listed in hidden.items():
        listed.sort(key=lambda item: -item[0])
        rows.extend(row for _, row in listed[:HIDDEN_RELATIONS_PER_ENTITY])
        left_out[node] = max(0, len(listed) - HIDDEN_RELATIONS_PER_ENTITY)
    return _Edges(rows, drawn, list(others), left_out)


def _positions(
    shown: list[Entity], edges: _Edges, membership: dict[str, dict[int, str]], level: int | None
) -> np.ndarray:
    """Layout of the drawn entities in pixels, communities of ``level`` starting out together."""
    group_ids = [membership.get(e.id, {}).get(level) if level is not None else None for e in shown]
    group_index = {g: k for k, g in enumerate(sorted({g for g in group_ids if g}))}
    groups = np.array([group_index[g] if g else -1 for g in group_ids], dtype=int)
    pairs = np.array([(a, b) for a, b, _ in edges.drawn], dtype=int).reshape(-1, 2)
    weights = np.maximum(np.array([w for _, _, w in edges.drawn], dtype=float), 1e-6)
    return force_layout(len(shown), pairs, weights, groups) * SCALE


class _SourceTable:
    """Text-unit snippets and document titles, each stored once however many entities cite them."""

    def __init__(self, sources: _Sources) -> None:
        self.sources = sources
        self.units: list[list[Any]] = []  # [document index, chunk index, snippet]
        self.documents: list[str] = []
        self._unit_index: dict[str, int] = {}
        self._doc_index: dict[str, int] = {}

    def refs(self, text_unit_ids: list[str]) -> list[int]:
        found = [uid for uid in text_unit_ids if uid in self.sources.units][:UNITS_PER_ENTITY]
        return [self._add(uid) for uid in found]

    def _add(self, uid: str) -> int:
        if uid not in self._unit_index:
            unit = self.sources.units[uid]
            doc = self.sources.documents.get(unit.document_id)
            doc_title = doc.title if doc else unit.document_id
            if doc_title not in self._doc_index:
                self._doc_index[doc_title] = len(self.documents)
                self.documents.append(doc_title)
            self._unit_index[uid] = len(self.units)
            self.units.append(
                [self._doc_index[doc_title], int(unit.chunk_index), _clip(unit.text, SNIPPET_CHARS)]
            )
        return self._unit_index[uid]


def build_viz_data(
    output_dir: Path, level: int | None = None, max_nodes: int = 500, title: str | None = None
) -> dict[str, Any]:
    """Everything the page shows, as plain JSON-ready data (the keys are documented in assets/viz.js)."""
    reader = IndexReader(output_dir)
    tables = load_graph_tables(reader)
    levels = tables.levels
    if level is not None and level not in levels:
        known = ", ".join(map(str, levels)) or "none (the index has no communities)"
        raise UnknownLevelError(f"There is no community level {level}. Levels in this index: {known}.")
    shown = select_entities(tables.entities, max_nodes)
    colour_level = level if level is not None else choose_level(tables.communities, {e.id for e in shown})
    membership = community_of(tables.communities)
    edges = _collect_edges(tables.relationships, tables.entities, shown)
    positions = _positions(shown, edges, membership, colour_level)
    sources = _SourceTable(
        _Sources(
            {u.id: u for u in reader.records_if_exists("text_units")},
            {d.id: d for d in reader.records_if_exists("documents")},
        )
    )
    max_degree = max([int(e.degree) for e in shown] + [1])
    nodes: list[dict[str, Any]] = []
    for i, entity in enumerate(shown):
        size = MIN_NODE_SIZE + (MAX_NODE_SIZE - MIN_NODE_SIZE) * math.sqrt(int(entity.degree) / max_degree)
        nodes.append(
            {
                "t": entity.title,
                "k": entity.type,
                "d": _clip(entity.description, DESCRIPTION_CHARS, one_line=False),
                "a": list(entity.aliases),
                "g": int(entity.degree),
                "f": int(entity.frequency),
                "x": round(float(positions[i, 0]), 1),
                "y": round(float(positions[i, 1]), 1),
                "s": round(size, 1),
                "c": [membership.get(entity.id, {}).get(lv) for lv in levels],
                "u": sources.refs(entity.text_unit_ids),
                "nu": len(entity.text_unit_ids),
                "h": edges.left_out.get(i, 0),
            }
        )
    reports = {r.community_id: r.title for r in reader.records_if_exists("community_reports") if r.title}
    used = {c for node in nodes for c in node["c"] if c}
    return {
        "meta": {
            "title": title or "graphrag-lite graph",
            "entities_total": len(tables.entities),
            "relationships_total": len(tables.relationships),
            "shown": len(shown),
            "edges_shown": len(edges.drawn),
            "levels": levels,
            "level": colour_level,
        },
        "nodes": nodes,
        "others": edges.others,
        "edges": edges.rows,
        "communities": {cid: reports[cid] for cid in sorted(used) if cid in reports},
        "units": sources.units,
        "docs": sources.documents,
    }


# -- the page -----------------------------------------------------------------------------------------


def script_json(value: Any) -> str:
    """JSON that is safe inside <script>: no '<', '>' or '&' (so no '</script>' or '<!--'), no line breaks
    JavaScript once disallowed in strings."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _inline_script(name: str) -> str:
    """An asset's text, checked to be safe to inline in a <script> element."""
    code = (ASSETS / name).read_text(encoding="utf-8")
    if "</script" in code.lower():
        raise GraphRAGError(
            f"The asset {name} contains '</script' and cannot be inlined; reinstall graphrag-lite."
        )
    return code


def render_html(data: dict[str, Any]) -> str:
    """The page: template with style, library, script and data inlined in one pass (data can't inject)."""
    template = (ASSETS / "viz.html").read_text(encoding="utf-8")
    parts = {
        "TITLE": html.escape(str(data["meta"]["title"])),
        "CSS": (ASSETS / "viz.css").read_text(encoding="utf-8"),
        "LIBRARY": _inline_script(LIBRARY_FILE),
        "APP": _inline_script("viz.js"),
        "DATA": script_json(data),
    }
    return re.sub(r"\{\{([A-Z]+)\}\}", lambda m: parts[m.group(1)], template)


def write_viz(
    output_dir: Path,
    out: Path | None = None,
    level: int | None = None,
    max_nodes: int = 500,
    *,
    force: bool = False,
) -> Path:
    """Write the interactive HTML view of the index in ``output_dir``; returns its path.

    ``out`` defaults to ``output_dir/graph.html``; ``level`` is the community level used for colours
    (default: the coarsest level with at least 3 communities among the drawn entities); ``max_nodes``
    caps the drawn entities, highest degree first (0 draws all).
    """
    output_dir = Path(output_dir)
    target = Path(out) if out is not None else output_dir / DEFAULT_FILE_NAME
    if out is not None:
        refuse_overwrite([target], force)
    project = output_dir.resolve().parent.name
    data = build_viz_data(output_dir, level=level, max_nodes=max_nodes, title=f"{project} · graphrag-lite")
    atomic_write_text(target, render_html(data))
    meta = data["meta"]
    log.info("Wrote %s (%d of %d entities drawn)", target, meta["shown"], meta["entities_total"])
    return target
