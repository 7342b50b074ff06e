"""An analyst's walkthrough of graphrag-lite on *A Christmas Carol*: index, ask each way, read the tables
with pandas, export the graph to GraphML and load it into networkx. Runs offline end to end.

    python examples/christmas_carol/walkthrough.py             # works on a copy in a fresh temp folder
    python examples/christmas_carol/walkthrough.py --root DIR  # a project of your own (indexed in place)
    python examples/christmas_carol/walkthrough.py --llm       # use the LLM settings.yaml configures

By default the LLM is switched off (the fast, spaCy-based index and extractive answers), so the run is
free and gives the output shown in walkthrough.md. Every step is a function; tests/test_walkthrough.py runs
them on a small excerpt.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd

from graphrag_lite.api.export import export_graph
from graphrag_lite.api.facade import GraphRAG  # = graphrag_lite.GraphRAG, visible to type checkers
from graphrag_lite.config import load_settings
from graphrag_lite.query.result import QueryResult
from graphrag_lite.workflows.runner import RunReport

EXAMPLE = Path(__file__).resolve().parent
TABLES = ("documents", "text_units", "entities", "relationships", "communities", "community_reports")
QUESTIONS = {
    "global": "What are the main themes of the story?",
    "local": "Who is Tiny Tim's father and what is his job?",
    "drift": "How do the spirits change Scrooge's attitude towards the Cratchit family?",
    "basic": "What did Scrooge see on the door knocker?",
}
# Overrides that switch the LLM off whatever the environment holds (GRAPHRAG_API_KEY, OPENAI_API_KEY ...).
OFFLINE = {"llm.api_key": None, "llm.api_base": None}


def copy_example(destination: Path) -> Path:
    """A fresh project at ``destination`` holding the example's settings.yaml and input/ (never its
    output), so the repository's example stays untouched."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(EXAMPLE / "settings.yaml", destination / "settings.yaml")
    shutil.copytree(EXAMPLE / "input", destination / "input", dirs_exist_ok=True)
    return destination


def open_project(root: Path, *, offline: bool = True) -> GraphRAG:
    """The project's facade; ``offline`` ignores any configured LLM."""
    return GraphRAG(root, overrides=OFFLINE if offline else None)


def build_index(rag: GraphRAG) -> RunReport:
    """Index (or resume): fast method without an LLM, standard with one. Unchanged steps are skipped."""
    return rag.index()


def ask_each_way(rag: GraphRAG, questions: dict[str, str] | None = None) -> dict[str, QueryResult]:
    """One question per search method: {method: result}."""
    return {method: rag.query(text, method=method) for method, text in (questions or QUESTIONS).items()}


def load_tables(root: Path) -> dict[str, pd.DataFrame]:
    """Every output table of the project as a DataFrame (plain pandas, no graphrag-lite needed)."""
    output = load_settings(root).output_path
    return {name: pd.read_parquet(output / f"{name}.parquet") for name in TABLES}


def top_entities(tables: dict[str, pd.DataFrame], n: int = 10) -> pd.DataFrame:
    """The most connected entities: title, type, degree (distinct neighbours), frequency (text units)."""
    entities = tables["entities"]
    top = entities.sort_values(["degree", "title"], ascending=[False, True]).head(n)
    return top[["title", "type", "degree", "frequency"]].reset_index(drop=True)


def community_sizes(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per level (0 = coarsest): how many communities and their sizes in entities."""
    return (
        tables["communities"]
        .groupby("level")
        .agg(
            communities=("size", "count"),
            smallest=("size", "min"),
            median=("size", "median"),
            largest=("size", "max"),
        )
    )


def level_reports(tables: dict[str, pd.DataFrame], level: int = 0, n: int = 5) -> pd.DataFrame:
    """The ``n`` largest communities of ``level`` with their report's title, rating and summary."""
    communities = tables["communities"][["id", "level", "size"]]
    reports = tables["community_reports"][["community_id", "title", "rating", "summary", "method"]]
    joined = communities.merge(reports, left_on="id", right_on="community_id")
    joined = joined[joined["level"] == level].sort_values(["size", "id"], ascending=[False, True])
    return (
        joined[["community_id", "size", "title", "rating", "method", "summary"]]
        .head(n)
        .reset_index(drop=True)
    )


def entities_named(tables: dict[str, pd.DataFrame], name: str) -> pd.DataFrame:
    """Entities whose title or one of whose aliases contains the word ``name`` (any case):
    "Marley" finds "Jacob Marley", "Marley's ghost", "Old Marley"."""
    word = re.compile(rf"\b{re.escape(name)}\b", re.IGNORECASE)
    entities = tables["entities"]
    named = entities.apply(
        lambda row: bool(word.search(row["title"])) or any(word.search(a) for a in row["aliases"]), axis=1
    )
    return entities[named]


def units_mentioning_both(tables: dict[str, pd.DataFrame], first: str, second: str) -> pd.DataFrame:
    """Text units holding an entity named ``first`` and one named ``second``, in reading order, with the
    document title and a snippet around the first mention of ``second``."""
    first_ids = set(entities_named(tables, first)["id"])
    second_ids = set(entities_named(tables, second)["id"])
    units = tables["text_units"]
    both = units[
        units["entity_ids"].map(
            lambda ids: bool(first_ids.intersection(ids)) and bool(second_ids.intersection(ids))
        )
    ]
    titles = dict(zip(tables["documents"]["id"], tables["documents"]["title"], strict=True))

    def snippet(text: str) -> str:
        at = max(0, text.lower().find(second.lower()) - 40)
        return " ".join(text[at : at + 90].split())

    return pd.DataFrame(
        {
            "id": both["id"],
            "document": both["document_id"].map(titles),
            "chunk_index": both["chunk_index"],
            "snippet": both["text"].map(snippet),
        }
    ).sort_values(["document", "chunk_index"], ignore_index=True)


def export_and_load_graphml(root: Path) -> tuple[Path, nx.Graph]:
    """Write output/graph.graphml (what Gephi opens) and read it back with networkx."""
    (path,) = export_graph(load_settings(root).output_path, "graphml")
    return path, nx.read_graphml(path)


# -- printing -------------------------------------------------------------------------------------------


def _heading(text: str) -> None:
    print(f"\n=== {text} ===")


def _show_result(method: str, question: str, result: QueryResult) -> None:
    _heading(f"{method} search: {question}")
    print(result.answer)
    print(
        f"[{len(result.citations)} citations to {', '.join(result.document_titles) or 'no document'}; "
        f"context: {len(result.context.text_units)} text units, {len(result.context.entities)} entities, "
        f"{len(result.context.reports)} reports; {result.llm_calls} LLM calls; {result.duration_s:.1f} s]"
    )
    if method == "drift":
        extra = result.extra
        print(
            f"[DRIFT: {extra['rounds_run']} rounds, {extra['follow_ups_answered']} follow-ups answered, "
            f"tree depth {extra['depth']}, stopped early: {extra['stopped_early']}]"
        )
        for child in extra["tree"]["children"][:5]:
            print(f"  - {child['question']} (score {child['score']})")


def run(root: Path, *, offline: bool = True) -> dict[str, Any]:
    """The whole walkthrough, printing as it goes; returns what it computed (for tests and notebooks)."""
    pd.set_option("display.width", 110)
    pd.set_option("display.max_colwidth", 60)
    found: dict[str, Any] = {}
    with open_project(root, offline=offline) as rag:
        _heading(f"Indexing {root}")
        started = time.perf_counter()
        report = build_index(rag)
        for step in report.steps:
            rows = ", ".join(f"{k} {v}" for k, v in step.rows.items())
            status = "skipped (unchanged)" if step.skipped else f"{step.duration_s:.1f} s"
            print(f"{step.name:<20} {status:<20} {rows}")
        print(f"{report.workflow} index ready in {time.perf_counter() - started:.1f} s")
        found["report"] = report
        found["results"] = ask_each_way(rag)
        for method, result in found["results"].items():
            _show_result(method, QUESTIONS[method], result)

    tables = found["tables"] = load_tables(root)
    _heading("Table sizes")
    print(", ".join(f"{name} {len(frame):,}" for name, frame in tables.items()))
    _heading("Top entities by degree")
    print(top_entities(tables).to_string())
    _heading("Community sizes per level")
    print(community_sizes(tables).to_string())
    _heading("Largest communities of level 0 and their reports")
    print(level_reports(tables).drop(columns="summary").to_string())
    _heading("Text units that mention Scrooge and Marley together")
    together = found["together"] = units_mentioning_both(tables, "Scrooge", "Marley")
    print(f"{len(together)} of {len(tables['text_units'])} text units; the first five:")
    print(together.head().to_string())

    _heading("GraphML export, loaded back with networkx")
    path, graph = export_and_load_graphml(root)
    found["graph"] = graph
    print(f"{path}: {graph.number_of_nodes():,} nodes, {graph.number_of_edges():,} edges")
    print(f"tables: {len(tables['entities']):,} entities, {len(tables['relationships']):,} relationships")
    scrooge = top_entities(tables, 1)["title"][0]
    attrs = graph.nodes[scrooge]
    print(f"{scrooge}: degree {attrs['degree']}, community at level 0 {attrs['community_level_0']}")
    neighbours = sorted(graph[scrooge].items(), key=lambda item: -item[1]["weight"])[:5]
    print("strongest ties: " + ", ".join(f"{name} ({data['weight']:g})" for name, data in neighbours))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--root", type=Path, help="project to use (default: a copy of the example in a temp dir)"
    )
    parser.add_argument("--llm", action="store_true", help="use the LLM settings.yaml configures")
    args = parser.parse_args(argv)
    if args.root is not None:
        run(args.root, offline=not args.llm)
        return 0
    with tempfile.TemporaryDirectory(prefix="carol-walkthrough-") as folder:
        run(copy_example(Path(folder) / "christmas_carol"), offline=not args.llm)
    return 0


if __name__ == "__main__":
    sys.exit(main())
