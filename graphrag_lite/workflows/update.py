"""Incremental update: re-run the index's own workflow on the changed input and say what changed.

Nothing here re-implements a step. Reuse happens inside the steps, through each step's item memo
(:mod:`graphrag_lite.store.memo`): text units whose text was extracted before, descriptions summarised
before and reports whose prompt was answered before cost no model call; merging, pruning and clustering run
over the whole updated graph, so documents, text units, entities and relationships come out as a fresh index
of the final documents would. An update differs from ``index`` in two ways: it keeps community ids stable
(new communities take the id of the old community they overlap most) and it writes this change summary,
including the LLM requests a full re-index would have made (what the update spent plus what the reused
items cost when they were made).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from graphrag_lite.config.settings import Settings
from graphrag_lite.errors import IndexNotFoundError
from graphrag_lite.store.atomic import atomic_write_json, read_json
from graphrag_lite.store.layout import STATS_FILE
from graphrag_lite.store.reader import IndexReader
from graphrag_lite.workflows.runner import RunReport, WorkflowRunner

_TRACKED = ("documents", "text_units", "entities", "relationships", "communities", "community_reports")


@dataclass
class UpdateReport:
    """What an update changed, and what it cost compared with a full re-index."""

    run: RunReport
    documents: dict[str, list[str]]  # added / changed / deleted, by source path
    tables: dict[str, dict[str, int]]  # per table: added / removed / changed / unchanged rows
    reuse: dict[str, dict[str, int]]  # per step: items reused from the memo / computed
    vectors: dict[str, dict[str, int]]  # per vector table: rows / embedded / deleted
    llm_calls: int = 0  # requests that reached the server
    llm_requests: int = 0  # requests made, LLM cache hits included
    full_index_llm_requests: int = 0  # estimate: llm_requests + what the reused items cost when made
    community_ids: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Everything but the run report: what stats.json keeps under ``last_update``."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "run"}


def indexed_workflow(settings: Settings) -> str:
    """The workflow the existing index was built with; an update must use the same one."""
    reader = IndexReader(settings.output_path, settings.root)
    state = reader.stats()
    if not reader.has("documents") or not state.get("workflow"):
        raise IndexNotFoundError(
            f"No index to update in {settings.output_path}. Build it first: `graphrag-lite index --root "
            f"{settings.root}`."
        )
    return str(state["workflow"])


def _snapshot(settings: Settings) -> dict[str, dict[str, Any]]:
    """Per table: id -> the record, for the tables the previous run wrote."""
    out: dict[str, dict[str, Any]] = {}
    for name in _TRACKED:
        records = IndexReader(settings.output_path).records_if_exists(name)
        out[name] = {record.id: record for record in records}
    return out


def table_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    common = before.keys() & after.keys()
    changed = sum(1 for key in common if before[key] != after[key])
    return {
        "added": len(after.keys() - before.keys()),
        "removed": len(before.keys() - after.keys()),
        "changed": changed,
        "unchanged": len(common) - changed,
    }


def document_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[str]]:
    old = {d.source: d.content_hash for d in before.values()}
    new = {d.source: d.content_hash for d in after.values()}
    return {
        "added": sorted(new.keys() - old.keys()),
        "changed": sorted(s for s in new.keys() & old.keys() if new[s] != old[s]),
        "deleted": sorted(old.keys() - new.keys()),
    }


async def update_index(settings: Settings, runner: WorkflowRunner) -> UpdateReport:
    """Run ``runner`` (built for the indexed workflow) in update mode and record the change summary."""
    before = _snapshot(settings)
    run = await runner.run(mode="update")
    after = _snapshot(settings)
    reuse: dict[str, dict[str, int]] = {}
    vectors: dict[str, dict[str, int]] = {}
    community_ids: dict[str, int] = {}
    usage = run.usage()
    spent, saved = usage["llm_calls"] + usage["cache_hits"], 0
    for step in (s for s in run.steps if not s.skipped):
        memo = step.stats.get("memo")
        if memo:
            reuse[step.name] = {"reused": memo["reused"], "computed": memo["computed"]}
            saved += memo["llm_calls_saved"]
        vectors.update(step.stats.get("vectors", {}))
        community_ids.update(step.stats.get("community_ids", {}))
    report = UpdateReport(
        run=run,
        documents=document_changes(before["documents"], after["documents"]),
        tables={name: table_changes(before[name], after[name]) for name in _TRACKED},
        reuse=reuse,
        vectors=vectors,
        llm_calls=usage["llm_calls"],
        llm_requests=spent,
        full_index_llm_requests=spent + saved,
        community_ids=community_ids,
    )
    stats_path = settings.output_path / STATS_FILE
    state = read_json(stats_path, {})
    state["last_update"] = report.as_dict()
    atomic_write_json(stats_path, state)
    return report
