"""Token chunking: size limits, overlap, document boundaries, clean multi-byte text, deterministic ids."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest

from graphrag_lite.config.settings import Settings
from graphrag_lite.errors import ConfigError
from graphrag_lite.index.input.chunking import chunk_documents, chunk_text
from graphrag_lite.index.input.loading import load_documents
from graphrag_lite.models.tokens import Tokenizer, get_tokenizer
from graphrag_lite.store import ids
from graphrag_lite.store.records import Document, TextUnit

CAROL = Path("/work/shared/data/christmas_carol/a_christmas_carol.txt")


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return get_tokenizer("cl100k_base")


@pytest.fixture(scope="module")
def carol(tmp_path_factory: pytest.TempPathFactory) -> Document:
    root = tmp_path_factory.mktemp("carol")
    (root / "input").mkdir()
    shutil.copy(CAROL, root / "input" / CAROL.name)
    return load_documents(Settings(root=root)).documents[0]


def _doc(text: str, doc_id: str = "d-1") -> Document:
    return Document(doc_id, doc_id, f"{doc_id}.txt", text, ids.content_hash(text))


def _positions(text: str, units: list[TextUnit]) -> list[tuple[int, int]]:
    """Where each unit sits in its (non-repetitive) document, searching forward."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    for unit in units:
        start = text.find(unit.text, cursor)
        assert start >= 0, "a chunk is not a slice of its document"
        spans.append((start, start + len(unit.text)))
        cursor = start + 1
    return spans


def test_christmas_carol_1200_100(carol: Document, tokenizer: Tokenizer) -> None:
    total = tokenizer.count(carol.text)  # the book without Project Gutenberg's licence frame
    assert 41_900 < total < 42_100
    units = chunk_documents([carol], 1200, 100, tokenizer)
    # Hard cuts would give ceil((42009 - 100) / 1100) = 39; boundary back-off (<= 15%) costs one or two more.
    assert 39 <= len(units) <= 41
    assert [u.chunk_index for u in units] == list(range(len(units)))
    assert all(u.n_tokens <= 1200 for u in units)
    assert all(u.n_tokens >= 1020 for u in units[:-1])  # never backs off more than 15%
    assert carol.text_unit_ids == [u.id for u in units]
    # Most chunks end on a sentence or paragraph boundary instead of mid-sentence.
    clean_ends = sum(u.text.rstrip().endswith((".", "!", "?", "'", '"')) for u in units[:-1])
    assert clean_ends >= 0.8 * (len(units) - 1)


def test_chunks_cover_the_document_with_the_requested_overlap(carol: Document, tokenizer: Tokenizer) -> None:
    for size, overlap in ((1200, 100), (300, 30), (64, 0)):
        units = chunk_documents([carol], size, overlap, tokenizer)
        spans = _positions(carol.text, units)
        assert spans[0][0] == 0 and not carol.text[spans[-1][1] :].strip()
        for (_, prev_end), (start, _) in itertools.pairwise(spans):
            shared = carol.text[start:prev_end] if start < prev_end else ""
            if overlap:
                # At least the overlap; a few tokens more when the start moves back to a word boundary.
                assert overlap <= tokenizer.count(shared) <= overlap + 9
            else:
                assert start == prev_end  # no gap, no overlap


def test_token_counts_are_exact_and_text_round_trips(carol: Document, tokenizer: Tokenizer) -> None:
    for unit in chunk_documents([carol], 300, 30, tokenizer):
        tokens = tokenizer.encode(unit.text)
        assert len(tokens) == unit.n_tokens <= 300
        assert tokenizer.decode(tokens) == unit.text


def test_chunks_never_cross_documents(tokenizer: Tokenizer) -> None:
    first = _doc("Scrooge counted his money. " * 120, "d-a")
    second = _doc("Tiny Tim said God bless us. " * 5, "d-b")
    third = _doc("", "d-c")
    units = chunk_documents([first, second, third], 100, 10, tokenizer)
    for doc in (first, second):
        own = [u for u in units if u.document_id == doc.id]
        assert [u.id for u in own] == doc.text_unit_ids
        assert [u.chunk_index for u in own] == list(range(len(own)))
        assert all(u.text in doc.text for u in own)
    assert "Tiny Tim" not in "".join(u.text for u in units if u.document_id == "d-a")
    assert len(second.text_unit_ids) == 1 and third.text_unit_ids == []
    assert len(first.text_unit_ids) >= 7  # ~720 tokens in 100-token chunks with overlap


def test_ids_are_deterministic(tokenizer: Tokenizer) -> None:
    text = "Marley was dead: to begin with. " * 200
    runs = [chunk_documents([_doc(text)], 120, 20, tokenizer) for _ in range(2)]
    assert [u.id for u in runs[0]] == [u.id for u in runs[1]]
    first = runs[0][0]
    assert first.id == ids.text_unit_id("d-1", 0, first.text)
    assert len({u.id for u in runs[0]}) == len(runs[0])  # repeated text still gets distinct ids


def test_rechunking_replaces_text_unit_ids(tokenizer: Tokenizer) -> None:
    doc = _doc("Bob Cratchit warmed his hands at the candle. " * 50)
    chunk_documents([doc], 100, 0, tokenizer)
    units = chunk_documents([doc], 200, 0, tokenizer)
    assert doc.text_unit_ids == [u.id for u in units]


@pytest.mark.parametrize("size,overlap", [(100, 100), (100, 150)])
def test_overlap_not_smaller_than_size_is_a_config_error(
    tokenizer: Tokenizer, size: int, overlap: int
) -> None:
    with pytest.raises(ConfigError, match=r"chunks\.overlap"):
        chunk_documents([_doc("text")], size, overlap, tokenizer)


@pytest.mark.parametrize(
    "text",
    [
        "".join(f"🎉😀👨‍👩‍👧‍👦{i} " for i in range(400)),  # multi-token emoji and ZWJ sequences
        "".join(f"第{i}章。日本語のテキストです！" for i in range(400)),  # CJK, no spaces
        "".join(f"🧑‍💻{i}Ωμέγα" for i in range(400)),
    ],
)
def test_multibyte_characters_are_never_split(tokenizer: Tokenizer, text: str) -> None:
    for size, overlap in ((16, 15), (50, 10), (300, 30)):
        chunks = chunk_text(text, size, overlap, tokenizer)
        assert len(chunks) > 1
        for piece, n_tokens in chunks:
            assert "\ufffd" not in piece and piece in text
            assert n_tokens == len(tokenizer.encode(piece)) <= size
        units = chunk_documents([_doc(text)], size, overlap, tokenizer)
        spans = _positions(text, units)
        assert spans[0][0] == 0 and not text[spans[-1][1] :].strip()
        assert all(start <= prev_end for (_, prev_end), (start, _) in itertools.pairwise(spans))


def test_cjk_prefers_full_stops(tokenizer: Tokenizer) -> None:
    text = "".join(f"これは{i}番目の文です。" for i in range(300))
    ends = [piece[-1] for piece, _ in chunk_text(text, 100, 10, tokenizer)[:-1]]
    assert ends.count("。") >= 0.9 * len(ends)


def test_text_without_any_boundary_is_hard_cut(tokenizer: Tokenizer) -> None:
    chunks = chunk_text("x" * 5000, 64, 8, tokenizer)
    assert all(n <= 64 for _, n in chunks) and max(n for _, n in chunks) >= 60


def test_special_token_text_is_plain_text(tokenizer: Tokenizer) -> None:
    text = "Before <|endoftext|> after. " * 50
    chunks = chunk_text(text, 40, 5, tokenizer)
    assert "<|endoftext|>" in chunks[0][0] and all(n <= 40 for _, n in chunks)


def test_paragraph_break_beats_a_later_sentence_end(tokenizer: Tokenizer) -> None:
    paragraph = "The clock struck one. " * 40  # ~200 tokens
    text = paragraph + "\n\n" + "Scrooge awoke. " * 200
    first = chunk_text(text, 210, 0, tokenizer)[0][0]
    assert first.endswith("\n\n") or first.endswith(". \n\n")
