"""The step functions the workflow files name. Each reads its tables, calls index operations, returns tables.

Steps are thin: the algorithms live in :mod:`graphrag_lite.index`. A step records failed items with
``ctx.fail`` so the run goes on and the next run retries them. Each step declares with ``@step`` every
setting and prompt that it, or the index operations it calls, reads: changing one re-runs the step.
tests/test_step_settings.py records what each step reads and fails on an undeclared one.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from graphrag_lite.errors import ConfigError, ExtractionError
from graphrag_lite.models.base import CHAT_SETTINGS
from graphrag_lite.models.tokens import get_tokenizer
from graphrag_lite.workflows.progress import SHOWN_IN_SUMMARY
from graphrag_lite.workflows.runner import Step, StepContext, step

if TYPE_CHECKING:
    from graphrag_lite.config.settings import Settings
    from graphrag_lite.index.input.loading import LoadResult
    from graphrag_lite.store.records import TextUnit

logger = logging.getLogger(__name__)

Tables = dict[str, Any]  # table name -> records; "vectors" -> rows per vector table


def _require_llm(ctx: StepContext) -> None:
    if ctx.chat is None:
        raise ConfigError(
            "The standard method needs an LLM, and none is configured. Set llm.api_base (and llm.api_key) in "
            "settings.yaml or GRAPHRAG_API_KEY / GRAPHRAG_API_BASE, or index offline with --method fast."
        )


def read_input(settings: Settings) -> tuple[LoadResult, list[TextUnit], tuple[int, int]]:
    """The input documents and their text units, cut for the resolved method; (chunk size, overlap)."""
    from graphrag_lite.index.input.chunking import chunk_documents
    from graphrag_lite.index.input.loading import load_documents

    result = load_documents(settings)
    chunks = settings.chunks
    if settings.resolved_method == "fast":
        size, overlap = chunks.fast_size, chunks.fast_overlap
    else:
        size, overlap = chunks.size, chunks.overlap
    return (
        result,
        chunk_documents(
            result.documents, size, overlap, get_tokenizer(chunks.encoding), by_section=chunks.by_section
        ),
        (size, overlap),
    )


@step("input", "chunks", "resolved_method")
async def load_documents(ctx: StepContext) -> Tables:
    result, text_units, (size, overlap) = read_input(ctx.settings)
    for skipped in result.skipped:  # the CLI lists them in its summary instead (SHOWN_IN_SUMMARY)
        logger.warning("skipped %s: %s", skipped.path, skipped.reason, extra={SHOWN_IN_SUMMARY: True})
    # Skipped input files are listed, not retried: they need the user's fix, which changes the input hash.
    ctx.stats["skipped_files"] = [vars(s) for s in result.skipped]
    ctx.stats.update(files_read=result.files_read, chunk_size=size, chunk_overlap=overlap)
    ctx.stats["unit_tokens"] = sum(u.n_tokens for u in text_units)
    return {"documents": result.documents, "work/text_units": text_units}


@step("chunks.contextual_prefix", "contextual_prefix_inputs", prompts=("contextualize_unit",))
async def contextualize_units(ctx: StepContext) -> Tables:
    """With ``chunks.contextual_prefix`` and an LLM, a search context per text unit; else none (the title
    stays the only prefix)."""
    if not ctx.settings.chunks.contextual_prefix:
        return {"unit_contexts": []}
    if ctx.chat is None:
        logger.warning(
            "chunks.contextual_prefix is on but no LLM is configured: text units are searched with their "
            "document title only.",
            extra={SHOWN_IN_SUMMARY: True},
        )
        return {"unit_contexts": []}
    from graphrag_lite.index.input.context import contextualize_units as contextualize

    text_units = ctx.read("work/text_units")
    result = await contextualize(
        ctx.read("documents"),
        text_units,
        ctx.chat,
        get_tokenizer(ctx.settings.chunks.encoding),
        window_tokens=ctx.settings.chunks.contextual_window_tokens,
        project_root=ctx.settings.root,
        on_progress=ctx.on_progress(),
        memo=ctx.memo,
    )
    for unit_id, reason in result.failed:
        ctx.fail(unit_id, reason)
    ctx.stats["contexts"] = {
        "units": len(text_units),
        "with_context": len(result.contexts),
        "reused": result.reused,
        "failed": len(result.failed),
    }
    ctx.stats["reused_items"] = result.reused
    return {"unit_contexts": result.contexts}


@step(
    "extraction.entity_types",
    "extraction.max_gleanings",
    "extraction.gleaning_scope",
    "extraction.resolve_aliases",
    *CHAT_SETTINGS,
    prompts=("extract_graph", "extract_graph_continue", "extract_graph_missed"),
)
async def extract_graph(ctx: StepContext) -> Tables:
    from graphrag_lite.index.executor import executor_for
    from graphrag_lite.index.extract.llm import extract_graph as extract
    from graphrag_lite.index.graph.merge import merge_graph

    _require_llm(ctx)
    assert ctx.chat is not None
    text_units = ctx.read("work/text_units")
    executor = executor_for(ctx.settings.executor)
    result = await extract(
        text_units,
        ctx.chat,
        ctx.settings,
        ctx.settings.root,
        on_progress=ctx.on_progress(),
        memo=ctx.memo,
        executor=executor,
    )
    ctx.stats["executor"] = executor.name
    for unit_id, reason in result.failed_units + result.partial_units:
        ctx.fail(unit_id, reason)
    if text_units and not result.entities:
        raise ExtractionError(
            f"0 entities from {len(text_units)} text units. The model may ignore the record format or its "
            "context window may be too small: check llm.model, try a larger model, or index with "
            "--method fast."
        )
    merged = merge_graph(
        result.entities, result.relationships, text_units, resolve=ctx.settings.extraction.resolve_aliases
    )
    ctx.stats["alias_decisions"] = [vars(d) for d in merged.alias_decisions][:200]
    ctx.stats["failed_units"] = len(result.failed_units)
    ctx.stats["gleaning"] = {
        "calls": result.gleaning_calls,
        "records": result.gleaned_records,
        "skipped_units": result.gleaning_skipped,
        "scope": result.gleaning_scope,
    }
    ctx.stats["reused_units"] = ctx.stats["reused_items"] = result.reused_units
    return {"work/entities": merged.entities, "work/relationships": merged.relationships}


@step(
    "extraction.summary_max_words",
    "extraction.summary_max_input_tokens",
    "chunks.encoding",
    "llm.configured",
    *CHAT_SETTINGS,
    prompts=("summarize_descriptions",),
)
async def summarize_descriptions(ctx: StepContext) -> Tables:
    from graphrag_lite.index.executor import executor_for
    from graphrag_lite.index.graph.linking import link_text_units
    from graphrag_lite.index.graph.summarize import summarize_descriptions as summarize
    from graphrag_lite.store.graph import compute_degrees

    entities = ctx.read("work/entities")
    relationships = ctx.read("work/relationships")
    text_units = ctx.read("work/text_units")
    stats = await summarize(
        entities,
        relationships,
        ctx.chat,
        ctx.settings,
        ctx.settings.root,
        on_progress=ctx.on_progress(),
        memo=ctx.memo,
        executor=executor_for(ctx.settings.executor),
    )
    for item, reason in stats.failed_items:
        ctx.fail(item, reason)
    ctx.stats["summaries"] = {k: v for k, v in vars(stats).items() if k != "failed_items"}
    ctx.stats["reused_items"] = stats.reused
    compute_degrees(entities, relationships)
    link_text_units(text_units, entities, relationships)
    return {"entities": entities, "relationships": relationships, "text_units": text_units}


@step(
    "nlp.max_noun_phrases_per_unit",
    "nlp.cooccurrence_window",
    "nlp.edge_weighting",
    "nlp.max_sentence_tokens",
    "nlp.max_window_entities",
    "nlp.max_pairs_per_unit",
)
async def extract_graph_nlp(ctx: StepContext) -> Tables:
    from graphrag_lite.index.executor import executor_for
    from graphrag_lite.index.extract.nlp import extract_graph_nlp as extract

    text_units = ctx.read("work/text_units")
    executor = executor_for(ctx.settings.executor)
    result = extract(
        text_units, ctx.settings, on_progress=ctx.on_progress(), memo=ctx.memo, executor=executor
    )
    ctx.stats.update(result.stats)
    if result.stats["capped_windows"]:
        sources = {d.id: d.source for d in ctx.read("documents")}
        for document_id, windows in result.stats["capped_windows"].items():
            logger.warning(
                "%s: %d sentence window(s) named more entities than the caps allow (run-on text, tables or "
                "lists?): at most %d entities per window and %d pairs per text unit were related "
                "(nlp.max_window_entities, nlp.max_pairs_per_unit).",
                sources.get(document_id, document_id),
                windows,
                ctx.settings.nlp.max_window_entities,
                ctx.settings.nlp.max_pairs_per_unit,
            )
    if text_units and not result.entities:
        raise ExtractionError(f"0 entities from {len(text_units)} text units: is the input English prose?")
    return {"work/entities": result.entities, "work/relationships": result.relationship_table}


@step("nlp.min_frequency", "nlp.min_degree", "nlp.edge_percentile", "nlp.max_edges_per_entity")
async def prune_graph(ctx: StepContext) -> Tables:
    from graphrag_lite.index.graph.linking import link_text_units
    from graphrag_lite.index.graph.prune import prune_table

    # As a table: run-on input relates a million pairs, and a record each would take gigabytes.
    result = prune_table(ctx.read("work/entities"), ctx.read_table("work/relationships"), ctx.settings)
    ctx.stats.update(result.stats)
    text_units = ctx.read("work/text_units")
    link_text_units(text_units, result.entities, result.relationships)
    return {"entities": result.entities, "relationships": result.relationships, "text_units": text_units}


@step("communities")
async def create_communities(ctx: StepContext) -> Tables:
    """Leiden on the whole graph; an update then keeps the ids of the communities it continues."""
    from graphrag_lite.index.graph.communities import hierarchical_communities
    from graphrag_lite.index.graph.community_ids import keep_community_ids

    previous = ctx.read_if_exists("communities") if ctx.mode == "update" else []
    communities = hierarchical_communities(ctx.read("entities"), ctx.read("relationships"), ctx.settings)
    if previous:
        ctx.stats["community_ids"] = keep_community_ids(communities, previous).as_dict()
    ctx.stats["levels"] = len({c.level for c in communities})
    return {"communities": communities}


@step(
    "resolved_method",
    "nlp.llm_reports",
    "llm.configured",
    "llm.json_mode",
    "reports",
    "chunks.encoding",
    *CHAT_SETTINGS,
    prompts=("community_report",),
)
async def community_reports(ctx: StepContext) -> Tables:
    communities = ctx.read("communities")
    entities = ctx.read("entities")
    relationships = ctx.read("relationships")
    text_units = ctx.read("text_units")
    use_llm = ctx.chat is not None and (
        ctx.settings.resolved_method == "standard" or ctx.settings.nlp.llm_reports
    )
    if use_llm:
        from graphrag_lite.index.executor import executor_for
        from graphrag_lite.index.reports.extractive import extractive_reports
        from graphrag_lite.index.reports.llm import generate_reports

        assert ctx.chat is not None
        small = [c for c in communities if c.size < ctx.settings.reports.min_community_size]
        written = extractive_reports(small, entities, relationships, text_units)
        result = await generate_reports(
            communities,
            entities,
            relationships,
            text_units,
            ctx.chat,
            ctx.settings,
            ctx.settings.root,
            on_progress=ctx.on_progress(),
            memo=ctx.memo,
            written={r.community_id: r for r in written},
            executor=executor_for(ctx.settings.executor),
        )
        for community_id, reason in result.failed:
            ctx.fail(community_id, reason)
        reports = result.reports
        ctx.stats["reused_items"] = result.reused
    else:
        from graphrag_lite.index.reports.extractive import extractive_reports

        reports = extractive_reports(communities, entities, relationships, text_units, memo=ctx.memo)
    ctx.stats["method"] = "llm" if use_llm else "extractive"
    ctx.stats["llm_reports"] = sum(1 for r in reports if r.method == "llm")
    ctx.stats["from_sub_reports"] = sum(1 for r in reports if r.context_source == "sub_reports")
    return {"community_reports": reports}


@step("embeddings.provider", "embeddings.model", "embeddings.report_text")
async def embed(ctx: StepContext) -> Tables:
    from graphrag_lite.index.embed import EmbedJob, embed_index
    from graphrag_lite.index.executor import executor_for
    from graphrag_lite.store.layout import IndexLayout

    executor = executor_for(ctx.settings.executor)
    remote = (executor, EmbedJob(ctx.settings)) if executor.name != "local" else None
    ctx.stats["executor"] = executor.name
    counts = await embed_index(
        IndexLayout(ctx.settings.output_path).lancedb,
        {d.id: d.title for d in ctx.read("documents")},
        {c.id: c.context for c in ctx.read("unit_contexts")},
        ctx.read("text_units"),
        ctx.read("entities"),
        ctx.read("community_reports"),
        ctx.embedder,
        batch_size=ctx.settings.embeddings.batch_size,
        on_progress=ctx.on_progress(),
        report_text=ctx.settings.embeddings.report_text,
        remote=remote,
    )
    ctx.stats["vectors"] = counts
    return {"vectors": {table: c["rows"] for table, c in counts.items()}}


STEPS: dict[str, Step] = {
    "load_documents": load_documents,
    "contextualize_units": contextualize_units,
    "extract_graph": extract_graph,
    "summarize_descriptions": summarize_descriptions,
    "extract_graph_nlp": extract_graph_nlp,
    "prune_graph": prune_graph,
    "create_communities": create_communities,
    "community_reports": community_reports,
    "embed": embed,
}
