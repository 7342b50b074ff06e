"""The workflow runner: ordered steps, skip when nothing changed, re-run what changed, retry failures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from graphrag_lite.config import load_settings
from graphrag_lite.errors import WorkflowError
from graphrag_lite.models.base import UsageMeter
from graphrag_lite.store.atomic import read_json
from graphrag_lite.store.records import Document, TextUnit
from graphrag_lite.workflows.runner import Step, StepContext, WorkflowRunner
from graphrag_lite.workflows.spec import StepSpec, WorkflowSpec, load_workflow


def _embedder() -> Any:
    raise AssertionError("not used")


def _make(tmp_path: Path, calls: list[str], fail_once: set[str]) -> tuple[WorkflowRunner, WorkflowSpec]:
    (tmp_path / "input").mkdir(exist_ok=True)

    async def first(ctx: StepContext) -> dict[str, list[Any]]:
        calls.append("first")
        text = "".join(p.read_text() for p in sorted(ctx.settings.input_path.glob("*.txt")))
        doc = Document(id="d1", title="t", source="a.txt", text=text, content_hash="h")
        return {"documents": [doc]}

    async def second(ctx: StepContext) -> dict[str, list[Any]]:
        calls.append("second")
        docs = ctx.read("documents")
        if "second" in fail_once:
            fail_once.discard("second")
            ctx.fail("t1", "simulated failure")
        units = [TextUnit(id="t1", document_id=docs[0].id, chunk_index=0, text=docs[0].text, n_tokens=1)]
        return {"work/text_units": units}

    spec = WorkflowSpec(
        "test",
        "",
        (
            StepSpec("first", reads=("input",), writes=("documents",)),
            StepSpec("second", reads=("documents",), writes=("work/text_units",)),
        ),
    )
    settings = load_settings(tmp_path)
    runner = WorkflowRunner(
        settings,
        spec,
        {"first": Step(first, settings=("input",)), "second": Step(second, settings=("chunks.size",))},
        chat=None,
        meter=UsageMeter(),
        embedder_factory=_embedder,
    )
    return runner, spec


async def test_skip_rerun_and_failure_retry(tmp_path: Path) -> None:
    calls: list[str] = []
    (tmp_path / "input").mkdir()
    (tmp_path / "input" / "a.txt").write_text("hello")
    runner, _ = _make(tmp_path, calls, fail_once={"second"})
    report = await runner.run()
    assert calls == ["first", "second"]
    assert report.steps[1].failures == [{"item": "t1", "reason": "simulated failure"}]
    stats = read_json(tmp_path / "output" / "stats.json", {})
    assert stats["steps"]["first"]["rows"] == {"documents": 1}
    assert "llm_calls" in stats["steps"]["first"] and "prompt_tokens" in stats["steps"]["second"]
    assert (tmp_path / "output" / "work" / "text_units.parquet").is_file()

    # nothing changed, but "second" recorded a failure: only it runs again
    calls.clear()
    runner, _ = _make(tmp_path, calls, fail_once=set())
    await runner.run()
    assert calls == ["second"]

    # nothing changed and nothing failed: everything is skipped
    calls.clear()
    runner, _ = _make(tmp_path, calls, fail_once=set())
    report = await runner.run()
    assert calls == [] and all(step.skipped for step in report.steps)

    # an input edit re-runs the first step, and the second because its input table changed
    (tmp_path / "input" / "a.txt").write_text("hello again")
    runner, _ = _make(tmp_path, calls, fail_once=set())
    await runner.run()
    assert calls == ["first", "second"]


async def test_same_output_does_not_rerun_downstream(tmp_path: Path) -> None:
    calls: list[str] = []
    (tmp_path / "input").mkdir()
    (tmp_path / "input" / "a.txt").write_text("hello")
    runner, _ = _make(tmp_path, calls, fail_once=set())
    await runner.run()
    calls.clear()
    # a new unrelated file changes the input hash; "first" re-runs but writes the same table ...
    (tmp_path / "input" / "b.md").write_text("ignored by the fake step")
    runner, _ = _make(tmp_path, calls, fail_once=set())
    await runner.run()
    assert calls == ["first"]  # ... so "second" is skipped


def test_bundled_workflows_load_and_have_single_writers() -> None:
    for name in ("standard", "fast"):
        spec = load_workflow(name)
        assert spec.steps[0].name == "load_documents"
        assert spec.steps[-1].name == "embed"


def test_workflow_with_two_writers_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nsteps:\n  - name: a\n    writes: [x]\n  - name: b\n    writes: [x]\n")
    with pytest.raises(WorkflowError, match="each table must have one writer"):
        load_workflow(path)


def test_unknown_step_is_rejected(tmp_path: Path) -> None:
    spec = WorkflowSpec("w", "", (StepSpec("nope"),))
    with pytest.raises(WorkflowError, match="unknown steps: nope"):
        WorkflowRunner(
            load_settings(tmp_path), spec, {}, chat=None, meter=UsageMeter(), embedder_factory=_embedder
        )


def test_line_progress_prints_steps_and_tenths_for_logs() -> None:
    import io

    from graphrag_lite.workflows.progress import LineProgress

    stream = io.StringIO()
    progress = LineProgress(stream)
    progress.step_started("extract_graph", 2, 6)
    report = progress.callback("extract_graph")
    for done in range(1, 101):
        report(done, 100)
    progress.step_finished("extract_graph", "work/entities 10")
    lines = stream.getvalue().splitlines()
    assert lines[0] == "step 2/6: extract_graph"
    assert len([line for line in lines if "extract_graph: " in line and "/100" in line]) == 11  # 0 %..100 %
    assert lines[-1].startswith("  extract_graph: work/entities 10 (")
