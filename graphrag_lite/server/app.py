"""The FastAPI application: one ``GraphRAG`` per process (opened at start-up, closed at shutdown), the
routes, the guards and the web page. Errors are JSON ``{"error": "..."}`` without tracebacks."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from graphrag_lite import __version__
from graphrag_lite.api.facade import GraphRAG
from graphrag_lite.api.viz import ASSETS, LIBRARY_FILE
from graphrag_lite.errors import (
    CapReached,
    ConfigError,
    GraphRAGError,
    IndexNotFoundError,
    InputError,
    LLMError,
)
from graphrag_lite.server.jobs import JobBusyError, Jobs
from graphrag_lite.server.options import ServerOptions
from graphrag_lite.server.routes import browse, documents, query
from graphrag_lite.server.security import BodyLimit, require_key
from graphrag_lite.store.reader import IndexReader

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
PAGE_HEADERS = {
    # Scripts only from this server; Cytoscape.js sets inline styles on its canvas, so styles may be inline.
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _status(exc: GraphRAGError) -> int:
    if isinstance(exc, IndexNotFoundError):
        return 404
    if isinstance(exc, JobBusyError):
        return 409
    if isinstance(exc, CapReached):
        return 402
    if isinstance(exc, LLMError):
        return 502
    if isinstance(exc, ConfigError | InputError):
        return 400
    return 500


def create_app(options: ServerOptions) -> FastAPI:
    """The application for ``options.root``; run it with uvicorn (``graphrag-lite serve``)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rag = GraphRAG(options.root)
        app.state.rag = rag
        app.state.jobs = Jobs(rag, rag.settings.root)
        try:
            yield
        finally:
            await app.state.jobs.wait()
            await rag.aclose()

    app = FastAPI(
        title="graphrag-lite",
        version=__version__,
        summary="Ask questions over a graphrag-lite index; browse its graph; add documents.",
        lifespan=lifespan,
    )
    app.state.options = options
    app.add_middleware(
        BodyLimit, max_body_bytes=options.max_body_bytes, max_upload_bytes=options.max_upload_bytes
    )
    if options.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(options.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Accept"],
        )
    _add_error_handlers(app)
    _add_page(app)
    for module in (query, browse, documents):
        app.include_router(module.router)

    @app.get(
        "/health",
        dependencies=[Depends(require_key)],
        summary="Liveness, and whether an index is loaded or building",
    )
    async def health(request: Request) -> dict[str, Any]:
        rag: GraphRAG = request.app.state.rag
        jobs: Jobs = request.app.state.jobs
        running = jobs.running
        return {
            "status": "ok",
            "version": __version__,
            "index": IndexReader(rag.settings.index_location, rag.settings.root).has("entities"),
            "job": running.id if running else None,
        }

    return app


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GraphRAGError)
    async def graphrag_error(_request: Request, exc: GraphRAGError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=_status(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()
        )
        body = {"error": f"Invalid request: {problems}", "details": jsonable_encoder(exc.errors())}
        return JSONResponse(body, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, _exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {"error": "Internal server error; the server log has the details."}, status_code=500
        )


def _add_page(app: FastAPI) -> None:
    """The web page: static files of this package and the vendored Cytoscape.js, no CDN."""

    @app.middleware("http")
    async def page_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        if request.url.path == "/" or request.url.path.startswith(("/static/", "/assets/")):
            response.headers.update(PAGE_HEADERS)
        return response

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/assets/cytoscape.min.js", include_in_schema=False)
    async def cytoscape() -> FileResponse:
        return FileResponse(ASSETS / LIBRARY_FILE, media_type="text/javascript")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
