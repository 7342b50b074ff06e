"""A small, hand-checked index over the Christmas Carol excerpt, for the query tests.

Documents and text units are cut from tests/data/carol_excerpt.txt by the real chunker; entities,
relationships, communities and reports are written by hand (so tests can assert exact content), linked to the
text units where their names occur, saved as Parquet with the real table writer and embedded into LanceDB with
the real MiniLM embedder. The index is built once per test session.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

from graphrag_lite.config import Settings, load_settings
from graphrag_lite.index.embed import embed_index
from graphrag_lite.index.graph.linking import link_text_units
from graphrag_lite.index.input.chunking import chunk_documents
from graphrag_lite.models.base import ChatModel, Embedder, UsageMeter
from graphrag_lite.models.factory import create_chat, create_embedder
from graphrag_lite.models.tokens import get_tokenizer
from graphrag_lite.query.index_data import IndexData
from graphrag_lite.store import ids
from graphrag_lite.store.records import (
    Community,
    CommunityReport,
    Document,
    Entity,
    Finding,
    Relationship,
)
from graphrag_lite.store.tables import write_table

EXCERPT = Path(__file__).parent / "data" / "carol_excerpt.txt"

# (title, first line, last line) of the excerpt, 1-based, inclusive.
DOCUMENTS = (
    ("Characters", 1, 27),
    ("Stave One: Marley's Ghost", 28, 821),
    ("Stave Three: The Cratchits' Christmas", 822, 10_000),
)

# title, type, description, aliases
ENTITIES: tuple[tuple[str, str, str, list[str]], ...] = (
    (
        "EBENEZER SCROOGE",
        "person",
        "A grasping, covetous old man, the surviving partner of the firm of Scrooge "
        "and Marley; Bob Cratchit's employer and Fred's uncle.",
        ["Scrooge", "Mr. Scrooge"],
    ),
    (
        "BOB CRATCHIT",
        "person",
        "Scrooge's poorly paid clerk, a cheerful family man; husband of Mrs. Cratchit "
        "and father of Tiny Tim, Martha, Belinda and Peter.",
        ["Bob"],
    ),
    (
        "TINY TIM",
        "person",
        "Tim Cratchit, the youngest son of the Cratchit family, a small crippled boy who "
        "says 'God bless us every one!'",
        ["Tim Cratchit"],
    ),
    (
        "MRS. CRATCHIT",
        "person",
        "Wife of Bob Cratchit, who cooks the family's Christmas goose and pudding.",
        ["Mrs Cratchit"],
    ),
    (
        "MARTHA CRATCHIT",
        "person",
        "Eldest daughter of the Cratchits, who comes home for Christmas Day.",
        ["Martha"],
    ),
    (
        "JACOB MARLEY",
        "person",
        "Scrooge's former business partner, dead seven years, who returns as a ghost bound in chains.",
        ["Marley"],
    ),
    ("FRED", "person", "Scrooge's cheerful nephew, who invites him to Christmas dinner.", []),
    (
        "GHOST OF CHRISTMAS PRESENT",
        "person",
        "The generous spirit who shows Scrooge the Cratchits' Christmas.",
        ["the Spirit"],
    ),
)

# source, target, description, weight
RELATIONSHIPS = (
    (
        "BOB CRATCHIT",
        "TINY TIM",
        "Bob Cratchit is Tiny Tim's father; he carries Tiny Tim home on his shoulder.",
        5.0,
    ),
    ("BOB CRATCHIT", "EBENEZER SCROOGE", "Bob Cratchit is the poorly paid clerk of Ebenezer Scrooge.", 4.0),
    ("BOB CRATCHIT", "MRS. CRATCHIT", "Mrs. Cratchit is Bob Cratchit's wife.", 3.0),
    ("BOB CRATCHIT", "MARTHA CRATCHIT", "Martha is Bob Cratchit's daughter.", 2.0),
    ("MRS. CRATCHIT", "TINY TIM", "Mrs. Cratchit is Tiny Tim's mother.", 2.0),
    (
        "EBENEZER SCROOGE",
        "JACOB MARLEY",
        "Partners in the firm of Scrooge and Marley; Marley's ghost warns Scrooge.",
        5.0,
    ),
    ("EBENEZER SCROOGE", "FRED", "Fred is Scrooge's nephew.", 3.0),
    (
        "EBENEZER SCROOGE",
        "GHOST OF CHRISTMAS PRESENT",
        "The Ghost of Christmas Present shows Scrooge the Cratchits' Christmas.",
        2.0,
    ),
    ("BOB CRATCHIT", "GHOST OF CHRISTMAS PRESENT", "The spirit blesses Bob Cratchit's dwelling.", 1.0),
)

# level -> list of (member titles, report title, summary, findings, rating)
COMMUNITIES: tuple[tuple[int, tuple[str, ...], str, str, tuple[tuple[str, str], ...], float], ...] = (
    (
        0,
        ("EBENEZER SCROOGE", "JACOB MARLEY", "FRED", "GHOST OF CHRISTMAS PRESENT"),
        "Scrooge, Marley and the Christmas spirits",
        "Scrooge, a covetous old man, is visited by the ghost of his partner Jacob Marley and by the "
        "Christmas spirits. The central theme of the story is his redemption.",
        (
            (
                "Scrooge's greed",
                "Scrooge is a grasping, covetous old man who despises Christmas and charity.",
            ),
            (
                "Marley's warning",
                "Marley's ghost, bound in chains, warns Scrooge to change; a theme of the story is "
                "that greed forges its own chains.",
            ),
            ("Fred's goodwill", "Fred keeps inviting his uncle to Christmas dinner despite every refusal."),
        ),
        8.0,
    ),
    (
        0,
        ("BOB CRATCHIT", "TINY TIM", "MRS. CRATCHIT", "MARTHA CRATCHIT"),
        "The Cratchit family",
        "Bob Cratchit, Scrooge's poor clerk, keeps a joyful Christmas with his family. Family, poverty and "
        "generosity are themes of the story.",
        (
            (
                "Bob Cratchit is Tiny Tim's father",
                "Bob carries Tiny Tim on his shoulder and sits him beside him at the Christmas table.",
            ),
            (
                "Joy despite poverty",
                "The Cratchits' small goose and pudding show a theme of the story: generosity "
                "and happiness do not need wealth.",
            ),
        ),
        7.0,
    ),
    (
        1,
        ("EBENEZER SCROOGE", "JACOB MARLEY"),
        "Scrooge and Marley",
        "The firm of Scrooge and Marley and the ghost of the dead partner.",
        (("Partners", "Scrooge and Marley were partners for many years; Scrooge was his sole executor."),),
        6.0,
    ),
    (
        1,
        ("FRED", "GHOST OF CHRISTMAS PRESENT"),
        "Fred and the Ghost of Christmas Present",
        "Scrooge's nephew and the spirit of the present.",
        (("Goodwill", "Both stand for Christmas goodwill toward Scrooge."),),
        4.0,
    ),
    (
        1,
        ("BOB CRATCHIT", "TINY TIM"),
        "Bob Cratchit and Tiny Tim",
        "Bob Cratchit and his youngest son Tiny Tim.",
        (("Father and son", "Bob Cratchit is the father of Tiny Tim, whom he carries on his shoulder."),),
        6.0,
    ),
    (
        1,
        ("MRS. CRATCHIT", "MARTHA CRATCHIT"),
        "Mrs. Cratchit and Martha",
        "The mother and the eldest daughter of the Cratchit family.",
        (("The dinner", "Mrs. Cratchit cooks the goose and the pudding; Martha comes home for the day."),),
        3.0,
    ),
)

_BUILT: dict[str, Path] = {}


def _mentions(text: str, names: list[str]) -> bool:
    return any(re.search(rf"(?<!\w){re.escape(n)}(?!\w)", text, re.IGNORECASE) for n in names)


def _full_content(title: str, summary: str, findings: tuple[tuple[str, str], ...]) -> str:
    lines = [f"# {title}", "", summary, ""]
    lines += [f"## {s}\n\n{e}\n" for s, e in findings]
    return "\n".join(lines)


def build_carol_index(root: Path) -> Path:
    """Write the hand-made index under ``root/output`` (documents, tables, LanceDB) and return ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    settings = load_settings(root)
    output = settings.output_path
    lines = EXCERPT.read_text(encoding="utf-8").splitlines()
    documents = []
    for title, first, last in DOCUMENTS:
        text = "\n".join(lines[first - 1 : last]).strip() + "\n"
        sha = ids.content_hash(text)
        documents.append(Document(ids.document_id(sha, title), title, "carol_excerpt.txt", text, sha))
    units = chunk_documents(documents, 300, 30, get_tokenizer(settings.chunks.encoding))

    entities = []
    for title, kind, description, aliases in ENTITIES:
        names = [title.title(), *aliases]
        unit_ids = [u.id for u in units if _mentions(u.text, names)]
        entities.append(
            Entity(ids.entity_id(title), title, kind, description, list(aliases), [], unit_ids, len(unit_ids))
        )
    by_title = {e.title: e for e in entities}
    relationships = []
    for source, target, description, weight in RELATIONSHIPS:
        a, b = sorted((source, target))
        shared = [u for u in by_title[a].text_unit_ids if u in set(by_title[b].text_unit_ids)]
        relationships.append(Relationship(ids.relationship_id(a, b), a, b, description, weight, shared))
    for entity in entities:
        entity.degree = sum(entity.title in (r.source, r.target) for r in relationships)
    for rel in relationships:
        rel.combined_degree = by_title[rel.source].degree + by_title[rel.target].degree
    link_text_units(units, entities, relationships)

    communities: list[Community] = []
    reports: list[CommunityReport] = []
    for level, members, title, summary, findings, rating in COMMUNITIES:
        entity_ids = [by_title[m].id for m in members]
        community_id = ids.community_id(level, entity_ids)
        rel_ids = [r.id for r in relationships if r.source in members and r.target in members]
        unit_ids = sorted({u for m in members for u in by_title[m].text_unit_ids})
        communities.append(
            Community(community_id, level, None, [], entity_ids, rel_ids, unit_ids, len(members))
        )
        reports.append(
            CommunityReport(
                ids.report_id(community_id),
                community_id,
                level,
                title,
                summary,
                [Finding(s, e) for s, e in findings],
                rating,
                "hand-written",
                _full_content(title, summary, findings),
                method="extractive",
            )
        )
    for child in communities:
        if child.level == 1:
            parent = next(
                c for c in communities if c.level == 0 and set(child.entity_ids) <= set(c.entity_ids)
            )
            child.parent = parent.id
            parent.children.append(child.id)

    write_table(output, "documents", documents)
    write_table(output, "text_units", units)
    write_table(output, "entities", entities)
    write_table(output, "relationships", relationships)
    write_table(output, "communities", communities)
    write_table(output, "community_reports", reports)
    embedder = create_embedder(settings)
    titles = {d.id: d.title for d in documents}
    asyncio.run(embed_index(output / "lancedb", titles, {}, units, entities, reports, embedder))
    return root


def carol_index(base: Path) -> Path:
    """The hand-made index, built once per session under ``base`` (a pytest basetemp)."""
    if "root" not in _BUILT:
        _BUILT["root"] = build_carol_index(base / "carol_query_index")
    return _BUILT["root"]


def offline_settings(root: Path) -> Settings:
    """Settings of the fixture project with no LLM, whatever the environment says."""
    settings = load_settings(root)
    settings.llm.api_key = None
    settings.llm.api_base = None
    return settings


_CACHE: dict[str, object] = {}


def carol_data(base: Path) -> IndexData:
    """The fixture index loaded as :class:`IndexData` (loaded once; queries only read it)."""
    if "data" not in _CACHE:
        _CACHE["data"] = IndexData.load(offline_settings(carol_index(base)))
    data = _CACHE["data"]
    assert isinstance(data, IndexData)
    return data


def carol_embedder(base: Path) -> Embedder:
    """The real local MiniLM embedder (with the fixture project's embedding cache)."""
    if "embedder" not in _CACHE:
        _CACHE["embedder"] = create_embedder(offline_settings(carol_index(base)))
    embedder = _CACHE["embedder"]
    assert isinstance(embedder, Embedder)
    return embedder


@contextlib.asynccontextmanager
async def open_chat(settings: Settings) -> AsyncIterator[ChatModel]:
    """A chat model for ``settings`` (pointing at the test server), closed afterwards."""
    chat = create_chat(settings, UsageMeter())
    assert chat is not None
    try:
        yield chat
    finally:
        close = getattr(chat, "aclose", None)
        if close is not None:
            await close()


def unit_text(data: IndexData, unit_id: str) -> str:
    return data.text_unit_by_id[unit_id].text
