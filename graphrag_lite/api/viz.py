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
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from graphrag_lite.api.export import community_of, load_graph_tables
from graphrag_lite.errors import GraphRAGError
from graphrag_lite.store.atomic import atomic_write_text
from graphrag_lite.store.ids import normalize_title
from graphrag_lite.store.records import Community, Document, Entity, TextUnit
from graphrag_lite.store.tables import read_records, table_exists

log = logging.getLogger(__name__)

ASSETS = Path(__file__).parent / "assets"
LIBRARY_FILE = "cytoscape.min.js"
DEFAULT_FILE_NAME = "graph.html"

SNIPPET_CHARS = 300  # source text shown per text unit
DESCRIPTION_CHARS = 1500  # entity description kept in the page
RELATION_CHARS = 300  # relationship description kept in the page
UNITS_PER_ENTITY = 10  # source text units listed per entity
HIDDEN_RELATIONS_PER_ENTITY = 25  # relationships to entities that are not drawn, listed per entity
DENSE_LAYOUT_LIMIT = 1200  # above this many nodes, repulsion only acts between near neighbours
LAYOUT_SEED = 7
SCALE = 40.0  # pixels per layout unit (the ideal edge length)
MIN_NODE_SIZE, MAX_NODE_SIZE = 12.0, 56.0


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
        radius = math.sqrt(max(n, 1)) * 1.6 * np.sqrt(rng.uniform(0, 1, len(loose)))
        pos[loose] = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
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
    """Fruchterman-Reingold positions (ideal edge length 1) with a little gravity; deterministic.

    ``edges`` is an (m, 2) int array of node indices, ``groups`` a community index per node (-1 for
    none) used for the start positions. Above DENSE_LAYOUT_LIMIT nodes repulsion is cut off at a few edge
    lengths, which keeps each step near-linear (3,000 nodes lay out in seconds, not minutes).
    """
    rng = np.random.default_rng(seed)
    pos = _seed_positions(groups, rng)
    if n < 2:
        return pos
    cutoff = None if n <= DENSE_LAYOUT_LIMIT else 6.0
    steps = iterations or (200 if cutoff is None else 120)
    src, dst = (edges[:, 0], edges[:, 1]) if len(edges) else (np.zeros(0, int), np.zeros(0, int))
    pull_weight = 0.5 + 0.5 * np.sqrt(weights / weights.max()) if len(weights) else weights
    gravity = 0.02 if cutoff is None else 0.05
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
        disp -= gravity * pos
        length = np.sqrt((disp * disp).sum(1)) + 1e-9
        pos += disp * (np.minimum(length, temperature) / length)[:, None]
        temperature = max(temperature - cooling, 0.05)
    return pos - pos.mean(0)


# -- page data ----------------------------------------------------------------------------------------


def _clip(text: str, limit: int) -> str:
    text = " ".join(str(text).split()) if limit <= SNIPPET_CHARS else str(text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _load_sources(output_dir: Path) -> _Sources:
    units: dict[str, TextUnit] = {}
    documents: dict[str, Document] = {}
    if table_exists(output_dir, "text_units"):
        units = {u.id: u for u in read_records(output_dir, "text_units")}
    if table_exists(output_dir, "documents"):
        documents = {d.id: d for d in read_records(output_dir, "documents")}
    return _Sources(units, documents)


def _report_titles(output_dir: Path) -> dict[str, str]:
    if not table_exists(output_dir, "community_reports"):
        return {}
    return {r.community_id: r.title for r in read_records(output_dir, "community_reports") if r.title}


def build_viz_data(
    output_dir: Path, level: int | None = None, max_nodes: int = 500, title: str | None = None
) -> dict[str, Any]:
    """Everything the page shows, as plain JSON-ready data (the keys are documented in assets/viz.js)."""
    output_dir = Path(output_dir)
    tables = load_graph_tables(output_dir)
    levels = tables.levels
    if level is not None and level not in levels:
        known = ", ".join(map(str, levels)) or "none (the index has no communities)"
        raise UnknownLevelError(f"There is no community level {level}. Levels in this index: {known}.")
    shown = select_entities(tables.entities, max_nodes)
    index_of = {normalize_title(e.title): i for i, e in enumerate(shown)}
    shown_ids = {e.id for e in shown}
    colour_level = level if level is not None else choose_level(tables.communities, shown_ids)
    membership = community_of(tables.communities)

    others: dict[str, int] = {}
    drawn: list[tuple[int, int, float]] = []
    edges: list[list[Any]] = []
    hidden: dict[int, list[tuple[float, list[Any]]]] = {}
    titles = {normalize_title(e.title): e.title for e in tables.entities}
    for rel in tables.relationships:
        a, b = index_of.get(normalize_title(rel.source)), index_of.get(normalize_title(rel.target))
        if a is None and b is None:
            continue
        row: list[Any] = [a, b, round(float(rel.weight), 3), _clip(rel.description, RELATION_CHARS)]
        if a is not None and b is not None:
            drawn.append((a, b, float(rel.weight)))
            edges.append(row)
            continue
        far = rel.target if a is not None else rel.source
        far_title = titles.get(normalize_title(far), far)
        row[1 if a is not None else 0] = -1 - others.setdefault(far_title, len(others))
        hidden.setdefault(a if a is not None else b, []).append((float(rel.weight), row))  # type: ignore[arg-type]
    hidden_more: dict[int, int] = {}
    for node, rows in hidden.items():
        rows.sort(key=lambda item: -item[0])
        edges.extend(row for _, row in rows[:HIDDEN_RELATIONS_PER_ENTITY])
        hidden_more[node] = max(0, len(rows) - HIDDEN_RELATIONS_PER_ENTITY)
    edges = [[a if a >= 0 else len(shown) - 1 - a, b if b >= 0 else len(shown) - 1 - b, *rest]
             for a, b, *rest in edges]

    group_ids = [membership.get(e.id, {}).get(colour_level) if colour_level is not None else None for e in shown]
    group_index = {g: k for k, g in enumerate(sorted({g for g in group_ids if g}))}
    groups = np.array([group_index[g] if g else -1 for g in group_ids], dtype=int)
    pairs = np.array([(a, b) for a, b, _ in drawn], dtype=int).reshape(-1, 2)
    weights = np.array([w for _, _, w in drawn], dtype=float)
    positions = force_layout(len(shown), pairs, np.maximum(weights, 1e-6), groups) * SCALE

    sources = _load_sources(output_dir)
    unit_index: dict[str, int] = {}
    doc_index: dict[str, int] = {}
    units: list[list[Any]] = []
    documents: list[str] = []
    max_degree = max([int(e.degree) for e in shown] + [1])
    nodes: list[dict[str, Any]] = []
    for i, entity in enumerate(shown):
        refs: list[int] = []
        for uid in entity.text_unit_ids:
            unit = sources.units.get(uid)
            if unit is None or len(refs) >= UNITS_PER_ENTITY:
                continue
            if uid not in unit_index:
                doc = sources.documents.get(unit.document_id)
                doc_title = doc.title if doc else unit.document_id
                if doc_title not in doc_index:
                    doc_index[doc_title] = len(documents)
                    documents.append(doc_title)
                unit_index[uid] = len(units)
                units.append([doc_index[doc_title], int(unit.chunk_index), _clip(unit.text, SNIPPET_CHARS)])
            refs.append(unit_index[uid])
        groups_of = membership.get(entity.id, {})
        size = MIN_NODE_SIZE + (MAX_NODE_SIZE - MIN_NODE_SIZE) * math.sqrt(int(entity.degree) / max_degree)
        nodes.append(
            {
                "t": entity.title,
                "k": entity.type,
                "d": _clip(entity.description, DESCRIPTION_CHARS),
                "a": list(entity.aliases),
                "g": int(entity.degree),
                "f": int(entity.frequency),
                "x": round(float(positions[i, 0]), 1),
                "y": round(float(positions[i, 1]), 1),
                "s": round(size, 1),
                "c": [groups_of.get(lv) for lv in levels],
                "u": refs,
                "nu": len(entity.text_unit_ids),
                "h": hidden_more.get(i, 0),
            }
        )
    reports = _report_titles(output_dir)
    used = {c for node in nodes for c in node["c"] if c}
    return {
        "meta": {
            "title": title or "graphrag-lite graph",
            "entities_total": len(tables.entities),
            "relationships_total": len(tables.relationships),
            "shown": len(shown),
            "edges_shown": len(drawn),
            "levels": levels,
            "level": colour_level,
        },
        "nodes": nodes,
        "others": list(others),
        "edges": edges,
        "communities": {cid: reports[cid] for cid in sorted(used) if cid in reports},
        "units": units,
        "docs": documents,
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
        raise GraphRAGError(f"The asset {name} contains '</script' and cannot be inlined; reinstall graphrag-lite.")
    return code


def render_html(data: dict[str, Any]) -> str:
    """The page: template with style, library, app script and data inlined (one pass, so data can't inject)."""
    import re

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
    output_dir: Path, out: Path | None = None, level: int | None = None, max_nodes: int = 500
) -> Path:
    """Write the interactive HTML view of the index in ``output_dir``; returns its path.

    ``out`` defaults to ``output_dir/graph.html``; ``level`` is the community level used for colours
    (default: the coarsest level with at least 3 communities among the drawn entities); ``max_nodes``
    caps the drawn entities, highest degree first (0 draws all).
    """
    output_dir = Path(output_dir)
    target = Path(out) if out is not None else output_dir / DEFAULT_FILE_NAME
    project = output_dir.resolve().parent.name
    data = build_viz_data(output_dir, level=level, max_nodes=max_nodes, title=f"{project} · graphrag-lite")
    atomic_write_text(target, render_html(data))
    meta = data["meta"]
    log.info("Wrote %s (%d of %d entities drawn)", target, meta["shown"], meta["entities_total"])
    return target
