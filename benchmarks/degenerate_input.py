"""Degenerate input: one line of ``--mb`` megabytes of words drawn from a 23-word vocabulary, no punctuation,
indexed offline (fast method) in a child process: wall time, peak RSS (the largest step peak of the
child, and the largest sum over the child and its spaCy workers sampled every 0.5 s), each step's own peak,
entities, relationships, and the caps the NLP step reports.

    .venv/bin/python benchmarks/degenerate_input.py --mb 20
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# 23 words (22 distinct), five of them capitalised
WORDS = "the old Miser Scrooge walked through London fog and Marley counted every golden coin while young"
WORDS += " Cratchit waited in the bitter winter cold"
VOCABULARY = WORDS.split()


def write_corpus(path: Path, megabytes: float, seed: int = 7) -> int:
    rng = random.Random(seed)
    target = int(megabytes * 1_000_000)
    words: list[str] = []
    size = 0
    while size < target:
        word = rng.choice(VOCABULARY)
        words.append(word)
        size += len(word) + 1
    path.write_text(" ".join(words), encoding="utf-8")
    return size


CHILD = """
import json, sys
from graphrag_lite.api.facade import GraphRAG
from graphrag_lite.store.tables import read_table
root = sys.argv[1]
with GraphRAG(root) as rag:
    report = rag.index(method="fast")
nlp = next(s for s in report.steps if s.name == "extract_graph_nlp")
print(json.dumps({
    "entities": len(read_table(root + "/output", "entities")),
    "relationships": len(read_table(root + "/output", "relationships")),
    "caps": {"sentences": nlp.stats["sentences"],
             "capped_windows": sum(nlp.stats.get("capped_windows", {}).values())},
    "steps": {s.name: round(s.duration_s, 1) for s in report.steps},
    "peak_mb": {s.name: s.stats.get("peak_rss_mb") for s in report.steps},
}))
"""


class TreePeak(threading.Thread):
    """The largest sum of resident memory over a process and its descendants (spaCy's worker processes),
    sampled every 0.5 s from /proc (Linux)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_mb = 0.0

    @staticmethod
    def _parents() -> dict[int, list[int]]:
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                children.setdefault(parent, []).append(int(entry.name))
        return children

    @staticmethod
    def _rss_kb(pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except (OSError, ValueError):
            return 0
        return 0

    def run(self) -> None:
        while Path(f"/proc/{self.pid}").exists():
            children = self._parents()
            tree = [self.pid]
            for pid in tree:
                tree.extend(children.get(pid, []))
            self.peak_mb = max(self.peak_mb, sum(self._rss_kb(pid) for pid in tree) / 1024)
            time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=20.0)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="degenerate_"))
    (root / "input").mkdir()
    size = write_corpus(root / "input" / "one_line.txt", args.mb)
    (root / "settings.yaml").write_text("")
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    tree = TreePeak(child.pid)
    tree.start()
    stdout, stderr = child.communicate()
    done = subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"indexing failed (exit {done.returncode})")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # The largest step peak (VmHWM, reset per step) is the run's peak; the child's ru_maxrss is not usable:
    # the per-step reset clears it too.
    peak_mb = max(v for v in result["peak_mb"].values() if v is not None)
    print(
        f"| {size / 1e6:.1f} MB, one line | {wall:.0f} s | {peak_mb / 1024:.2f} GB | "
        f"{tree.peak_mb / 1024:.2f} GB | {result['entities']} | {result['relationships']} | "
        f"{json.dumps(result['caps'])} |"
    )
    print("seconds per step:", json.dumps(result["steps"]), file=sys.stderr)
    print("peak RSS per step (MB):", json.dumps(result["peak_mb"]), file=sys.stderr)


if __name__ == "__main__":
    main()
