"""The ``GraphRAG`` facade: wires settings, models, the workflow runner and the query engines together.

Async methods are the core; the sync twins run them on a private event loop (so they also work inside
Jupyter, where a loop is already running). Chat clients are created per event loop because an HTTP client
belongs to the loop it was first used on.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import weakref
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from graphrag_lite.config import Settings, load_settings
from graphrag_lite.errors import ConfigError
from graphrag_lite.models.base import ChatModel, Embedder, UsageMeter, close_model
from graphrag_lite.query.result import QueryResult

if TYPE_CHECKING:
    from collections.abc import Callable

    from graphrag_lite.query.engine import QueryEnv, SearchOptions
    from graphrag_lite.query.filters import FilterSpec
    from graphrag_lite.query.index_data import IndexData
    from graphrag_lite.store.objectstore import Manifest
    from graphrag_lite.workflows.estimate import CostEstimate
    from graphrag_lite.workflows.import_index import ImportReport
    from graphrag_lite.workflows.progress import ProgressSink
    from graphrag_lite.workflows.runner import RunReport, WorkflowRunner
    from graphrag_lite.workflows.update import UpdateReport

T = TypeVar("T")


class GraphRAG:
    """One project: ``GraphRAG("my_project").index()`` then ``.query("...", method="local")``."""

    def __init__(
        self,
        root: str | Path = ".",
        *,
        settings: Settings | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> None:
        self.settings = settings or load_settings(root, overrides)
        self.meter = UsageMeter()
        self._chats: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ChatModel | None] = (
            weakref.WeakKeyDictionary()
        )
        self._embedder: Embedder | None = None
        self._data: Any = None
        self._data_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self.last_result: QueryResult | None = None
        self.published: Manifest | None = None  # the version the last index/update published (storage)

    # -- models ----------------------------------------------------------------------------------------
    @property
    def chat(self) -> ChatModel | None:
        """The chat model for the running event loop; None when no LLM is configured (extractive mode)."""
        if not self.settings.llm.configured:
            return None
        from graphrag_lite.models.factory import create_chat

        loop = asyncio.get_running_loop()
        if loop not in self._chats:
            self._chats[loop] = create_chat(self.settings, self.meter)
        return self._chats[loop]

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from graphrag_lite.models.factory import create_embedder

            self._embedder = create_embedder(self.settings, self.meter)
        return self._embedder

    def _index_data(self) -> Any:
        with self._data_lock:
            if self._data is None:
                from graphrag_lite.query.index_data import IndexData

                self._data = IndexData.load(self.settings)
            return self._data

    # -- sync bridge -----------------------------------------------------------------------------------
    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._loop_thread = threading.Thread(
                target=self._loop.run_forever, name="graphrag-lite-loop", daemon=True
            )
            self._loop_thread.start()
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    async def aclose(self) -> None:
        """Close this event loop's HTTP connections and the cache files; models reopen on next use."""
        chat = self._chats.pop(asyncio.get_running_loop(), None)
        if chat is not None:
            await close_model(chat)
        if self._embedder is not None:
            await close_model(self._embedder)

    def close(self) -> None:
        """Close connections and caches, then stop the private loop of the sync methods."""
        if self._loop is not None:
            self._run(self.aclose())
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._loop_thread is not None:
                self._loop_thread.join(timeout=5)
            self._loop = None

    def __enter__(self) -> GraphRAG:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> GraphRAG:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- indexing --------------------------------------------------------------------------------------
    def estimate(self, method: str | None = None) -> CostEstimate:
        """What indexing would cost (LLM calls, tokens and, with ``llm.price``, money) without calling the
        LLM: reads and chunks the input, counts what it can and forecasts the rest (workflows/estimate.py)."""
        from graphrag_lite.store.reader import IndexReader
        from graphrag_lite.workflows.estimate import estimate_index
        from graphrag_lite.workflows.steps import read_input

        settings = self._with_method(method)
        loaded, text_units, _ = read_input(settings)
        state = IndexReader(settings.output_path, settings.root).stats()
        return estimate_index(settings, loaded.documents, text_units, state)

    def _uses_llm(self) -> bool:
        """Whether indexing with the current settings calls the LLM (then the run keeps its estimate)."""
        settings = self.settings
        if not settings.llm.configured:
            return False
        uses_reports = settings.resolved_method == "standard" or settings.nlp.llm_reports
        return uses_reports or settings.contextual_prefix_inputs is not None

    def _refuse_to_rebuild_an_import(self, force: bool) -> None:
        from graphrag_lite.store.reader import IndexReader
        from graphrag_lite.workflows.import_index import IMPORTED_WORKFLOW

        state = IndexReader(self.settings.output_path, self.settings.root).stats()
        if state.get("workflow") == IMPORTED_WORKFLOW and not force:
            raise ConfigError(
                f"The index in {self.settings.output_path} was imported from Microsoft GraphRAG: `index` "
                "would rebuild it from input/ with this project's pipeline (LLM calls for every document) "
                "and replace the imported tables. Query it as it is, or pass --force to rebuild."
            )

    @staticmethod
    def import_index(
        source: str | Path,
        root: str | Path,
        *,
        offline: bool = False,
        force: bool = False,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> ImportReport:
        """Open a Microsoft GraphRAG project (or its output folder) ``source`` as the graphrag-lite project
        ``root``: tables, hierarchy and reports as they are, no LLM call (docs/migrating-from-graphrag.md)."""
        from graphrag_lite.models.factory import create_embedder
        from graphrag_lite.workflows.import_index import import_index

        return import_index(
            Path(source),
            Path(root),
            offline=offline,
            force=force,
            embedder_factory=create_embedder,
            on_progress=on_progress,
        )

    async def _preflight(self) -> None:
        """Check the endpoints an index would call before it spends anything (models/openai_chat.py)."""
        from graphrag_lite.models.openai_chat import OpenAIEndpoint
        from graphrag_lite.models.openai_embeddings import OpenAIEmbedder

        chat = self.chat if self._uses_llm() else None
        if isinstance(chat, OpenAIEndpoint):
            await chat.preflight()
        settings = self.settings
        if settings.embeddings.provider == "openai":
            await OpenAIEmbedder(settings.embeddings, settings.llm).preflight()

    def _with_method(self, method: str | None) -> Settings:
        if method not in (None, "auto", "standard", "fast"):
            raise ConfigError(f"Unknown index method '{method}'. Use standard, fast or auto.")
        if method in ("standard", "fast"):
            return self.settings.model_copy(update={"method": method})
        return self.settings

    async def aindex(
        self,
        method: str | None = None,
        *,
        force: bool = False,
        show_progress: bool = False,
        progress: ProgressSink | None = None,
        wait: bool = False,
    ) -> RunReport:
        """Build or resume the index with the standard (LLM) or fast (offline) workflow. Another index or
        update of the project raises IndexBusyError, or with ``wait`` is waited for."""
        self.settings = self._with_method(method)
        self._refuse_to_rebuild_an_import(force)
        with self._index_run(wait):
            await self._preflight()
            estimate = self.estimate().as_dict() if self._uses_llm() else None
            runner = self._runner(self.settings.resolved_method, show_progress, progress)
            report = await runner.run(force=force, estimate=estimate)
        self._forget_data()
        return report

    def index(
        self,
        method: str | None = None,
        *,
        force: bool = False,
        show_progress: bool = False,
        progress: ProgressSink | None = None,
        wait: bool = False,
    ) -> RunReport:
        return self._run(
            self.aindex(method, force=force, show_progress=show_progress, progress=progress, wait=wait)
        )

    async def aupdate(
        self, *, show_progress: bool = False, progress: ProgressSink | None = None, wait: bool = False
    ) -> UpdateReport:
        """Bring the index in line with ``input/``: added, changed and deleted documents.

        Only new or changed text is extracted, only changed descriptions are re-summarised and only
        reports of changed communities are rewritten; community ids stay stable. See
        :mod:`graphrag_lite.workflows.update`.
        """
        from graphrag_lite.workflows.import_index import IMPORTED_WORKFLOW
        from graphrag_lite.workflows.update import indexed_workflow, update_index

        with self._index_run(wait):
            workflow = indexed_workflow(self.settings)
            if workflow == IMPORTED_WORKFLOW:  # a Microsoft GraphRAG index: merged into, hierarchy kept
                from graphrag_lite.workflows.import_update import update_imported

                await self._preflight()
                report = await update_imported(self.settings, self.chat, self.embedder)
                self._forget_data()
                return report
            self.settings = self.settings.model_copy(update={"method": workflow})
            await self._preflight()
            report = await update_index(self.settings, self._runner(workflow, show_progress, progress))
        self._forget_data()
        return report

    def update(
        self, *, show_progress: bool = False, progress: ProgressSink | None = None, wait: bool = False
    ) -> UpdateReport:
        """``progress`` receives step starts, item counts and step ends (the server's job status)."""
        return self._run(self.aupdate(show_progress=show_progress, progress=progress, wait=wait))

    @contextlib.contextmanager
    def _index_run(self, wait: bool) -> Iterator[None]:
        """What every index or update runs inside: the project lock, and with ``storage.base_dir`` the pull
        of the published version before and its publication after (store/objectstore.py)."""
        from graphrag_lite.store.lock import project_lock
        from graphrag_lite.store.objectstore import ObjectStoreIndex

        storage, output = self.settings.storage, self.settings.output_path
        with project_lock(output, wait=wait):
            store = ObjectStoreIndex(storage.base_dir) if storage.base_dir else None
            if store is not None:
                store.pull(output)
            yield
            if store is not None:  # only a run that ended without error is published
                self.published = store.publish(output, storage.keep_versions)

    def _runner(
        self, workflow: str, show_progress: bool, progress: ProgressSink | None = None
    ) -> WorkflowRunner:
        from graphrag_lite.workflows.progress import LoggingProgress, cli_progress
        from graphrag_lite.workflows.runner import WorkflowRunner
        from graphrag_lite.workflows.spec import load_workflow
        from graphrag_lite.workflows.steps import STEPS

        if progress is None:
            progress = cli_progress(self.meter) if show_progress else LoggingProgress()
        return WorkflowRunner(
            self.settings,
            load_workflow(workflow),
            STEPS,
            chat=self.chat,
            meter=self.meter,
            embedder_factory=lambda: self.embedder,
            progress=progress,
        )

    def _forget_data(self) -> None:
        """Drop the loaded index so the next query reads the new tables."""
        with self._data_lock:
            self._data = None

    def refresh(self) -> None:
        """Forget the loaded index: the next query reads the tables another process (or job) wrote."""
        self._forget_data()

    async def aindex_data(self) -> IndexData:
        """The loaded index (read on first use): queries answer from it until :meth:`refresh`."""
        data: IndexData = await asyncio.to_thread(self._index_data)
        return data

    # -- querying --------------------------------------------------------------------------------------
    async def _env(self, filters: FilterSpec | None = None) -> QueryEnv:
        """What a query runs against; with ``filters``, the index restricted to the matching documents."""
        from graphrag_lite.models.timing import TimedEmbedder, timed
        from graphrag_lite.query.engine import QueryEnv
        from graphrag_lite.query.filters import restrict

        with timed("load"):
            data = await self.aindex_data()
            if filters:
                data = await asyncio.to_thread(restrict, data, filters)
        return QueryEnv(data, self.chat, TimedEmbedder(self.embedder), self.settings)

    async def aquery(
        self,
        text: str,
        method: str | SearchOptions = "local",
        *,
        community_level: int | None = None,
        context_tokens: int | None = None,
        history: list[dict[str, str]] | None = None,
        budget: int | None = None,
        filters: FilterSpec | None = None,
    ) -> QueryResult:
        """Answer ``text`` with local, global, drift, basic, graph or lazy search (or the options
        object's). ``budget``: lazy search's relevance tests. ``filters``: answer only from documents whose
        metadata match, e.g. ``{"group": "finance"}`` (see :mod:`graphrag_lite.query.filters`)."""
        from graphrag_lite.models.timing import collecting
        from graphrag_lite.query.engine import run_query

        options = _options(method, community_level, context_tokens, history, budget)
        started = time.perf_counter()
        with collecting() as timings:
            env = await self._env(filters)
            async with self._spending_cap():
                result = await run_query(text, options, env)
        result.extra["timings"] = _breakdown(timings.seconds, time.perf_counter() - started)
        if filters:
            result.extra["filter"] = dict(filters)
        self.last_result = result
        return result

    @contextlib.asynccontextmanager
    async def _spending_cap(self) -> AsyncIterator[None]:
        """The query's spending cap (llm.max_cost / llm.max_prompt_tokens): a query whose LLM calls it
        stopped raises CapReached instead of answering from part of its evidence."""
        from graphrag_lite.errors import CapReached
        from graphrag_lite.models.budget import SpendingCap, capped

        cap = SpendingCap.for_run(self.settings.llm)
        with capped(cap):
            yield
        if cap is not None and cap.reached:
            raise CapReached(
                f"The query stopped at its spending cap: {cap.describe()}. Ask again with a higher "
                "--max-cost (llm.max_cost) or llm.max_prompt_tokens, or none; answered calls are cached."
            )

    def query(self, text: str, method: str | SearchOptions = "local", **options: Any) -> QueryResult:
        return self._run(self.aquery(text, method, **options))

    async def astream(
        self,
        text: str,
        method: str | SearchOptions = "local",
        *,
        community_level: int | None = None,
        context_tokens: int | None = None,
        history: list[dict[str, str]] | None = None,
        budget: int | None = None,
        filters: FilterSpec | None = None,
    ) -> AsyncIterator[str]:
        """Yield the answer as it is written; the full result is then in ``last_result``."""
        options = method if not isinstance(method, str) else None
        async for item in self.astream_result(
            text,
            options or str(method),
            community_level=community_level,
            context_tokens=context_tokens,
            history=history,
            budget=budget,
            filters=filters,
        ):
            if isinstance(item, QueryResult):
                self.last_result = item
            else:
                yield item

    async def astream_result(
        self,
        text: str,
        method: str | SearchOptions = "local",
        *,
        community_level: int | None = None,
        context_tokens: int | None = None,
        history: list[dict[str, str]] | None = None,
        budget: int | None = None,
        filters: FilterSpec | None = None,
    ) -> AsyncIterator[str | QueryResult]:
        """The answer's text deltas, then its :class:`QueryResult` as the last item: what concurrent
        streams (the server) use, since ``last_result`` is shared by every query of this object."""
        from graphrag_lite.query.engine import open_stream

        options = _options(method, community_level, context_tokens, history, budget)
        async with self._spending_cap():
            stream = open_stream(text, options, await self._env(filters))
            async for delta in stream:
                yield delta
        assert stream.result is not None
        if filters:
            stream.result.extra["filter"] = dict(filters)
        yield stream.result

    # per-method conveniences
    async def alocal_search(self, text: str, **options: Any) -> QueryResult:
        return await self.aquery(text, "local", **options)

    async def aglobal_search(self, text: str, **options: Any) -> QueryResult:
        return await self.aquery(text, "global", **options)

    async def adrift_search(self, text: str, **options: Any) -> QueryResult:
        return await self.aquery(text, "drift", **options)

    async def abasic_search(self, text: str, **options: Any) -> QueryResult:
        return await self.aquery(text, "basic", **options)

    async def agraph_search(self, text: str, **options: Any) -> QueryResult:
        return await self.aquery(text, "graph", **options)

    async def alazy_search(self, text: str, **options: Any) -> QueryResult:
        return await self.aquery(text, "lazy", **options)

    def local_search(self, text: str, **options: Any) -> QueryResult:
        return self.query(text, "local", **options)

    def global_search(self, text: str, **options: Any) -> QueryResult:
        return self.query(text, "global", **options)

    def drift_search(self, text: str, **options: Any) -> QueryResult:
        return self.query(text, "drift", **options)

    def basic_search(self, text: str, **options: Any) -> QueryResult:
        return self.query(text, "basic", **options)

    def graph_search(self, text: str, **options: Any) -> QueryResult:
        return self.query(text, "graph", **options)

    def lazy_search(self, text: str, **options: Any) -> QueryResult:
        return self.query(text, "lazy", **options)


def _breakdown(phases: dict[str, float], total: float) -> dict[str, float]:
    """Seconds of one query: reading the index, embedding (the first call loads the model), the LLM, the
    engine's own retrieval and packing, and the rest (the sum is ``total``)."""
    load, embed, llm = (phases.get(name, 0.0) for name in ("load", "embed", "llm"))
    search = max(0.0, total - load - embed - llm)
    parts = {"load": load, "embed": embed, "retrieve_pack": search, "llm": llm, "total": total}
    return {name: round(value, 4) for name, value in parts.items()}


def _options(
    method: str | SearchOptions,
    community_level: int | None,
    context_tokens: int | None,
    history: list[dict[str, str]] | None,
    budget: int | None,
) -> SearchOptions:
    """The options object given, or the one ``method`` gets from the keyword options."""
    from graphrag_lite.query.engine import options_for

    if not isinstance(method, str):
        return method
    return options_for(
        method, community_level=community_level, context_tokens=context_tokens, history=history, budget=budget
    )
