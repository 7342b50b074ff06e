"""``make demo``: index an example project offline and answer a global, a local and a DRIFT question."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from graphrag_lite.errors import GraphRAGError

QUESTIONS = {
    "global": "What are the main themes of the story?",
    "local": "Who is Tiny Tim's father and what is his job?",
    "drift": "How do the spirits change Scrooge's attitude towards the Cratchit family?",
}


def main(example: str) -> int:
    from graphrag_lite.api.facade import GraphRAG
    from graphrag_lite.cli.render import print_index_summary, print_result, print_stats

    console = Console(highlight=False)
    root = Path(example)
    try:
        with GraphRAG(root) as rag:
            started = time.perf_counter()
            report = rag.index(show_progress=True)
            print_index_summary(report)
            print_stats(root)
            console.print(f"Indexed in {time.perf_counter() - started:.1f} s")
            for method, question in QUESTIONS.items():
                console.print(Rule(f"{method} search: {question}"))
                try:
                    result = rag.query(question, method=method)
                except GraphRAGError as exc:
                    console.print(f"[yellow]{method} search unavailable: {exc}[/]")
                    continue
                print_result(result, show_tree=method == "drift")
    except GraphRAGError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "examples/christmas_carol"))
