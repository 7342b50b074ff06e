"""Workflow files: an ordered list of named steps, each naming the tables it reads and writes.

The settings and prompts a step depends on are declared in code, on the step function
(:func:`graphrag_lite.workflows.runner.step`), not here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from graphrag_lite.config.prompts import bundled_dir
from graphrag_lite.errors import WorkflowError

INPUT = "input"  # pseudo-table: the files of the input folder
VECTORS = "vectors"  # pseudo-table: the LanceDB vector tables


@dataclass(frozen=True)
class StepSpec:
    name: str
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorkflowSpec:
    name: str
    description: str
    steps: tuple[StepSpec, ...] = field(default_factory=tuple)
    path: Path | None = None


def _strings(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise WorkflowError(f"{where} must be a list of names.")
    return tuple(value)


def load_workflow(name_or_path: str | Path) -> WorkflowSpec:
    """Load ``standard`` / ``fast`` from the bundled workflows/, or any YAML file by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = bundled_dir("workflows") / f"{name_or_path}.yaml"
    if not path.is_file():
        raise WorkflowError(f"Workflow file {path} not found. Use --method standard or --method fast.")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise WorkflowError(f"{path}: invalid YAML ({exc}).") from exc
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        raise WorkflowError(f"{path}: expected a mapping with a 'steps' list.")
    steps = []
    for i, raw in enumerate(data["steps"]):
        if not isinstance(raw, dict) or "name" not in raw:
            raise WorkflowError(f"{path}: step {i + 1} needs a 'name'.")
        where = f"{path}: step '{raw['name']}'"
        unknown = set(raw) - {"name", "reads", "writes"}
        if unknown:
            raise WorkflowError(
                f"{where} has unknown keys {sorted(unknown)}. A step names only the tables it reads and "
                "writes; the settings and prompts it depends on are declared in code (workflows/steps.py)."
            )
        steps.append(
            StepSpec(
                name=str(raw["name"]),
                reads=_strings(raw.get("reads"), f"{where} reads"),
                writes=_strings(raw.get("writes"), f"{where} writes"),
            )
        )
    writers: dict[str, str] = {}
    for step in steps:
        for table in step.writes:
            if table in writers:
                raise WorkflowError(
                    f"{path}: table '{table}' is written by both '{writers[table]}' and "
                    f"'{step.name}'; each table must have one writer."
                )
            writers[table] = step.name
    return WorkflowSpec(
        name=str(data.get("name", path.stem)),
        description=str(data.get("description", "")),
        steps=tuple(steps),
        path=path,
    )
