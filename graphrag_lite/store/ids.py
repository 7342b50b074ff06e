"""Deterministic ids: the same input and settings give the same ids on every run."""

from __future__ import annotations

import hashlib


def stable_hash(*parts: str, length: int = 16) -> str:
    """Hex digest of the parts (joined with a separator that cannot appear in ordinary text)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:length]


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def document_id(content_sha: str, key: str = "") -> str:
    return "d-" + stable_hash(content_sha, key, length=12)


def text_unit_id(document_id: str, chunk_index: int, text: str) -> str:
    return "t-" + stable_hash(document_id, str(chunk_index), text, length=12)


def normalize_title(title: str) -> str:
    """The key entities merge on: upper-cased, inner whitespace collapsed."""
    return " ".join(title.split()).upper()


def entity_id(title: str) -> str:
    return "e-" + stable_hash(normalize_title(title), length=12)


def relationship_id(source: str, target: str) -> str:
    a, b = sorted((normalize_title(source), normalize_title(target)))
    return "r-" + stable_hash(a, b, length=12)


def community_id(level: int, entity_ids: list[str]) -> str:
    return f"c{level}-" + stable_hash(*sorted(entity_ids), length=8)


def report_id(community_id: str) -> str:
    return "cr-" + community_id
