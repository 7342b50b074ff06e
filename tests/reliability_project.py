"""A small standard-method project for the reliability tests: a Christmas Carol excerpt in three files,
300-token chunks, chat and embeddings both served by one TestLLMServer (no local model to load).

The API key is never written to settings.yaml: tests pass it through GRAPHRAG_API_KEY, as users should, so a
grep of the project folder for the key tests the engine and not the test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from support.server import LogEntry, TestLLMServer

EXCERPT = Path(__file__).parent / "data" / "carol_excerpt.txt"
CORPUS_CHARS = 12_000
PARTS = 3


def write_corpus(input_dir: Path, chars: int = CORPUS_CHARS, parts: int = PARTS) -> list[Path]:
    """The first ``chars`` characters of the excerpt, cut into ``parts`` files at paragraph breaks."""
    text = EXCERPT.read_text(encoding="utf-8")[:chars]
    input_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    start = 0
    for index in range(parts):
        end = len(text) if index == parts - 1 else text.find("\n\n", (index + 1) * len(text) // parts)
        end = len(text) if end < 0 else end
        path = input_dir / f"part{index + 1}.txt"
        path.write_text(text[start:end].strip() + "\n", encoding="utf-8")
        paths.append(path)
        start = end
    return paths


def project_settings(server: TestLLMServer, **llm: Any) -> dict[str, Any]:
    """settings.yaml content: LLM and embeddings on ``server``, small chunks, an LLM report for every
    community; ``llm`` overrides llm keys."""
    return {
        "llm": {
            "api_base": server.base_url,
            "model": "test-model",
            "request_timeout": 2.0,
            "max_retries": 2,
            "concurrency": 4,
            **llm,
        },
        "embeddings": {"provider": "openai", "model": "test-embedding", "concurrency": 2},
        "chunks": {"size": 300, "overlap": 30},
        "reports": {"min_community_size": 1},  # every community's report is an LLM request faults can hit
    }


def make_project(root: Path, server: TestLLMServer, *, corpus: bool = True, **llm: Any) -> Path:
    """A project folder at ``root`` with settings.yaml (no key in it) and, unless ``corpus=False``, input."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "settings.yaml").write_text(yaml.safe_dump(project_settings(server, **llm)), encoding="utf-8")
    if corpus:
        write_corpus(root / "input")
    return root


def read_stats(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / "output" / "stats.json").read_text(encoding="utf-8"))
    return data


def request_key(entry: LogEntry) -> str:
    """What identifies a request's content (chat messages or embedding inputs), independent of faults."""
    return json.dumps([entry.path, entry.messages, entry.inputs], sort_keys=True)


def answered(entry: LogEntry) -> bool:
    """The server sent a usable reply (no injected fault, no error)."""
    return entry.status == 200 and entry.fault is None
