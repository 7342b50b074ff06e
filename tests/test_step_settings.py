"""Step keys follow the settings each step reads: change a setting and exactly the steps that read it re-run.

Three checks. (1) The settings that used to be missing from the YAML lists (``llm.temperature``,
``llm.json_mode``, ``chunks.encoding``, ...) re-key exactly the steps that use them. (2) Every leaf of
:class:`Settings` re-keys exactly the steps whose declaration covers it, or no step when it cannot change a
result (``INERT``), so a new setting must be classified. (3) Both pipelines run under a settings object that
records what each step reads, and every read is declared: the declarations are complete.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import pytest
from conftest import llm_settings
from pydantic import BaseModel, SecretStr
from support import TestLLMServer

from graphrag_lite.config import prompts as prompt_files
from graphrag_lite.config.settings import Settings
from graphrag_lite.errors import WorkflowError
from graphrag_lite.models.base import UsageMeter
from graphrag_lite.models.factory import create_chat, create_embedder
from graphrag_lite.workflows.runner import Step, StepContext, WorkflowRunner, setting_value
from graphrag_lite.workflows.spec import load_workflow
from graphrag_lite.workflows.steps import STEPS

WORKFLOWS = ("fast", "standard")
EXCERPT = Path(__file__).parent / "data" / "carol_excerpt.txt"
LLM_STEPS = {"extract_graph", "summarize_descriptions", "community_reports"}

# Settings no step result depends on: where files live, how fast and how often servers are called, which
# server answers (the model name is declared), and query-time settings.
INERT = {
    "root",
    "output_dir",
    "output_path",
    "input_path",
    "cache_path",
    "cache.enabled",
    "cache.dir",
    "llm.api_key",
    "llm.api_base",
    "llm.api_version",
    "llm.concurrency",
    "llm.max_retries",
    "llm.request_timeout",
    "llm.max_connection_failures",
    "llm.requests_per_minute",
    "llm.tokens_per_minute",
    "llm.price.input_per_1m",  # price and caps change what a run may spend, never what it writes
    "llm.price.output_per_1m",
    "llm.price.cached_input_per_1m",
    "llm.max_cost",
    "llm.max_prompt_tokens",
    "embeddings.api_key",
    "embeddings.api_base",
    "embeddings.batch_size",
    "embeddings.concurrency",
    "embeddings.runtime",  # fp32 MiniLM gives the same vectors on ONNX Runtime and torch
    "embeddings.precision",  # bf16 products: the same vectors to cosine 0.9999, and the cache keys by model
    "nlp.batch_size",
    "nlp.n_process",
    "executor.kind",  # where items run: the same results locally and on Ray
    "storage.base_dir",  # where the finished index is published: the same tables either way
    "storage.keep_versions",
    "executor.ray_address",
    "executor.batch_size",
    "executor.max_in_flight",
}


def _base() -> Settings:
    """Default settings with an LLM configured (so ``method: auto`` resolves to standard)."""
    return Settings.model_validate({"root": "/nonexistent", "llm": {"api_base": "http://llm/v1"}})


def _keys(settings: Settings, workflow: str) -> dict[str, str]:
    spec = load_workflow(workflow)
    runner = WorkflowRunner(
        settings, spec, STEPS, chat=None, meter=UsageMeter(), embedder_factory=_no_embedder
    )
    return {step.name: runner.config_key(step) for step in spec.steps}


def _no_embedder() -> Any:
    raise AssertionError("not used")


def _rerun(before: Settings, after: Settings, workflow: str) -> set[str]:
    old, new = _keys(before, workflow), _keys(after, workflow)
    return {name for name in old if old[name] != new[name]}


def _field(dotted: str) -> list[str]:
    return ["global_" if part == "global" else part for part in dotted.split(".")]


def _with(settings: BaseModel, path: list[str], value: Any) -> Any:
    """A copy of ``settings`` with the field at ``path`` set to ``value`` (no validation, so any value)."""
    head, *rest = path
    inner = value if not rest else _with(getattr(settings, head), rest, value)
    return settings.model_copy(update={head: inner})


def _changed(settings: Settings, dotted: str, value: Any) -> Settings:
    changed: Settings = _with(settings, _field(dotted), value)
    return changed


def _leaves(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for name, info in model.model_fields.items():
        annotation = info.annotation
        dotted = prefix + (info.alias or name)
        if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
            yield from _leaves(annotation, dotted + ".")
        else:
            yield dotted, annotation


def _others(value: Any, annotation: Any) -> list[Any]:
    """Different values of the same type: every other choice of a Literal, else one."""
    if get_origin(annotation) is Literal:
        return [a for a in get_args(annotation) if a != value]
    if value is None:
        kind = next(a for a in get_args(annotation) if a is not type(None))
        return [{str: "x", int: 7, float: 1.5, Path: Path("x"), SecretStr: SecretStr("k")}[kind]]
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int | float):
        return [value + 1]
    if isinstance(value, Path):
        return [value / "x"]
    if isinstance(value, list):
        return [[*value, value[0]]]
    assert isinstance(value, str), (value, annotation)
    return [value + "-x"]


def _covers(declared: Step, dotted: str, before: Settings, after: Settings) -> bool:
    """Whether a declaration covers a changed field: by name or section, or through a declared property."""
    for name in declared.settings:
        if dotted == name or dotted.startswith(name + "."):
            return True
        if setting_value(before, name) != setting_value(after, name):
            return True
    return False


# -- (1) the settings the YAML lists missed ---------------------------------------------------------------

BUG_CASES = [
    # setting, new value, {workflow: steps expected to re-run}
    ("llm.temperature", 0.7, {"standard": LLM_STEPS, "fast": {"community_reports"}}),
    ("llm.max_tokens", 500, {"standard": LLM_STEPS, "fast": {"community_reports"}}),
    ("llm.model", "other-model", {"standard": LLM_STEPS, "fast": {"community_reports"}}),
    ("llm.json_mode", False, {"standard": {"community_reports"}, "fast": {"community_reports"}}),
    (
        "chunks.encoding",
        "o200k_base",
        {
            "standard": {"load_documents", "summarize_descriptions", "community_reports"},
            "fast": {"load_documents", "community_reports"},
        },
    ),
    ("reports.source_text_until", 10, {"standard": {"community_reports"}, "fast": {"community_reports"}}),
    ("extraction.entity_types", ["person"], {"standard": {"extract_graph"}, "fast": set()}),
    ("nlp.edge_weighting", "count", {"standard": set(), "fast": {"extract_graph_nlp"}}),
    ("communities.seed", 1, {"standard": {"create_communities"}, "fast": {"create_communities"}}),
    ("embeddings.model", "other", {"standard": {"embed"}, "fast": {"embed"}}),
    ("llm.request_timeout", 5.0, {"standard": set(), "fast": set()}),
    ("query.local.top_k_entities", 3, {"standard": set(), "fast": set()}),
]


@pytest.mark.parametrize(("dotted", "value", "expected"), BUG_CASES, ids=[c[0] for c in BUG_CASES])
def test_changing_a_setting_reruns_exactly_the_steps_that_read_it(
    dotted: str, value: Any, expected: dict[str, set[str]]
) -> None:
    base = _base()
    for workflow in WORKFLOWS:
        assert _rerun(base, _changed(base, dotted, value), workflow) == expected[workflow], workflow


def test_configuring_an_llm_reruns_the_steps_that_choose_by_it() -> None:
    offline = Settings.model_validate({"root": "/nonexistent"})
    online = _changed(offline, "llm.api_base", "http://llm/v1")
    # auto -> standard changes the chunk size used, and summaries and reports switch to the LLM
    assert _rerun(offline, online, "fast") == {"load_documents", "community_reports"}
    assert _rerun(offline, online, "standard") == {
        "load_documents",
        "summarize_descriptions",
        "community_reports",
    }


def test_same_settings_give_the_same_keys() -> None:
    for workflow in WORKFLOWS:
        assert _keys(_base(), workflow) == _keys(_base(), workflow)


# -- (2) every setting is declared by the steps it changes, or inert ----------------------------------------


@pytest.mark.parametrize(
    ("dotted", "annotation"), list(_leaves(Settings)), ids=[d for d, _ in _leaves(Settings)]
)
def test_every_setting_rekeys_exactly_the_steps_declaring_it(dotted: str, annotation: Any) -> None:
    base = _base()
    covered_somewhere = False
    for value in _others(setting_value(base, dotted), annotation):
        after = _changed(base, dotted, value)
        for workflow in WORKFLOWS:
            spec = load_workflow(workflow)
            expected = {s.name for s in spec.steps if _covers(STEPS[s.name], dotted, base, after)}
            covered_somewhere |= bool(expected)
            assert _rerun(base, after, workflow) == expected, (workflow, value)
    if dotted.startswith("query."):
        assert not covered_somewhere
    else:
        assert covered_somewhere != (dotted in INERT), f"{dotted}: declare it on a step or list it in INERT"


def test_workflow_files_carry_no_settings(tmp_path: Path) -> None:
    path = tmp_path / "old.yaml"
    path.write_text("name: old\nsteps:\n  - name: embed\n    settings: [embeddings.model]\n")
    with pytest.raises(WorkflowError, match="declared in code"):
        load_workflow(path)


# -- (3) what each step reads is declared -------------------------------------------------------------------


class _Reads:
    def __init__(self) -> None:
        self.step: str | None = None
        self.settings: dict[str, set[str]] = defaultdict(set)
        self.prompts: dict[str, set[str]] = defaultdict(set)


class _Watched:
    """Stands in for Settings (or one of its sections) and records the fields and properties read while a
    step runs; sections come back watched too."""

    def __init__(self, target: BaseModel, prefix: str, reads: _Reads) -> None:
        self.__dict__.update(_target=target, _prefix=prefix, _reads=reads)

    def __getattr__(self, name: str) -> Any:
        target, reads = self.__dict__["_target"], self.__dict__["_reads"]
        value = getattr(target, name)
        dotted = self.__dict__["_prefix"] + ("global" if name == "global_" else name)
        if isinstance(value, BaseModel):
            return _Watched(value, dotted + ".", reads)
        is_property = isinstance(inspect.getattr_static(type(target), name, None), property)
        if reads.step is not None and (name in type(target).model_fields or is_property):
            reads.settings[reads.step].add(dotted)
        return value


def _watch_steps(reads: _Reads) -> dict[str, Step]:
    def watched(name: str, declared: Step) -> Step:
        async def run(ctx: StepContext) -> dict[str, Any]:
            reads.step = name
            try:
                return await declared.run(ctx)
            finally:
                reads.step = None

        return Step(run, declared.settings, declared.prompts)

    return {name: watched(name, declared) for name, declared in STEPS.items()}


async def _run_watched(settings: Settings, workflow: str, monkeypatch: pytest.MonkeyPatch) -> _Reads:
    reads = _Reads()
    real_prompt_path = prompt_files.prompt_path

    def prompt_path(name: str, project_root: Path | None = None) -> Path:
        if reads.step is not None:
            reads.prompts[reads.step].add(name)
        return real_prompt_path(name, project_root)

    monkeypatch.setattr(prompt_files, "prompt_path", prompt_path)
    watched: Any = _Watched(settings, "", reads)
    meter = UsageMeter()
    chat = create_chat(watched, meter)
    runner = WorkflowRunner(
        watched,
        load_workflow(workflow),
        _watch_steps(reads),
        chat=chat,
        meter=meter,
        embedder_factory=lambda: create_embedder(watched, meter),
    )
    report = await runner.run()
    assert [s.name for s in report.steps if not s.skipped] == [s.name for s in load_workflow(workflow).steps]
    return reads


def _assert_declared(reads: _Reads) -> None:
    for name, read in reads.settings.items():
        declared = STEPS[name]
        undeclared = {
            dotted
            for dotted in read
            if dotted not in INERT
            and not any(dotted == d or dotted.startswith(d + ".") for d in declared.settings)
        }
        assert not undeclared, f"step {name} reads {sorted(undeclared)} but does not declare them"
        assert reads.prompts[name] <= set(declared.prompts), name


def _project(root: Path, chars: int) -> None:
    (root / "input").mkdir(parents=True)
    (root / "input" / "carol.txt").write_text(EXCERPT.read_text(encoding="utf-8")[:chars], encoding="utf-8")


async def test_fast_pipeline_reads_only_declared_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(tmp_path, 6000)
    settings = Settings.model_validate({"root": tmp_path, "method": "fast"})
    reads = await _run_watched(settings, "fast", monkeypatch)
    assert {"chunks.fast_size", "chunks.encoding", "input.file_types"} <= reads.settings["load_documents"]
    assert "communities.seed" in reads.settings["create_communities"]
    _assert_declared(reads)


async def test_standard_pipeline_reads_only_declared_settings(
    llm_server: TestLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(tmp_path, 6000)
    settings = llm_settings(llm_server, tmp_path)
    settings.method = "standard"
    settings.embeddings.provider = "openai"
    settings.embeddings.model = "test-embedding"
    reads = await _run_watched(settings, "standard", monkeypatch)
    for name in LLM_STEPS:
        assert {"llm.temperature", "llm.max_tokens"} <= reads.settings[name], name
    assert "llm.json_mode" in reads.settings["community_reports"]
    assert "chunks.encoding" in reads.settings["summarize_descriptions"]
    assert reads.prompts["extract_graph"] == {
        "extract_graph",
        "extract_graph_continue",
        "extract_graph_missed",
    }
    _assert_declared(reads)
