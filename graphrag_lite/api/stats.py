"""What an index holds and cost, as one JSON-ready summary: ``graphrag-lite stats`` prints it and the
server's ``GET /stats`` returns it."""

from __future__ import annotations

from typing import Any

from graphrag_lite.config.settings import Settings
from graphrag_lite.store.layout import TABLE_NAMES
from graphrag_lite.store.reader import IndexReader


def index_summary(settings: Settings) -> dict[str, Any]:
    """Row counts, community sizes per level, the top entities, LLM cost, the last update, failed items and
    skipped input files. Raises IndexNotFoundError (with what to run) when there is no index."""
    reader = IndexReader(settings.index_location, settings.root)
    reader.require(("entities",))
    summary: dict[str, Any] = {"tables": {n: len(reader.frame(n)) for n in TABLE_NAMES if reader.has(n)}}
    entities = reader.frame("entities")
    top = entities.sort_values(["degree", "title"], ascending=[False, True]).head(10)
    summary["top_entities"] = [
        {"title": str(title), "type": str(kind), "degree": int(degree)}
        for title, kind, degree in zip(top["title"], top["type"], top["degree"], strict=True)
    ]
    if reader.has("communities"):
        communities = reader.frame("communities")
        levels: dict[str, Any] = {}
        for level, group in communities.groupby("level"):
            sizes = group["size"]
            levels[str(level)] = {
                "communities": len(group),
                "min": int(sizes.min()),
                "median": float(sizes.median()),
                "max": int(sizes.max()),
            }
        summary["community_levels"] = levels
    stats = reader.stats()
    summary["cost"] = stats.get("totals", {})
    summary["workflow"] = stats.get("workflow")
    if "last_update" in stats:
        summary["last_update"] = stats["last_update"]
    steps = stats.get("steps", {})
    summary["failures"] = {name: step["failures"] for name, step in steps.items() if step.get("failures")}
    summary["skipped_files"] = steps.get("load_documents", {}).get("stats", {}).get("skipped_files", [])
    return summary
