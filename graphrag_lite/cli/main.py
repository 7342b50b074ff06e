"""The ``graphrag-lite`` command. Heavy libraries load only inside the commands that need them."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from graphrag_lite.errors import CAP_MARKER, GraphRAGError, NotBuiltYetError
from graphrag_lite.workflows.progress import not_in_summary

if TYPE_CHECKING:
    from graphrag_lite.api.facade import GraphRAG

app = typer.Typer(
    name="graphrag-lite",
    help="Index a folder of documents into a knowledge graph and answer questions over it.\n\n"
    "Typical use: `graphrag-lite init --root proj`, put files in proj/input/, "
    "`graphrag-lite index --root proj`, "
    'then `graphrag-lite query "..." --root proj --method local`.',
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

RootOption = Annotated[
    Path, typer.Option("--root", "-r", help="Project root (the folder with settings.yaml).")
]


class IndexMethod(StrEnum):
    auto = "auto"
    standard = "standard"
    fast = "fast"


class QueryMethod(StrEnum):
    local = "local"
    global_ = "global"
    drift = "drift"
    basic = "basic"
    graph = "graph"
    lazy = "lazy"


def _fail(exc: GraphRAGError) -> None:
    from rich.console import Console

    Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(2 if isinstance(exc, NotBuiltYetError) else 1)


def _logging(verbose: bool) -> None:
    # The level sits on the handler too: some libraries (bm25s) set DEBUG on their own logger.
    level = logging.DEBUG if verbose else logging.WARNING
    handler = logging.StreamHandler()
    handler.setLevel(level)
    handler.addFilter(not_in_summary)
    handler.addFilter(lambda record: CAP_MARKER not in record.getMessage())  # the run's error says it once
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", handlers=[handler])


@app.command()
def init(
    root: RootOption = Path("."),
    force: Annotated[
        bool, typer.Option(help="Overwrite settings.yaml and prompts that already exist.")
    ] = False,
) -> None:
    """Create a project: a commented settings.yaml, editable prompts/ and an empty input/ folder."""
    from graphrag_lite.cli.init_project import init_project

    try:
        result = init_project(root, force=force)
    except GraphRAGError as exc:
        _fail(exc)
        return
    for path in result.written:
        typer.echo(f"wrote {path}")
    for path in result.kept:
        typer.echo(f"kept  {path} (use --force to overwrite)")
    typer.echo(
        f"Next: put documents (.txt .md .pdf .docx .pptx .html .csv .jsonl) in {result.root / 'input'} "
        f"and run `graphrag-lite index --root {result.root}`."
    )


@app.command()
def index(
    root: RootOption = Path("."),
    method: Annotated[
        IndexMethod,
        typer.Option(
            help="standard = LLM extraction; fast = offline spaCy; auto = standard when an LLM is configured."
        ),
    ] = IndexMethod.auto,
    force: Annotated[bool, typer.Option(help="Re-run every step even if its inputs did not change.")] = False,
    estimate: Annotated[
        bool,
        typer.Option(
            "--estimate",
            help="Print the expected LLM calls, prompt/completion tokens and price (llm.price) per step, "
            "without indexing or calling the LLM.",
        ),
    ] = False,
    executor: Annotated[
        str | None,
        typer.Option(
            help="Where per-item work runs: local (default) or ray (pip install graphrag-lite[ray]); "
            "executor.kind. See docs/scale-out.md."
        ),
    ] = None,
    ray_address: Annotated[
        str | None, typer.Option(help="Ray cluster to join (default RAY_ADDRESS, else a local Ray).")
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="If another index or update runs on this project, wait for it.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Build (or resume) the index: tables and stats.json in output/, vectors in output/lancedb."""
    _logging(verbose)
    from graphrag_lite.api.facade import GraphRAG
    from graphrag_lite.cli.render import print_index_summary

    try:
        overrides = {
            key: value
            for key, value in (("executor.kind", executor), ("executor.ray_address", ray_address))
            if value is not None
        }
        rag = GraphRAG(root, overrides=overrides)
        chosen = rag.settings.resolved_method if method == IndexMethod.auto else method.value
        if estimate:
            typer.echo(rag.estimate(chosen).table())
            return
        if method == IndexMethod.auto and chosen == "fast":
            typer.echo(
                "No LLM configured: indexing offline with the fast method (spaCy + extractive reports).",
                err=True,
            )
        report = rag.index(method=chosen, force=force, show_progress=True, wait=wait)
    except GraphRAGError as exc:
        _fail(exc)
        return
    print_index_summary(report)
    _say_published(rag)


def _say_published(rag: GraphRAG) -> None:
    if rag.published is not None:
        typer.echo(f"published version {rag.published.version} to {rag.settings.storage.base_dir}")


@app.command()
def update(
    root: RootOption = Path("."),
    allow_empty: Annotated[
        bool,
        typer.Option(
            "--allow-empty",
            help="Accept an input folder with no documents: every indexed document is removed. Without it, "
            "an empty folder is an error (a wrong path must not empty an index).",
        ),
    ] = False,
    wait: Annotated[
        bool, typer.Option("--wait", help="If another index or update runs on this project, wait for it.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Apply added, changed and deleted input documents without a full re-index.

    Only new or changed text is extracted; descriptions and community reports are rewritten only where
    their evidence changed; community ids stay stable; vectors are upserted and deleted. The change
    summary is printed and saved in output/stats.json under "last_update".
    """
    _logging(verbose)
    from graphrag_lite.api.facade import GraphRAG
    from graphrag_lite.cli.render import print_update_summary

    try:
        overrides = {"input.allow_empty": True} if allow_empty else None
        rag = GraphRAG(root, overrides=overrides)
        report = rag.update(show_progress=True, wait=wait)
    except GraphRAGError as exc:
        _fail(exc)
        return
    print_update_summary(report)
    _say_published(rag)


@app.command("import")
def import_(
    source: Annotated[
        Path,
        typer.Argument(help="A Microsoft GraphRAG project root, or its output folder.", show_default=False),
    ],
    root: RootOption = Path("."),
    offline: Annotated[
        bool,
        typer.Option(
            "--offline",
            help="Write settings with no LLM and embed with the local model (their vectors are not reused).",
        ),
    ] = False,
    force: Annotated[bool, typer.Option(help="Replace an index already in ROOT/output.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Open a Microsoft GraphRAG index here as it is: tables, communities and reports, no LLM call.

    Example: graphrag-lite import ~/my-graphrag-project --root carol
    """
    _logging(verbose)
    from graphrag_lite.api.facade import GraphRAG
    from graphrag_lite.cli.render import print_import_summary

    try:
        report = GraphRAG.import_index(source, root, offline=offline, force=force)
    except GraphRAGError as exc:
        _fail(exc)
        return
    print_import_summary(report)


@app.command()
def query(
    question: Annotated[str | None, typer.Argument(help="The question (omit with --batch).")] = None,
    root: RootOption = Path("."),
    method: Annotated[
        QueryMethod,
        typer.Option(
            help="local, global, drift, basic, graph or lazy (global questions over any index, no reports "
            "needed: see docs/search-methods.md)."
        ),
    ] = QueryMethod.local,
    community_level: Annotated[
        int | None, typer.Option(help="Community level for local/global search.")
    ] = None,
    context_tokens: Annotated[
        int | None,
        typer.Option(
            help="Context token budget: local/basic/graph use it instead of the setting; global/drift cap "
            "theirs."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full result as JSON.")] = False,
    stream: Annotated[bool, typer.Option(help="Stream the answer as it is written (LLM only).")] = False,
    batch: Annotated[
        Path | None,
        typer.Option(
            help='JSONL file of {"id", "question"} lines; writes one JSON result per line to stdout.'
        ),
    ] = None,
    concurrency: Annotated[int, typer.Option(help="Questions in flight in --batch mode.")] = 4,
    budget: Annotated[
        int | None,
        typer.Option(
            help="Lazy: relevance tests (text units judged) this question may spend; default "
            "query.lazy.relevance_budget (100). 500 or 1500 go deeper."
        ),
    ] = None,
    show_tree: Annotated[
        bool,
        typer.Option(
            help="DRIFT: print the question/answer tree. Lazy: the communities opened, units judged and "
            "found relevant."
        ),
    ] = False,
    max_cost: Annotated[
        float | None,
        typer.Option(
            help="Spending cap for this query (llm.max_cost; needs llm.price): stop before passing it."
        ),
    ] = None,
    filter_: Annotated[
        list[str] | None,
        typer.Option(
            "--filter",
            help="Answer only from documents whose metadata match key=value (repeatable: the same key twice "
            "means either value, different keys must all match). See docs/documents.md.",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Answer a question (or a batch of questions) over the index."""
    _logging(verbose)
    from graphrag_lite.api.facade import GraphRAG
    from graphrag_lite.cli.render import print_result, run_batch, visible
    from graphrag_lite.query.engine import options_for
    from graphrag_lite.query.filters import DocumentFilter

    try:
        filters = DocumentFilter.parse(filter_ or []).to_dict() or None
        options = options_for(
            method.value, community_level=community_level, context_tokens=context_tokens, budget=budget
        )
        rag = GraphRAG(root)
        if max_cost is not None:
            llm = rag.settings.llm.model_copy(update={"max_cost": max_cost})
            rag.settings = rag.settings.model_copy(update={"llm": llm})
        if batch is not None:
            asyncio.run(run_batch(rag, batch, options, concurrency, filters))
            return
        if not question:
            raise typer.BadParameter("give a question, or --batch FILE")
        if stream and not as_json:

            async def _stream() -> Any:
                async for delta in rag.astream(question, options, filters=filters):
                    sys.stdout.write(visible(delta))
                    sys.stdout.flush()
                sys.stdout.write("\n")
                return rag.last_result

            result = asyncio.run(_stream())
        else:
            result = rag.query(question, options, filters=filters)
    except GraphRAGError as exc:
        _fail(exc)
        return
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    elif not stream:
        print_result(result, show_tree=show_tree, timings=verbose)
    elif show_tree or verbose:
        print_result(result, show_tree=show_tree, answer=False, timings=verbose)


@app.command()
def stats(
    root: RootOption = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Counts, community sizes per level, top entities and what the index cost in LLM calls and tokens."""
    from graphrag_lite.cli.render import print_stats

    try:
        print_stats(root, as_json=as_json)
    except GraphRAGError as exc:
        _fail(exc)


@app.command()
def export(
    root: RootOption = Path("."),
    fmt: Annotated[str, typer.Option("--format", help="graphml, json or csv.")] = "graphml",
    out: Annotated[Path | None, typer.Option(help="Output file (graphml/json) or folder (csv).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing --out file.")] = False,
) -> None:
    """Export the graph for Gephi, networkx or spreadsheets."""
    from graphrag_lite.api.export import export_graph
    from graphrag_lite.config import load_settings

    try:
        if fmt not in ("graphml", "json", "csv"):
            raise GraphRAGError(f"Unknown format '{fmt}'. Use graphml, json or csv.")
        paths = export_graph(load_settings(root).output_path, fmt, out, force=force)  # type: ignore[arg-type]
    except GraphRAGError as exc:
        _fail(exc)
        return
    for path in paths:
        typer.echo(f"wrote {path}")


@app.command()
def viz(
    root: RootOption = Path("."),
    level: Annotated[int | None, typer.Option(help="Community level used for colours.")] = None,
    out: Annotated[Path | None, typer.Option(help="HTML file to write.")] = None,
    max_nodes: Annotated[int, typer.Option(help="Draw the top N entities by degree (0 = all).")] = 500,
    force: Annotated[bool, typer.Option(help="Overwrite an existing --out file.")] = False,
) -> None:
    """Write a self-contained interactive HTML view of the graph."""
    from graphrag_lite.api.viz import write_viz
    from graphrag_lite.config import load_settings

    try:
        path = write_viz(load_settings(root).output_path, out, level, max_nodes, force=force)
    except GraphRAGError as exc:
        _fail(exc)
        return
    typer.echo(f"wrote {path}: open it in a browser (works offline)")


@app.command()
def serve(
    root: RootOption = Path("."),
    host: Annotated[
        str, typer.Option(help="Address to listen on (anything but loopback needs --api-key).")
    ] = ("127.0.0.1"),
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="GRAPHRAG_SERVER_API_KEY",
            help="Require 'Authorization: Bearer <key>' on every API route (at least 16 characters).",
        ),
    ] = None,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(help="Browser origin allowed to call the API (repeatable; none by default)."),
    ] = None,
    max_body_mb: Annotated[float, typer.Option(help="Largest request body, except uploads.")] = 1.0,
    max_upload_mb: Annotated[float, typer.Option(help="Largest upload to POST /documents.")] = 50.0,
) -> None:
    """Serve the HTTP API (REST + OpenAI-compatible chat) and the web page (docs/server.md)."""
    try:
        import uvicorn

        from graphrag_lite.server.app import create_app
        from graphrag_lite.server.options import MB, ServerOptions
    except ImportError as exc:
        _fail(
            GraphRAGError(
                f'serve needs the server extra ({exc.name} is missing): pip install "graphrag-lite[server]"'
            )
        )
        return
    try:
        options = ServerOptions(
            root=root.resolve(),
            host=host,
            port=port,
            api_key=api_key or None,
            cors_origins=tuple(cors_origin or ()),
            max_body_bytes=int(max_body_mb * MB),
            max_upload_bytes=int(max_upload_mb * MB),
        )
        from graphrag_lite.config import load_settings

        load_settings(
            options.root
        )  # a broken settings.yaml fails here, with its message, not at the first request
    except GraphRAGError as exc:
        _fail(exc)
        return
    typer.echo(f"graphrag-lite serving {options.root} on http://{host}:{port}/ (API docs at /docs)")
    uvicorn.run(create_app(options), host=host, port=port, log_level="info")


def run() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    run()
