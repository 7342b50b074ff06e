"""The interactive HTML view: self-contained, safely embedded data, and really drawn by a browser.

The browser tests run Debian's headless Chromium (``apt-get install -y chromium``) and are skipped with a
reason where /usr/bin/chromium is absent.
"""

from __future__ import annotations

import json
import re
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from test_export import NASTY_TITLE, write_graph_index

from graphrag_lite.api.viz import UnknownLevelError, choose_level, force_layout, write_viz
from graphrag_lite.errors import IndexNotFoundError
from graphrag_lite.store.tables import write_table

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return write_graph_index(tmp_path / "proj" / "output")


def page_data(page: Path) -> dict[str, Any]:
    text = page.read_text(encoding="utf-8")
    match = re.search(r'<script type="application/json" id="graph-data">(.*?)</script>', text, re.S)
    assert match, "the page embeds its data in #graph-data"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


# -- the file -------------------------------------------------------------------------------------------


def test_page_is_self_contained(index_dir: Path) -> None:
    page = write_viz(index_dir)
    assert page == index_dir / "graph.html"
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"""<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=""", text, re.I)
    assert not re.search(r"""@import|url\(\s*['"]?\s*(https?:)?//""", text, re.I)
    assert text.count("<script") == 3 and "cytoscape" in text  # data, library, app: all inline
    for i in (0, 12, 29):
        assert f"Entity {i:04d}" in text
    assert "proj · graphrag-lite" in text


def test_entity_text_cannot_break_out_of_the_script(index_dir: Path) -> None:
    text = write_viz(index_dir).read_text(encoding="utf-8")
    assert NASTY_TITLE not in text and 'alert("x")' not in text
    assert text.lower().count("</script") == 3  # only the three real closing tags
    assert "<!--" not in text
    titles = [n["t"] for n in page_data(index_dir / "graph.html")["nodes"]]
    assert NASTY_TITLE in titles  # yet the data still holds the exact title


def test_data_carries_descriptions_relationships_and_sources(index_dir: Path) -> None:
    data = page_data(write_viz(index_dir))
    meta = data["meta"]
    assert (meta["shown"], meta["entities_total"], meta["edges_shown"], meta["relationships_total"]) == (
        30,
        30,
        39,
        39,
    )
    assert meta["levels"] == [0, 1] and meta["level"] == 0  # 3 communities at level 0: coarsest is enough
    nodes = {n["t"]: (i, n) for i, n in enumerate(data["nodes"])}
    i, node = nodes["Entity 0001"]
    assert node["d"] == "Entity 0001 is entity number 1." and node["k"] == "organization"
    assert node["c"][0].startswith("c0-") and node["c"][1].startswith("c1-")
    assert data["communities"][node["c"][0]] == "Group 0"
    neighbours = {
        data["nodes"][e[1] if e[0] == i else e[0]]["t"]: e[2] for e in data["edges"] if i in (e[0], e[1])
    }
    assert neighbours == {"Entity 0000": 2.0, "Entity 0002": 4.0}
    doc_index, chunk, snippet = data["units"][node["u"][0]]
    assert data["docs"][doc_index] == "Report 0.txt" and chunk == 1
    assert snippet.startswith("Chunk 1 of document 0: Entity 0001") and len(snippet) <= 300
    degrees = [n["g"] for n in data["nodes"]]
    assert degrees == sorted(degrees, reverse=True)
    assert all(isinstance(n["x"], float) and isinstance(n["y"], float) for n in data["nodes"])


def test_max_nodes_keeps_the_most_connected_and_lists_the_rest_as_not_drawn(index_dir: Path) -> None:
    data = page_data(write_viz(index_dir, max_nodes=5, level=1))
    assert data["meta"]["shown"] == 5 and data["meta"]["entities_total"] == 30
    assert data["meta"]["level"] == 1
    top = sorted(data["nodes"], key=lambda n: -n["g"])
    assert [n["g"] for n in data["nodes"]] == [n["g"] for n in top]
    assert min(n["g"] for n in data["nodes"]) >= 3  # every entity of degree >= 4 made it first
    drawn = [e for e in data["edges"] if e[0] < 5 and e[1] < 5]
    assert len(drawn) == data["meta"]["edges_shown"]
    hidden = [e for e in data["edges"] if e[0] >= 5 or e[1] >= 5]
    assert hidden and all(data["others"][max(e[0], e[1]) - 5].startswith(("Entity", "<")) for e in hidden)


def test_unknown_level_and_missing_index_are_explained(index_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(UnknownLevelError, match=r"no community level 4\. Levels in this index: 0, 1"):
        write_viz(index_dir, level=4)
    with pytest.raises(IndexNotFoundError, match="graphrag-lite index --root"):
        write_viz(tmp_path / "empty" / "output")


def test_page_is_deterministic(index_dir: Path, tmp_path: Path) -> None:
    first = write_viz(index_dir, out=tmp_path / "a.html").read_bytes()
    assert write_viz(index_dir, out=tmp_path / "b.html").read_bytes() == first


def test_choose_level_prefers_the_coarsest_level_with_several_communities() -> None:
    from graphrag_lite.store.records import Community

    two = [Community("c0-a", 0, None, entity_ids=["x"]), Community("c0-b", 0, None, entity_ids=["y"])]
    four = [Community(f"c1-{k}", 1, None, entity_ids=[k]) for k in "xyzw"]
    assert choose_level(two + four, {"x", "y", "z", "w"}) == 1
    assert choose_level(two + four, {"x", "y"}) == 0  # level 1 splits the drawn entities no better
    assert choose_level([], {"x"}) is None


def test_layout_keeps_connected_entities_closer_than_unconnected_ones() -> None:
    import numpy as np

    # Two 10-node cliques joined by one edge.
    edges = [(a, b) for g in (0, 10) for a in range(g, g + 10) for b in range(a + 1, g + 10)] + [(0, 10)]
    pos = force_layout(20, np.array(edges), np.ones(len(edges)), np.full(20, -1))
    inside = np.linalg.norm(pos[1] - pos[2])
    across = np.linalg.norm(pos[5] - pos[15])
    assert inside * 2 < across
    assert np.array_equal(pos, force_layout(20, np.array(edges), np.ones(len(edges)), np.full(20, -1)))


def test_large_layout_uses_near_neighbour_repulsion_and_keeps_communities_apart() -> None:
    import numpy as np

    from graphrag_lite.api.viz import DENSE_LAYOUT_LIMIT

    rng = np.random.default_rng(0)
    n = 2 * (DENSE_LAYOUT_LIMIT + 50)
    half = n // 2
    ring = [(k, (k + 1) % half) for k in range(half)]
    chords = [tuple(sorted(map(int, rng.choice(half, 2, replace=False)))) for _ in range(half)]
    edges = np.array([(a + g, b + g) for g in (0, half) for a, b in ring + chords] + [(0, half)])
    groups = np.repeat([0, 1], half)
    pos = force_layout(n, edges, np.ones(len(edges)), groups)
    assert np.isfinite(pos).all()
    centre_a, centre_b = pos[:half].mean(0), pos[half:].mean(0)
    spread = np.linalg.norm(pos[:half] - centre_a, axis=1).mean()
    assert np.linalg.norm(centre_a - centre_b) > spread  # two blobs, not one
    assert np.linalg.norm(pos[edges[:, 0]] - pos[edges[:, 1]], axis=1).mean() < spread


def test_index_without_text_units_still_makes_a_page(tmp_path: Path) -> None:
    output = write_graph_index(tmp_path / "bare" / "output", with_sources=False)
    data = page_data(write_viz(output))
    assert data["meta"]["shown"] == 30 and data["units"] == [] and data["docs"] == []
    assert all(node["u"] == [] and node["nu"] >= 1 for node in data["nodes"])


# -- in a browser ----------------------------------------------------------------------------------------


def chromium(page: Path, workdir: Path, *args: str) -> str:
    """Run headless Chromium on ``page`` with ``args`` (e.g. --screenshot=...); returns stdout."""
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={workdir / 'chromium-profile'}",
        "--window-size=1200,800",
        "--virtual-time-budget=5000",
        *args,
        page.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def read_png(path: Path) -> tuple[int, int, list[bytes], int]:
    """(width, height, unfiltered rows, bytes per pixel) of an 8-bit RGB/RGBA, non-interlaced PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0
    bpp = 3 if colour == 2 else 4
    raw, stride, rows, previous = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride):
            left = line[x - bpp] if x >= bpp else 0
            up, corner = previous[x], previous[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[x] = (line[x] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, rows, bpp


def drawn_pixels(png: Path, top: int = 70, bottom: int = 560) -> int:
    """Pixels in the graph area (below the header, above the legend) that differ from the background."""
    width, _, rows, bpp = read_png(png)
    background = (0xFB, 0xFB, 0xFA)
    count = 0
    for row in rows[top:bottom]:
        for x in range(200, width):  # right of the legend column
            r, g, b = row[x * bpp : x * bpp + 3]
            if abs(r - background[0]) + abs(g - background[1]) + abs(b - background[2]) > 30:
                count += 1
    return count


class _Panel(HTMLParser):
    """Collects the attributes of #status and #panel and the text inside #panel."""

    def __init__(self) -> None:
        super().__init__()
        self.attrs: dict[str, dict[str, str | None]] = {}
        self.depth = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        ident = dict(attrs).get("id")
        if ident in ("status", "panel", "matches"):
            self.attrs[ident] = dict(attrs)
        if self.depth or ident == "panel":
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.text.append(data)


def parse_dom(dom: str) -> _Panel:
    parser = _Panel()
    parser.feed(dom)
    return parser


@pytest.mark.chromium
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install -y chromium")
def test_browser_draws_the_nodes(index_dir: Path, tmp_path: Path) -> None:
    page = write_viz(index_dir)
    dom = parse_dom(chromium(page, tmp_path, "--dump-dom"))
    status = dom.attrs["status"]
    assert status["data-state"] == "ready", status
    assert (status["data-nodes"], status["data-edges"]) == ("30", "39")

    empty = tmp_path / "empty" / "output"
    for name in ("entities", "relationships", "communities"):
        write_table(empty, name, [])
    blank = write_viz(empty)
    assert parse_dom(chromium(blank, tmp_path, "--dump-dom")).attrs["status"]["data-state"] == "ready"

    blank_shot = tmp_path / "blank.png"
    chromium(blank, tmp_path, f"--screenshot={blank_shot}")
    background = drawn_pixels(blank_shot)
    drawn = 0
    for attempt in range(2):  # on a loaded machine headless virtual time can capture before the 1st frame
        shot = tmp_path / f"graph{attempt}.png"
        chromium(page, tmp_path, f"--screenshot={shot}")
        drawn = drawn_pixels(shot)
        if drawn > 5000:
            break
    assert background < 500, "the empty page draws (almost) nothing in the graph area"
    assert drawn > 5000, f"only {drawn} pixels drawn: nodes are missing"


@pytest.mark.chromium
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install -y chromium")
def test_search_focuses_an_entity_and_the_panel_shows_it(index_dir: Path, tmp_path: Path) -> None:
    page = write_viz(index_dir)
    script = (
        "<script>var hits = graphView.find('ENTITY 001');"
        "document.getElementById('matches').dataset.hits = String(hits.length);"
        "document.getElementById('matches').dataset.first = String(graphView.find('e1')[0]);"
        "graphView.focus(hits[0]);</script></body>"
    )
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", script), encoding="utf-8")
    dom = parse_dom(chromium(probe, tmp_path, "--dump-dom"))
    assert dom.attrs["matches"]["data-hits"] == "10"  # Entity 0010 .. 0019, case-insensitive substring
    data = page_data(page)
    # "e1" is exactly the alias of Entity 0001 (degree 2): it comes before aliases starting "e1" (E10 ...).
    assert data["nodes"][int(dom.attrs["matches"]["data-first"] or -1)]["t"] == "Entity 0001"
    assert "hidden" not in dom.attrs["panel"]
    text = " ".join(" ".join(dom.text).split())
    first = data["nodes"][next(i for i, n in enumerate(data["nodes"]) if "entity 001" in n["t"].lower())]
    assert first["t"] in text and first["d"] in text
    assert "Relationships (" in text and "weight " in text
    assert "works with" in text
    assert "Report " in text and "· chunk" in text and "Chunk " in text
