"""What an index will cost before it runs: LLM calls, prompt and completion tokens per step, and money.

The input is read and chunked exactly as ``load_documents`` does; nothing calls the LLM. What the chunks
decide is counted exactly (the first extraction call of every unit: its prompt's real token count; a
contextual-prefix call per unit with its document window). What depends on the model's replies is
forecast from ratios per text unit and per text-unit token:

- ``DEFAULT_RATIOS``: measured on the whole Christmas Carol, standard index with default settings,
  against the scripted test LLM server (``benchmarks/index_cost.py``, BENCHMARKS.md "Indexing cost").
- refined from this project's ``stats.json``: a step of an earlier run that made all its requests (no
  cache hits, no reused items) gives this corpus's and this model's ratios instead.

Money needs ``llm.price`` (no built-in price list to go stale); without it the estimate shows tokens.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from graphrag_lite.config.prompts import fill, load_prompt
from graphrag_lite.config.settings import GleaningScope, PriceSettings, Settings
from graphrag_lite.models.tokens import Tokenizer, get_tokenizer
from graphrag_lite.store.records import Document, TextUnit


@dataclass(frozen=True)
class Ratios:
    """How a step's requests scale: per text unit (calls, fixed prompt) and per text-unit token."""

    calls_per_unit: float
    prompt_per_unit: float  # prompt tokens per text unit beyond what is counted exactly
    prompt_per_unit_token: float
    completion_per_unit_token: float


# Whole Christmas Carol (39 units of 1,200 tokens, 45,826 unit tokens), standard index with default settings
# against the test server (benchmarks/index_cost.py). extract_graph: beyond the counted first pass, the
# gleaning rounds (38 of 39 units had a name the first pass missed; they send those sentences); summaries
# and LLM reports depend only on the graph the replies describe.
DEFAULT_RATIOS: dict[str, Ratios] = {
    "extract_graph": Ratios(0.974, 0.0, 0.460, 0.382),
    "summarize_descriptions": Ratios(1.564, 397.1, 0.0, 0.164),
    "community_reports": Ratios(0.436, 982.7, 0.0, 0.353),
}
# extract_graph with ``extraction.gleaning_scope: unit``: one round per unit, resending the whole unit.
WHOLE_UNIT_GLEANING = Ratios(1.0, 0.0, 1.197, 0.447)
CONTEXT_REPLY_TOKENS = 90  # a context sentence of at most 70 words (index/input/context.py)
BASIS_DEFAULT = "default ratios (Christmas Carol, test server)"
BASIS_MEASURED = "this project's last run"


@dataclass
class StepEstimate:
    step: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    basis: str  # what the forecast part rests on ("counted" when nothing is forecast)


@dataclass
class CostEstimate:
    """The forecast for one index run; ``cost`` is None without ``llm.price``."""

    method: str
    model: str
    documents: int
    text_units: int
    unit_tokens: int
    steps: list[StepEstimate] = field(default_factory=list)
    price: PriceSettings | None = None

    @property
    def calls(self) -> int:
        return sum(s.calls for s in self.steps)

    @property
    def prompt_tokens(self) -> int:
        return sum(s.prompt_tokens for s in self.steps)

    @property
    def completion_tokens(self) -> int:
        return sum(s.completion_tokens for s in self.steps)

    def step_cost(self, step: StepEstimate) -> float | None:
        return self.price.cost(step.prompt_tokens, step.completion_tokens) if self.price else None

    @property
    def cost(self) -> float | None:
        return self.price.cost(self.prompt_tokens, self.completion_tokens) if self.price else None

    def as_dict(self) -> dict[str, Any]:
        totals = {"calls": self.calls, "prompt_tokens": self.prompt_tokens, "cost": self.cost}
        out = {**asdict(self), **totals, "completion_tokens": self.completion_tokens}
        out["price"] = self.price.model_dump() if self.price else None
        return out

    def table(self) -> str:
        """Plain-text table: one line per step and a total line that names the prompt tokens."""
        lines = [f"{'step':<24}{'calls':>8}{'prompt tokens':>16}{'completion tokens':>20}{'cost':>12}  basis"]
        for s in self.steps:
            lines.append(
                f"{s.step:<24}{s.calls:>8,}{s.prompt_tokens:>16,}{s.completion_tokens:>20,}"
                f"{_money(self.step_cost(s)):>12}  {s.basis}"
            )
        lines.append(
            f"{'total':<24}{self.calls:>8,}{self.prompt_tokens:>16,}{self.completion_tokens:>20,}"
            f"{_money(self.cost):>12}"
        )
        lines.append(
            f"Expected: {self.calls:,} LLM calls, {self.prompt_tokens:,} prompt tokens, "
            f"{self.completion_tokens:,} completion tokens"
            + (f", about {_money(self.cost)}" if self.cost is not None else " (set llm.price for money)")
            + f" for {self.documents:,} document{'s' if self.documents != 1 else ''},"
            + f" {self.text_units:,} text units"
            + f" ({self.unit_tokens:,} tokens)."
        )
        return "\n".join(lines)


def _money(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.2f}" if value >= 10 else f"{value:.4g}"


def measured_ratios(
    state: Mapping[str, Any], first_pass_fixed: int, gleaning_scope: GleaningScope = "names"
) -> dict[str, Ratios]:
    """Ratios of the steps of an earlier run (``stats.json``) that made every request themselves;
    ``first_pass_fixed``: the tokens of the extraction prompt around a unit's text. Extraction counts only
    if that run gleaned with ``gleaning_scope`` too (runs from before the setting sent whole units)."""
    steps: Mapping[str, Any] = state.get("steps", {})
    loaded = steps.get("load_documents", {})
    units = int(loaded.get("rows", {}).get("work/text_units", 0))
    unit_tokens = int(loaded.get("stats", {}).get("unit_tokens", 0))
    out: dict[str, Ratios] = {}
    if units <= 0 or unit_tokens <= 0 or state.get("last_update"):
        return out
    for name, default in DEFAULT_RATIOS.items():
        step = steps.get(name, {})
        calls = int(step.get("llm_calls", 0))
        if not calls or step.get("cache_hits") or step.get("stats", {}).get("reused_items", 1):
            continue
        prompt, completion = int(step.get("prompt_tokens", 0)), int(step.get("completion_tokens", 0))
        if name == "extract_graph":  # the first pass is counted exactly; the ratio covers what is left
            if step.get("stats", {}).get("gleaning", {}).get("scope", "unit") != gleaning_scope:
                continue
            first = units * first_pass_fixed + unit_tokens
            out[name] = replace(
                default,
                calls_per_unit=calls / units - 1.0,
                prompt_per_unit=0.0,
                prompt_per_unit_token=(prompt - first) / unit_tokens,
                completion_per_unit_token=completion / unit_tokens,
            )
        else:
            out[name] = Ratios(calls / units, prompt / units, 0.0, completion / unit_tokens)
    return out


def _forecast(name: str, pair: tuple[Ratios, str], units: int, unit_tokens: int) -> StepEstimate:
    ratios, basis = pair
    return StepEstimate(
        name,
        round(ratios.calls_per_unit * units),
        round(ratios.prompt_per_unit * units + ratios.prompt_per_unit_token * unit_tokens),
        round(ratios.completion_per_unit_token * unit_tokens),
        basis,
    )


def estimate_index(
    settings: Settings,
    documents: Sequence[Document],
    text_units: Sequence[TextUnit],
    state: Mapping[str, Any] | None = None,
) -> CostEstimate:
    """The forecast for indexing ``text_units`` (as chunked for the resolved method) with ``settings``."""
    tokenizer = get_tokenizer(settings.chunks.encoding)
    method = settings.resolved_method
    unit_tokens = sum(u.n_tokens for u in text_units)
    estimate = CostEstimate(
        method,
        settings.llm.model,
        len(documents),
        len(text_units),
        unit_tokens,
        price=settings.llm.price if settings.llm.price.is_set else None,
    )
    fixed = tokenizer.count(_extraction_prompt(settings)) if method == "standard" else 0
    scope = _gleaning_scope(settings)
    measured = measured_ratios(state or {}, fixed, scope)
    defaults = {**DEFAULT_RATIOS, **({"extract_graph": WHOLE_UNIT_GLEANING} if scope == "unit" else {})}

    def ratios(name: str) -> tuple[Ratios, str]:
        return (measured[name], BASIS_MEASURED) if name in measured else (defaults[name], BASIS_DEFAULT)

    if settings.contextual_prefix_inputs is not None:
        estimate.steps.append(_contexts(settings, documents, text_units, tokenizer))
    n = len(text_units)
    if method == "standard":
        gleaning = _forecast("extract_graph", ratios("extract_graph"), n, unit_tokens)
        if settings.extraction.max_gleanings == 0:
            gleaning = replace(gleaning, calls=0, prompt_tokens=0)
        first = len(text_units) * fixed + unit_tokens  # counted: the first pass of every unit
        estimate.steps.append(
            replace(gleaning, calls=n + gleaning.calls, prompt_tokens=first + gleaning.prompt_tokens)
        )
        estimate.steps.append(
            _forecast("summarize_descriptions", ratios("summarize_descriptions"), n, unit_tokens)
        )
    if method == "standard" or settings.nlp.llm_reports:
        estimate.steps.append(_forecast("community_reports", ratios("community_reports"), n, unit_tokens))
    return estimate


def _gleaning_scope(settings: Settings) -> GleaningScope:
    from graphrag_lite.index.extract.glean_focus import gleaning_scope

    return gleaning_scope(settings.extraction.gleaning_scope, settings.extraction.entity_types)


def _extraction_prompt(settings: Settings) -> str:
    from graphrag_lite.index.extract.llm import extraction_prompt

    return extraction_prompt(settings, settings.root)


def _contexts(
    settings: Settings, documents: Sequence[Document], text_units: Sequence[TextUnit], tokenizer: Tokenizer
) -> StepEstimate:
    """The contextual-prefix calls: counted exactly (one per unit, with its document window)."""
    from graphrag_lite.index.input.context import MAX_WORDS, PROMPT, prompt_windows

    template = load_prompt(PROMPT, settings.root)
    fixed = tokenizer.count(fill(template, title="", document="", passage="", max_words=MAX_WORDS))
    prompt = 0
    for document, unit, window in prompt_windows(
        documents, text_units, tokenizer, settings.chunks.contextual_window_tokens
    ):
        prompt += fixed + tokenizer.count(document.title) + tokenizer.count(window) + unit.n_tokens
    n = len(text_units)
    return StepEstimate("contextualize_units", n, prompt, n * CONTEXT_REPLY_TOKENS, "counted")
