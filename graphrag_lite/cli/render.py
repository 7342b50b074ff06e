"""How the CLI shows results: index summaries, answers, stats, and the batch query loop."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from graphrag_lite.errors import GraphRAGError, InputError

if TYPE_CHECKING:
    from graphrag_lite.api.facade import GraphRAG
    from graphrag_lite.query.engine import SearchOptions

_out = Console(highlight=False, soft_wrap=True)
_err = Console(stderr=True, highlight=False)
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F)}  # not \t, \n
_CONTROL.update({c: f"\\x{c:02x}" for c in range(0x80, 0xA0)})  # C1 controls (8-bit escape sequences)


def visible(text: object) -> str:
    """``text`` with terminal control characters shown as ``\\xNN`` (tabs and newlines kept)."""
    return str(text).translate(_CONTROL)


def shown(text: object) -> str:
    """Untrusted text (documents, titles, entity names, model output, file names) made safe to print:
    terminal control characters (escape sequences, bells) become visible ``\\xNN`` and Rich markup such
    as ``[link=…]`` or ``[/]`` is escaped, so it prints as written and never styles, links or crashes."""
    return escape(visible(text))


def _megabytes(value: int | None) -> str:
    """A step's peak resident memory (stats ``peak_rss_mb``), or blank where it was not measured."""
    if value is None:
        return ""
    return f"{value / 1024:.1f} GB" if value >= 1024 else f"{value} MB"


def print_index_summary(report: Any) -> None:
    table = Table(title=f"Index ({report.workflow}) finished in {report.duration_s:.1f} s")
    priced = report.cost is not None
    columns = [
        "step",
        "status",
        "peak memory",
        "rows",
        "LLM calls",
        "tokens (prompt/completion)",
        "cached",
        "failed",
    ]
    for column in columns + (["cost"] if priced else []):
        table.add_column(column)
    for step in report.steps:
        rows = ", ".join(f"{k} {v}" for k, v in step.rows.items())
        usage = step.usage
        cells = [
            step.name,
            "skipped (unchanged)" if step.skipped else f"{step.duration_s:.1f} s",
            _megabytes(None if step.skipped else step.stats.get("peak_rss_mb")),
            rows,
            str(usage.get("llm_calls", 0)),
            f"{usage.get('prompt_tokens', 0):,} / {usage.get('completion_tokens', 0):,}",
            str(usage.get("cache_hits", 0)),
            str(len(step.failures)),
        ]
        table.add_row(*cells, *([f"{step.cost:.4g}" if step.cost is not None else ""] if priced else []))
    _err.print(table)
    if report.estimate:
        spent = report.usage()
        est = report.estimate
        line = f"LLM: {spent['prompt_tokens']:,} prompt tokens (estimate {est['prompt_tokens']:,})"
        if priced and est.get("cost") is not None:
            line += f", cost {report.cost:.4g} (estimate {est['cost']:.4g})"
        _err.print(line)
    failed = [(s.name, f) for s in report.steps for f in s.failures]
    if failed:
        _err.print(
            f"[yellow]{len(failed)} item(s) failed after retries; run `index` again to retry only them. "
            f"Details in {report.stats_path}.[/]"
        )
    skipped = [f for s in report.steps for f in s.stats.get("skipped_files", [])] if report.steps else []
    for item in skipped[:20]:
        advice = f" ({item['advice']})" if item.get("advice") else ""
        _err.print(f"[yellow]skipped input[/] {shown(item['path'])}: {shown(item['reason'])}{shown(advice)}")
    if len(skipped) > 20:
        more = len(skipped) - 20
        _err.print(f"[yellow]... and {more} more skipped input files[/], listed in {report.stats_path}")
    _err.print(f"Stats: {report.stats_path}")


def print_import_summary(report: Any) -> None:
    """What an import read from GraphRAG, what it wrote here, the vectors, and what it dropped."""
    table = Table(title=f"Imported {shown(report.source)}")
    for column in ("table", "GraphRAG rows", "rows here"):
        table.add_column(column)
    for name, count in report.read.items():
        table.add_row(name, str(count), str(report.written.get(name, "-")))
    _err.print(table)
    _err.print(f"Vectors: {shown(report.vectors)}")
    for what, why in report.dropped.items():
        _err.print(f"Dropped: {shown(what)}: {shown(why)}")
    for note in report.notes:
        _err.print(f"Note: {shown(note)}")
    where = shown(report.root)
    _err.print(f'Done in {report.seconds:.1f} s, no LLM call. Next: graphrag-lite query "..." --root {where}')


def print_update_summary(update: Any) -> None:
    """The index table, then what changed and what the update cost against a full re-index."""
    print_index_summary(update.run)
    docs = update.documents
    counts = ", ".join(f"{len(docs[kind])} {kind}" for kind in ("added", "changed", "deleted"))
    _err.print(f"Documents: {counts}")
    for kind in ("added", "changed", "deleted"):
        for source in docs[kind][:20]:
            _err.print(f"  {kind:<8} {shown(source)}")
    table = Table(title="Changes")
    for column in ("table", "added", "removed", "changed", "unchanged"):
        table.add_column(column)
    for name, counts in update.tables.items():
        table.add_row(name, *(str(counts[k]) for k in ("added", "removed", "changed", "unchanged")))
    _err.print(table)
    for step, counts in update.reuse.items():
        _err.print(f"{step}: {counts['computed']} item(s) computed, {counts['reused']} reused")
    for name, counts in update.vectors.items():
        _err.print(f"vectors/{name}: {counts['embedded']} embedded, {counts['deleted']} deleted")
    if update.community_ids:
        ids = update.community_ids
        _err.print(
            f"Community ids: {ids.get('unchanged', 0)} unchanged, {ids.get('matched', 0)} kept by overlap, "
            f"{ids.get('new', 0)} new, {ids.get('removed', 0)} removed"
        )
    if update.full_index_llm_requests:
        _err.print(
            f"LLM: {update.llm_calls} calls sent ({update.llm_requests} requests incl. cache hits); a full "
            f"re-index would make about {update.full_index_llm_requests} requests."
        )


def lazy_tree(trace: dict[str, Any]) -> Any:
    """Lazy search's trace as a tree: communities as opened, with units judged / relevant / claims."""
    from rich.tree import Tree

    def add(node: dict[str, Any], branch: Any) -> None:
        title = shown(node.get("title") or f"community {node.get('community')}")
        failed = f", [red]{node['failed_calls']} failed call(s)[/]" if node.get("failed_calls") else ""
        child = branch.add(
            f"{title} [dim](level {node.get('level')}: {node.get('relevant')}/{node.get('tested')} relevant, "
            f"{node.get('claims')} claim(s){failed})[/]"
        )
        for sub in node.get("children", []):
            add(sub, child)

    aspects = shown("; ".join(trace.get("subqueries") or []) or "the question alone")
    tests, budget, batches = trace.get("tests"), trace.get("budget"), trace.get("batches")
    root = Tree(
        f"Lazy search: {tests} of {budget} relevance tests in {batches} "
        f"batch(es), {trace.get('relevant')} relevant ({100 * trace.get('relevant_fraction', 0):.0f}%); "
        f"sub-queries: {aspects}"
    )
    for node in trace.get("communities", []):
        add(node, root)
    return root


def print_result(result: Any, *, show_tree: bool = False, answer: bool = True, timings: bool = False) -> None:
    if answer:
        _out.print(shown(result.numbered_answer or result.answer))
        _out.print()
    if show_tree and result.extra.get("tree"):
        from rich.tree import Tree

        def add(node: dict[str, Any], branch: Any) -> None:
            label = f"[bold]{shown(node.get('question', ''))}[/] (score {node.get('score', 0):.0f})"
            child = branch.add(label)
            if node.get("answer"):
                child.add(shown(str(node["answer"])[:300]))
            for sub in node.get("children", []):
                add(sub, child)

        root = Tree("DRIFT")
        add(result.extra["tree"], root)
        _out.print(root, soft_wrap=False)
    if show_tree and result.extra.get("lazy"):
        _out.print(lazy_tree(result.extra["lazy"]), soft_wrap=False)
    failed = result.extra.get("failed_llm_calls")
    if failed:
        _err.print(
            f"[yellow]{failed} of {result.llm_calls} LLM calls failed: this answer rests on the rest "
            "(run with -v to see why).[/]"
        )
    where = {c.text_unit_id: c.where for c in result.citations}
    numbered = result.source_numbers
    others = [u for u in dict.fromkeys(c.text_unit_id for c in result.citations) if u not in set(numbered)]
    if numbered or others:
        _err.print("[dim]Sources:[/]")
        for number, unit_id in enumerate(numbered, start=1):
            _err.print(f"[dim]  \\[{number}] {shown(where.get(unit_id, ''))} ({shown(unit_id)})[/]")
        for unit_id in others[:10]:  # cited outside a marker (an extractive answer's own list)
            _err.print(f"[dim]  {shown(where[unit_id])} ({shown(unit_id)})[/]")
    _err.print(
        f"[dim]{result.method} search, {result.llm_calls} LLM calls, "
        f"{result.prompt_tokens + result.completion_tokens:,} tokens, {result.duration_s:.2f} s[/]"
    )
    spent = result.extra.get("timings")
    if timings and spent:  # --verbose: where the time went (api/facade.py _breakdown)
        parts = ", ".join(f"{name} {value:.3f} s" for name, value in spent.items())
        _err.print(f"[dim]time: {parts}[/]")


async def run_batch(
    rag: GraphRAG,
    path: Path,
    options: SearchOptions,
    concurrency: int,
    filters: dict[str, list[str]] | None = None,
) -> None:
    """Answer every line of a JSONL file, writing one JSON result per line (ids kept, input order)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    if not path.is_file():
        raise InputError(f"{path}: batch file not found.")
    questions: list[tuple[str, str, str | None]] = []  # (id, question, why the line is unusable)
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            questions.append((str(row.get("id", number)), str(row["question"]), None))
        except (json.JSONDecodeError, KeyError, AttributeError, TypeError) as exc:
            problem = f'{path}:{number}: expected a JSON object with "id" and "question" ({exc}).'
            questions.append((f"line {number}", "", problem))
    semaphore = asyncio.Semaphore(max(1, concurrency))
    results: dict[int, dict[str, Any]] = {}
    next_to_print = 0

    with Progress(
        TextColumn("queries"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=_err
    ) as progress:
        task = progress.add_task("queries", total=len(questions))

        async def answer(i: int, qid: str, text: str, problem: str | None) -> None:
            nonlocal next_to_print
            async with semaphore:
                if problem is not None:  # a bad line gets an error record; the batch goes on
                    row: dict[str, Any] = {"id": qid, "question": text, "error": problem}
                else:
                    try:
                        result = await rag.aquery(text, options, filters=filters)
                        row = {"id": qid, "question": text, **result.to_dict()}
                    except GraphRAGError as exc:
                        row = {"id": qid, "question": text, "error": str(exc)}
            results[i] = row
            while next_to_print in results:
                sys.stdout.write(json.dumps(results.pop(next_to_print), ensure_ascii=False) + "\n")
                sys.stdout.flush()
                next_to_print += 1
            progress.advance(task)

        await asyncio.gather(*(answer(i, *question) for i, question in enumerate(questions)))


def print_stats(root: Path, *, as_json: bool = False) -> None:
    from graphrag_lite.api.stats import index_summary
    from graphrag_lite.config import load_settings

    settings = load_settings(root)
    summary = index_summary(settings)
    output = settings.output_path
    if as_json:
        _out.print(json.dumps(summary, indent=2))
        return
    table = Table(title=f"Index at {output} ({summary['workflow']})")
    table.add_column("what")
    table.add_column("value")
    for name, count in summary["tables"].items():
        table.add_row(name, f"{count:,}")
    for level, info in summary.get("community_levels", {}).items():
        table.add_row(
            f"level {level} communities",
            f"{info['communities']} (size min {info['min']}, median {info['median']:g}, max {info['max']})",
        )
    cost = summary["cost"]
    table.add_row("LLM calls", f"{cost.get('llm_calls', 0):,} ({cost.get('cache_hits', 0):,} cache hits)")
    table.add_row(
        "tokens", f"{cost.get('prompt_tokens', 0):,} prompt / {cost.get('completion_tokens', 0):,} completion"
    )
    table.add_row(
        "top entities", ", ".join(f"{shown(e['title'])} ({e['degree']})" for e in summary["top_entities"])
    )
    update = summary.get("last_update")
    if update:
        docs = ", ".join(f"{len(update['documents'][k])} {k}" for k in ("added", "changed", "deleted"))
        table.add_row(
            "last update",
            f"documents {docs}; {update['llm_calls']:,} LLM calls (full re-index: about "
            f"{update['full_index_llm_requests']:,} requests)",
        )
    _add_problem_rows(table, summary, settings.root)
    _out.print(table)


def _add_problem_rows(table: Table, summary: dict[str, Any], root: Path) -> None:
    """Items that failed after retries and input files that were skipped, with what to do."""
    failures = summary["failures"]
    if failures:
        count = sum(len(items) for items in failures.values())
        per_step = ", ".join(f"{name} {len(items)}" for name, items in failures.items())
        first = next(iter(failures.values()))[0]
        table.add_row(
            "failed items",
            f"{count} ({per_step}); e.g. {shown(first['item'])}: {shown(first['reason'][:160])}. Run "
            "`graphrag-lite index "
            f"--root {root}` to retry only them.",
        )
    skipped = summary["skipped_files"]
    if skipped:
        listed = "; ".join(f"{shown(item['path'])} ({shown(item['reason'])})" for item in skipped[:5])
        more = f"; and {len(skipped) - 5} more (stats.json)" if len(skipped) > 5 else ""
        table.add_row("skipped input files", f"{len(skipped)}: {listed}{more}")
