"""The settings model. Every key has a default and a description; docs/configuration.md lists them all.

Unknown keys are rejected (``extra="forbid"``) so a typo never silently falls back to a default.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class PriceSettings(_Section):
    """Prices of the chat model, per million tokens, for estimates and the spending cap. No built-in price
    list (it would go stale): copy them from your provider's page."""

    input_per_1m: float | None = Field(None, ge=0, description="Price of 1M prompt tokens.")
    output_per_1m: float | None = Field(None, ge=0, description="Price of 1M completion tokens.")
    cached_input_per_1m: float | None = Field(
        None, ge=0, description="Price of 1M prompt tokens the server serves from its prompt cache."
    )

    @property
    def is_set(self) -> bool:
        return self.input_per_1m is not None and self.output_per_1m is not None

    def cost(self, prompt_tokens: int, completion_tokens: int, cached_prompt_tokens: int = 0) -> float:
        """Money for these tokens (0 when no price is set)."""
        if not self.is_set:
            return 0.0
        assert self.input_per_1m is not None and self.output_per_1m is not None
        cached_price = self.input_per_1m if self.cached_input_per_1m is None else self.cached_input_per_1m
        fresh = prompt_tokens - cached_prompt_tokens
        return (
            fresh * self.input_per_1m
            + cached_prompt_tokens * cached_price
            + completion_tokens * self.output_per_1m
        ) / 1e6


class LLMSettings(_Section):
    """The chat model. Leave ``api_key`` and ``api_base`` empty to run fully offline (extractive methods)."""

    api_key: SecretStr | None = Field(
        None, description="API key; usually from GRAPHRAG_API_KEY or OPENAI_API_KEY rather than the file."
    )
    api_base: str | None = Field(
        None, description="Base URL of any OpenAI-compatible server (Ollama, vLLM, llama.cpp, Azure ...)."
    )
    model: str = Field("gpt-4o-mini", description="Chat model name sent with every request.")
    api_version: str | None = Field(None, description="Azure OpenAI api-version; set it to use Azure.")
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature (0 = most repeatable).")
    max_tokens: int = Field(2000, ge=1, description="Upper bound on completion tokens per call.")
    json_mode: bool = Field(
        True, description="Ask the server for JSON output (response_format) where a prompt expects JSON."
    )
    concurrency: int = Field(8, ge=1, le=256, description="Chat requests in flight at once.")
    max_retries: int = Field(6, ge=0, le=20, description="Retries on 429, 5xx, timeouts, connection errors.")
    request_timeout: float = Field(120.0, gt=0, description="Seconds before one request times out.")
    max_connection_failures: int = Field(
        5,
        ge=0,
        description="Calls in a row that cannot reach the server (after their retries) before the run stops "
        "sending (a circuit breaker; work done is kept); 0 = never stop.",
    )
    requests_per_minute: int | None = Field(None, ge=1, description="Optional client-side request rate cap.")
    tokens_per_minute: int | None = Field(None, ge=1, description="Optional client-side token rate cap.")
    price: PriceSettings = Field(default_factory=PriceSettings)
    max_cost: float | None = Field(
        None,
        gt=0,
        description="Spending cap per run (index, update or query), in the currency of llm.price: the run "
        "stops cleanly before a call would pass it; re-running resumes without repeating calls.",
    )
    max_prompt_tokens: int | None = Field(
        None, ge=1, description="Cap on prompt tokens sent per run (works without a price)."
    )

    @field_validator("api_version", mode="before")
    @classmethod
    def _date_as_text(cls, value: object) -> object:
        """YAML reads an unquoted ``2024-10-21`` as a date; Azure wants the text."""
        return value.isoformat() if isinstance(value, datetime.date) else value

    @property
    def configured(self) -> bool:
        """True when a chat model can be reached; False means the engine runs extractive methods."""
        return bool(self.api_base) or (self.api_key is not None and bool(self.api_key.get_secret_value()))


EmbeddingPrecision = Literal["auto", "fp32", "bf16"]  # of local MiniLM's matrix products on torch


class EmbeddingSettings(_Section):
    """The embedding model used for vectors (entities, text units, reports, queries)."""

    provider: Literal["local", "openai"] = Field(
        "local",
        description="local = all-MiniLM-L6-v2 on CPU from its PyPI package (offline); "
        "openai = an OpenAI-compatible /embeddings endpoint.",
    )
    model: str = Field(
        "all-MiniLM-L6-v2",
        description="Embedding model. Local: all-MiniLM-L6-v2 (fp32), all-MiniLM-L6-v2-int8 (ONNX Runtime, "
        "int8: slightly different vectors; faster than fp32 on CPUs without fast fp32 kernels) or a "
        "sentence-transformers folder (torch). Changing it re-embeds the index.",
    )
    report_text: Literal["full", "summary"] = Field(
        "full",
        description="What a community report's vector is made from: its full text, or its title and summary "
        "(about a third less embedding work offline).",
    )
    runtime: Literal["auto", "onnx", "torch"] = Field(
        "auto",
        description="Where local fp32 MiniLM runs; all give the same vectors. auto = ONNX Runtime for a few "
        "texts (questions: no torch import, loads in ~1 s), torch for bulk embedding (indexing).",
    )
    precision: EmbeddingPrecision = Field(
        "auto",
        description="Arithmetic of local MiniLM on torch (an index's embedding). bf16: about 2.3x as fast on "
        "CPUs that multiply bf16 natively (Intel AMX, AVX-512 BF16), vectors with cosine >= 0.9999 to "
        "fp32's (same model, no re-embedding). auto = bf16 on such CPUs, else fp32.",
    )
    api_key: SecretStr | None = Field(
        None, description="Key for the embeddings endpoint (defaults to llm's)."
    )
    api_base: str | None = Field(None, description="Embeddings endpoint base URL (defaults to llm's).")
    batch_size: int = Field(64, ge=1, le=4096, description="Texts per embedding batch.")
    concurrency: int = Field(4, ge=1, le=64, description="Embedding requests in flight (openai provider).")


class CacheSettings(_Section):
    """LLM and embedding response caches (SQLite files under the project)."""

    enabled: bool = Field(
        True, description="Reuse earlier LLM replies and embeddings for identical requests."
    )
    dir: Path = Field(Path("cache"), description="Cache folder, relative to the project root.")


FileType = Literal["txt", "md", "csv", "jsonl", "pdf", "docx", "pptx", "html", "htm"]


def _all_file_types() -> list[FileType]:
    return ["txt", "md", "csv", "jsonl", "pdf", "docx", "pptx", "html", "htm"]


class InputSettings(_Section):
    """Where documents come from and how to read them."""

    dir: Path = Field(
        Path("input"), description="Input folder, relative to the project root; read recursively."
    )
    file_types: list[FileType] = Field(
        default_factory=_all_file_types, description="File extensions to read."
    )
    text_column: str = Field("text", description="Column / key holding the text in .csv and .jsonl files.")
    title_column: str = Field("title", description="Column / key holding the title in .csv and .jsonl files.")
    id_column: str | None = Field(
        None, description="Optional column / key whose value becomes part of the document identity."
    )
    encoding: str | None = Field(None, description="Force an encoding; by default it is detected per file.")
    max_file_mb: float = Field(100.0, gt=0, description="Files larger than this are skipped with a message.")
    allow_empty: bool = Field(
        False,
        description="Accept an input folder with no usable document (update --allow-empty): the index then "
        "holds no documents. Off, an empty folder is an error, so a mistaken path never empties an index.",
    )
    strip_boilerplate: bool = Field(
        True,
        description="Index only the text between Project Gutenberg's START and END markers in .txt/.md files "
        "(the licence frame is not content); the files stay untouched.",
    )


class ChunkSettings(_Section):
    """How documents are cut into text units. Chunks never cross documents."""

    size: int = Field(1200, ge=16, description="Tokens per text unit for the standard (LLM) method.")
    overlap: int = Field(100, ge=0, description="Tokens shared by consecutive text units.")
    fast_size: int = Field(
        300, ge=16, description="Tokens per text unit for the fast (NLP) method; smaller suits co-occurrence."
    )
    fast_overlap: int = Field(30, ge=0, description="Overlap for the fast method.")
    encoding: Literal["cl100k_base", "o200k_base"] = Field(
        "cl100k_base", description="Tokenizer used to count and cut tokens (works offline)."
    )
    by_section: bool = Field(
        True,
        description="Follow the documents' structure: a unit never crosses a page (PDF, PPTX), and documents "
        "with headings (Markdown, HTML, DOCX, PPTX) are cut at sections: whole sections are packed into a "
        "unit while they fit, longer ones are cut as usual.",
    )
    contextual_prefix: bool = Field(
        False,
        description="With an LLM: write a sentence situating each text unit in its document, which search "
        "(BM25 and vectors) sees before the unit's text (Contextual Retrieval). One LLM call per unit. "
        "Without it the document title is the prefix.",
    )
    contextual_window_tokens: int = Field(
        6000,
        ge=256,
        description="Document text sent with each unit for its context: the whole document up to this size, "
        "else the window of this size around the unit (units of one window share the prompt prefix, which "
        "servers with prompt caching bill once).",
    )


GleaningScope = Literal["names", "unit"]  # what a gleaning round re-sends


class ExtractionSettings(_Section):
    """LLM entity and relationship extraction."""

    entity_types: list[str] = Field(
        default_factory=lambda: ["organization", "person", "geo", "event"],
        description="Entity types the model is asked for.",
    )
    max_gleanings: int = Field(1, ge=0, le=5, description="Extra 'what did you miss?' rounds per text unit.")
    gleaning_scope: GleaningScope = Field(
        "names",
        description="What a gleaning round sends: 'names' only the sentences naming something not found yet "
        "(spaCy finds the names; no round when every name was found), 'unit' the whole text unit again.",
    )
    summary_max_words: int = Field(
        500, ge=20, description="Upper bound for a merged entity/relationship description summary."
    )
    summary_max_input_tokens: int = Field(
        4000, ge=256, description="Descriptions beyond this are summarised in folds."
    )
    resolve_aliases: bool = Field(
        True, description="Merge conservative aliases ('Holmes' -> 'Sherlock Holmes')."
    )


class NLPSettings(_Section):
    """The offline (spaCy) extraction and pruning used by the fast method."""

    min_frequency: int = Field(2, ge=1, description="Drop noun-phrase nodes seen fewer times than this.")
    min_degree: int = Field(1, ge=0, description="Drop nodes with fewer edges than this after pruning.")
    edge_percentile: float = Field(
        40.0,
        ge=0,
        le=100,
        description="Drop edges whose weight is below this percentile of all weights (ties kept; every "
        "node keeps its strongest edge).",
    )
    max_edges_per_entity: int = Field(
        20,
        ge=0,
        description="An edge is kept only if it is among the strongest this many of one of its two "
        "entities (0 = no cap): bounds the graph of run-on text, where everything meets everything.",
    )
    max_noun_phrases_per_unit: int = Field(
        12, ge=0, description="Salient noun phrases kept per text unit (named entities are always kept)."
    )
    llm_reports: bool = Field(
        False, description="With an LLM configured, write community reports with it in the fast method too."
    )
    cooccurrence_window: int = Field(
        0,
        ge=0,
        le=5,
        description="Two entities are related when mentioned in the same sentence (0) or within "
        "this many following sentences of the same text unit.",
    )
    edge_weighting: Literal["npmi", "count"] = Field(
        "npmi",
        description="Edge weight: npmi = windows shared x (1 + NPMI) / 2, so an entity mentioned everywhere "
        "weighs less per shared window than a pair seen only together; count = windows shared.",
    )
    max_sentence_tokens: int = Field(
        200,
        ge=10,
        description="Longer sentences (text with no punctuation, tables, lists) are split into pieces of "
        "this many tokens before relating entities: bounds the pairs a run-on sentence can make.",
    )
    max_window_entities: int = Field(
        30,
        ge=2,
        description="Entities related within one window at most (the sentence's own first, in order); "
        "a window holding more is capped and counted in the step's stats.",
    )
    max_pairs_per_unit: int = Field(
        300,
        ge=1,
        description="Distinct entity pairs one text unit may relate (its first ones); bounds the edges of "
        "text that names many entities in every sentence.",
    )
    batch_size: int = Field(64, ge=1, description="Texts per spaCy nlp.pipe batch.")
    n_process: int = Field(
        0, ge=0, le=8, description="spaCy worker processes; 0 = one per free core on large inputs."
    )


class CommunitySettings(_Section):
    """Hierarchical Leiden clustering."""

    max_cluster_size: int = Field(10, ge=2, description="Communities larger than this are split further.")
    seed: int = Field(
        0xDEADBEEF, description="Random seed; fixed so the same graph gives the same communities."
    )
    use_lcc: bool = Field(
        False,
        description="Cluster only the largest connected component (reference behaviour). Off: every "
        "component is clustered, so no entity is left without a community.",
    )
    attach_isolated: bool = Field(
        True,
        description="Link entities without relationships to the entities they share a text unit with "
        "(weak co-mention edges) so they join that community; off: each becomes a community of its own.",
    )


class ReportSettings(_Section):
    """Community reports."""

    max_context_tokens: int = Field(
        8000, ge=500, description="Context budget per report; larger communities use sub-community reports."
    )
    max_report_words: int = Field(1500, ge=100, description="Length the report prompt asks for.")
    source_text_until: int = Field(
        1000,
        ge=0,
        description="Source text is added only to a thin context: while the community's entity and "
        "relationship tables hold fewer than this many tokens, and up to it (0 = never).",
    )
    min_community_size: int = Field(
        4,
        ge=1,
        description="Communities with fewer entities get the extractive report (no LLM call); every search "
        "still reaches them. 1 = an LLM report for every community.",
    )


class PassageRankSettings(_Section):
    """How graph search ranks text units: Personalized PageRank over passages and entities (see
    docs/search-methods.md). Defaults were chosen on the hotpotqa and musique dev sets."""

    entity_seed: float = Field(1.0, ge=0, description="Restart weight of the entities the question names.")
    text_seed: float = Field(1.0, ge=0, description="Restart weight of the units matching the question.")
    title_seed: float = Field(
        1.0, ge=0, description="Restart weight of the units of documents whose title the question names."
    )
    sharpness: float = Field(
        8.0, ge=1, description="Power the match score is raised to: the walk starts at the best few matches."
    )
    continue_probability: float = Field(
        0.3, gt=0, lt=1, description="Chance the walk follows an edge instead of restarting (1 - damping)."
    )
    second_round: float = Field(
        0.25, ge=0, description="Restart weight of what the best unit points to, in a second run (0 = off)."
    )
    relationship_cap: float = Field(3.0, gt=0, description="Cap on an entity-entity edge's weight.")
    title_link_weight: float = Field(
        3.0,
        ge=0,
        description="Weight of the edge from a unit to the units of a document whose title it names.",
    )


class LocalSearchSettings(_Section):
    max_context_tokens: int = Field(12000, ge=500, description="Total context budget.")
    text_unit_share: float = Field(
        0.5, ge=0, le=1, description="Share of a budget above units_first_up_to for text units."
    )
    community_share: float = Field(
        0.15, ge=0, le=1, description="Share of a budget above units_first_up_to for community reports."
    )
    units_first_up_to: int = Field(
        2000,
        ge=0,
        description="Budgets up to this many tokens fill text units first; entities, relationships and "
        "reports then show only what the chosen units do not already say.",
    )
    units_first_share: float = Field(
        0.9, ge=0, le=1, description="Share of such a budget the text units may take first."
    )
    top_k_entities: int = Field(10, ge=1, description="Entities matched to the query.")
    top_k_relationships: int = Field(
        10, ge=1, description="Relationships per matched entity (out-of-network)."
    )
    use_pagerank: bool = Field(
        True,
        description="Rank text units by passage PageRank (query.graph.ranking), as graph search does; "
        "false = by their BM25 + vector match alone.",
    )


class GlobalSearchSettings(_Section):
    max_context_tokens: int = Field(12000, ge=500, description="Tokens of reports per map batch.")
    reduce_max_tokens: int = Field(12000, ge=500, description="Tokens of ranked points in the reduce step.")
    min_score: int = Field(1, ge=0, le=100, description="Points scoring below this are dropped.")
    dynamic_selection: bool = Field(False, description="Rate reports root-down; descend into relevant ones.")
    dynamic_threshold: int = Field(1, ge=0, le=10, description="Rating (0-10) needed to keep or descend.")
    concurrency: int = Field(8, ge=1, description="Map calls in flight.")


class DriftSearchSettings(_Section):
    """DRIFT search: a HyDE primer over community reports, then rounds of follow-up local searches."""

    top_k_reports: int = Field(20, ge=1, description="Reports retrieved by the HyDE primer.")
    primer_folds: int = Field(5, ge=1, description="Folds the primer reports are split into.")
    primer_fold_tokens: int = Field(
        8000, ge=500, description="Report tokens per primer fold (reports beyond it are left out)."
    )
    rounds: int = Field(2, ge=0, description="Follow-up rounds after the primer.")
    follow_ups_per_round: int = Field(
        5, ge=1, le=20, description="Best-scored follow-ups answered per round."
    )
    follow_ups_per_answer: int = Field(
        5, ge=0, le=20, description="Follow-up questions kept from each answer (the first ones it lists)."
    )
    concurrency: int = Field(4, ge=1, description="Follow-up local searches in flight.")
    max_llm_calls: int = Field(
        60, ge=2, description="Stop early once this many LLM calls are spent (one is kept for the reduce)."
    )
    max_tokens: int = Field(400000, ge=1000, description="Stop early once this many tokens are spent.")
    local_max_context_tokens: int = Field(6000, ge=500, description="Context budget of each follow-up.")
    dedup_similarity: float = Field(
        0.92, ge=0, le=1, description="Follow-ups closer than this are duplicates."
    )
    min_score: int = Field(
        10,
        ge=0,
        le=100,
        description="Answers scoring below this (0-100) add nothing: they stay in the tree but not in the "
        "reduce, and a round of only such answers (or duplicates) ends the search early.",
    )
    reduce_max_tokens: int = Field(
        8000, ge=500, description="Tokens of ranked answers per reduce call (more answers: map-reduce)."
    )


class BasicSearchSettings(_Section):
    max_context_tokens: int = Field(12000, ge=500, description="Context budget of text units.")
    top_k: int = Field(
        100,
        ge=1,
        description="Text units each retriever (BM25, vectors) scores per question, for basic search and for "
        "the match seed of graph search.",
    )
    lexical_share: float = Field(
        0.2, ge=0, le=1, description="BM25's share of the fused match score (the rest is vector similarity)."
    )


class GraphSearchSettings(_Section):
    """Graph search: passages ranked by Personalized PageRank over passages and entities."""

    max_context_tokens: int = Field(12000, ge=100, description="Context budget of text units.")
    ranking: PassageRankSettings = Field(default_factory=PassageRankSettings)


class LazySearchSettings(_Section):
    """Lazy search (after LazyGraphRAG): no reports needed; the LLM judges text units at query time."""

    relevance_budget: int = Field(
        100,
        ge=1,
        description="Relevance tests (one per text unit judged) a question may spend: the dial between cost "
        "and depth. 100 is cheap; 500 and 1500 go deeper (the LazyGraphRAG paper's settings).",
    )
    subqueries: int = Field(
        3,
        ge=0,
        le=8,
        description="Sub-queries the question is expanded into (one LLM call; 0: the question).",
    )
    units_per_test: int = Field(
        8, ge=1, le=32, description="Text units judged per relevance call, taken from one community."
    )
    claims_context_tokens: int = Field(
        6000, ge=500, description="Tokens of relevant text units per claim-extraction call."
    )
    reduce_max_tokens: int = Field(8000, ge=500, description="Tokens of ranked claims in the final answer.")
    concurrency: int = Field(8, ge=1, description="Relevance and claim calls in flight.")


class QuerySettings(_Section):
    """Defaults for the query methods."""

    community_level: int | None = Field(
        None,
        ge=0,
        description="Community level used by local/global search (default: the deepest level "
        "for local, level 0 for global).",
    )
    response_type: str = Field("multiple paragraphs", description="Answer shape asked of the LLM.")
    local: LocalSearchSettings = Field(default_factory=LocalSearchSettings)
    global_: GlobalSearchSettings = Field(default_factory=GlobalSearchSettings, alias="global")
    drift: DriftSearchSettings = Field(default_factory=DriftSearchSettings)
    basic: BasicSearchSettings = Field(default_factory=BasicSearchSettings)
    graph: GraphSearchSettings = Field(default_factory=GraphSearchSettings)
    lazy: LazySearchSettings = Field(default_factory=LazySearchSettings)

    model_config = ConfigDict(extra="forbid", populate_by_name=True, validate_assignment=True)


class ExecutorSettings(_Section):
    """Where the per-item work of indexing runs (docs/scale-out.md). Results do not depend on it."""

    kind: Literal["local", "ray"] = Field(
        "local",
        description="local: this process. ray: tasks on a Ray cluster (pip install graphrag-lite[ray]).",
    )
    ray_address: str | None = Field(
        None,
        description="Ray cluster to join (ray://host:10001 or 'auto'); default: RAY_ADDRESS, else local Ray.",
    )
    batch_size: int = Field(32, ge=1, description="Items per Ray task.")
    max_in_flight: int = Field(8, ge=1, description="Ray tasks submitted at a time (back-pressure).")


class StorageSettings(_Section):
    """Where the index is kept (docs/scale-out.md). Credentials come from the environment only."""

    base_dir: str = Field(
        "",
        description="Object-store URI the index is published to and read from (s3://bucket/prefix, gs://, "
        "az://, file://); empty: the local output_dir only. output_dir stays the local working copy.",
    )
    keep_versions: int = Field(
        3,
        ge=2,
        description="Published versions kept in the store, so a reader of the previous one can finish.",
    )

    @field_validator("base_dir")
    @classmethod
    def _uri(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and "://" not in value:
            raise ValueError(
                f"'{value}' is not a URI: use s3://bucket/prefix (or gs://, az://, file:///abs/path), or "
                "leave storage.base_dir empty to keep the index in output_dir"
            )
        return value


class Settings(_Section):
    """All settings of one project. ``root`` is where settings.yaml lives; paths resolve against it."""

    root: Path = Field(Path("."), description="Project root (set by the loader, not in the file).")
    method: Literal["auto", "standard", "fast"] = Field(
        "auto",
        description="Indexing method: standard (LLM), fast (spaCy), auto = standard when an LLM is "
        "configured, else fast.",
    )
    output_dir: Path = Field(Path("output"), description="Tables, vectors and stats, relative to the root.")
    llm: LLMSettings = Field(default_factory=LLMSettings)
    embeddings: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    input: InputSettings = Field(default_factory=InputSettings)
    chunks: ChunkSettings = Field(default_factory=ChunkSettings)
    extraction: ExtractionSettings = Field(default_factory=ExtractionSettings)
    nlp: NLPSettings = Field(default_factory=NLPSettings)
    communities: CommunitySettings = Field(default_factory=CommunitySettings)
    reports: ReportSettings = Field(default_factory=ReportSettings)
    query: QuerySettings = Field(default_factory=QuerySettings)
    executor: ExecutorSettings = Field(default_factory=ExecutorSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)

    # -- resolved paths -------------------------------------------------------------------------------
    def _resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else (self.root / path)

    @property
    def output_path(self) -> Path:
        return self._resolve(self.output_dir)

    @property
    def index_location(self) -> Path | str:
        """Where queries read the index: the object-store URI when ``storage.base_dir`` is set, else the
        local output folder."""
        return self.storage.base_dir or self.output_path

    @property
    def input_path(self) -> Path:
        return self._resolve(self.input.dir)

    @property
    def cache_path(self) -> Path:
        return self._resolve(self.cache.dir)

    @property
    def contextual_prefix_inputs(self) -> dict[str, object] | None:
        """What contextual prefixes depend on, or None when the index writes none (off, or no LLM): the
        contextualize_units step declares this, so LLM settings re-run it only when it calls the LLM."""
        if not (self.chunks.contextual_prefix and self.llm.configured):
            return None
        llm = self.llm
        return {
            "window_tokens": self.chunks.contextual_window_tokens,
            "encoding": self.chunks.encoding,
            "llm": [llm.model, llm.temperature, llm.max_tokens],  # models.base.CHAT_SETTINGS
        }

    @property
    def resolved_method(self) -> Literal["standard", "fast"]:
        if self.method == "auto":
            return "standard" if self.llm.configured else "fast"
        return self.method
