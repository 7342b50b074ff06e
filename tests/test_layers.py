"""Layers import downward only: config → store → models → index → workflows → query → api/cli/server."""

from __future__ import annotations

import ast
from pathlib import Path

import graphrag_lite

ORDER = ["config", "store", "models", "index", "workflows", "query", "api", "cli", "server"]
RANK = {name: min(i, ORDER.index("api")) for i, name in enumerate(ORDER)}  # api, cli and server: one layer


def _imports(path: Path) -> list[tuple[str, int]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, node.lineno))
        elif isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
    return found


def test_no_module_imports_a_higher_layer() -> None:
    package = Path(graphrag_lite.__file__).parent
    upward = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package).parts
        if len(parts) < 2 or parts[0] not in RANK:
            continue
        for module, line in _imports(path):
            target = module.split(".")
            inside = target[0] == "graphrag_lite" and len(target) > 1 and target[1] in RANK
            if inside and RANK[target[1]] > RANK[parts[0]]:
                upward.append(f"{'/'.join(parts)}:{line} imports {module}")
    assert upward == []


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text("from graphrag_lite.query.engine import run_query\nimport graphrag_lite.api.facade\n")
    modules = [m for m, _ in _imports(sample)]
    assert modules == ["graphrag_lite.query.engine", "graphrag_lite.api.facade"]
    assert RANK["query"] > RANK["index"] and RANK["cli"] == RANK["api"]
