"""What an incremental update costs against a full re-index, on the whole Christmas Carol.

The book is cut into its five staves (five documents). After a first index, one stave gets a new closing
paragraph, one is deleted and a short new document is added; then ``update`` runs, and a fresh index of the
final documents (own cache) runs for comparison. The standard method talks to the scripted
``TestLLMServer`` (so calls are counted from its log); the fast method needs no server.

    .venv/bin/python benchmarks/update_cost.py --method standard
    .venv/bin/python benchmarks/update_cost.py --method fast
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

# the test server lives in tests/support
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.projects import write_project
from support.server import TestLLMServer

from graphrag_lite.api.facade import GraphRAG
from graphrag_lite.store.integrity import dangling_references
from graphrag_lite.store.tables import read_table

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "christmas_carol"
CAROL = EXAMPLE / "input" / "a_christmas_carol.txt"
EDIT = "\n\nFred, the nephew of Scrooge, invited his uncle to Christmas dinner again, and Topper played.\n"
NEW = (
    "Mr. Fezziwig kept a warehouse in London, where young Ebenezer Scrooge and Dick Wilkins were "
    "apprentices.\n"
    "Every Christmas Eve Mr. Fezziwig and Mrs. Fezziwig gave a ball for their apprentices and neighbours.\n"
)


def staves() -> dict[str, str]:
    text = CAROL.read_text(encoding="utf-8")
    parts = re.split(r"\n(?=STAVE [A-Z]+\s*\n)", text)
    body = [p for p in parts if p.startswith("STAVE")]
    body[-1] = body[-1].split("*** END OF")[0]
    return {f"stave_{i + 1}.txt": p for i, p in enumerate(body)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--method", choices=("standard", "fast"), default="standard")
    args = parser.parse_args()
    first = staves()
    final = dict(first)
    final["stave_2.txt"] += EDIT
    del final["stave_4.txt"]
    final["fezziwig.txt"] = NEW
    server = TestLLMServer().start() if args.method == "standard" else None
    settings = f"llm:\n  api_base: {server.base_url}\n  model: test-model\n" if server else ""
    os.environ.setdefault("GRAPHRAG_API_KEY", "sk-benchmark")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root, fresh = Path(tmp) / "updated", Path(tmp) / "fresh"

        def phase(name: str, project: Path, documents: dict[str, str], update: bool = False) -> None:
            write_project(project, documents, settings)
            before = len(server.log) if server else 0
            started = time.perf_counter()
            with GraphRAG(project) as rag:
                rag.update() if update else rag.index(method=args.method)
            seconds = time.perf_counter() - started
            calls = (len(server.log) - before) if server else 0
            reports = len(read_table(project / "output", "community_reports"))
            rows.append((name, seconds, calls, reports))

        phase("first index (5 staves)", root, first)
        phase("update (+1 doc, 1 edited, 1 deleted)", root, final, update=True)
        phase("fresh index of the final documents", fresh, final)
        problems = dangling_references(root / "output")
    if server:
        server.stop()
    print(f"method: {args.method}; dangling references after update: {len(problems)}")
    print("| run | wall s | LLM calls | reports |")
    print("|---|---|---|---|")
    for name, seconds, calls, reports in rows:
        print(f"| {name} | {seconds:.1f} | {calls} | {reports} |")


if __name__ == "__main__":
    main()
