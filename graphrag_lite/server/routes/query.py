"""Asking questions: ``POST /query`` (JSON, or SSE with ``Accept: text/event-stream``) and the
OpenAI-compatible ``POST /v1/chat/completions`` and ``GET /v1/models`` that chat front-ends speak."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from graphrag_lite.api.facade import GraphRAG
from graphrag_lite.errors import GraphRAGError
from graphrag_lite.query.engine import METHODS, SearchOptions, options_for
from graphrag_lite.query.result import QueryResult
from graphrag_lite.server.security import require_key

router = APIRouter(dependencies=[Depends(require_key)])
MODEL_PREFIX = "graphrag-"
SOURCES_IN_FOOTER = 8


class Turn(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class QueryOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    community_level: int | None = Field(None, ge=0)
    context_tokens: int | None = Field(None, ge=100)
    budget: int | None = Field(None, ge=1, description="Lazy search: relevance tests to spend.")
    history: list[Turn] | None = Field(None, description="Earlier turns (local and DRIFT use them).")
    filters: dict[str, str | list[str]] | None = Field(
        None, description='Answer only from documents whose metadata match, e.g. {"group": "finance"}.'
    )


class QueryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=20_000)
    method: Literal["local", "global", "drift", "basic", "graph", "lazy"] = "local"
    options: QueryOptions = Field(default_factory=QueryOptions)


def _options(method: str, options: QueryOptions) -> SearchOptions:
    history = [turn.model_dump() for turn in options.history] if options.history else None
    return options_for(
        method,
        community_level=options.community_level,
        context_tokens=options.context_tokens,
        history=history,
        budget=options.budget,
    )


def _rag(request: Request) -> GraphRAG:
    rag: GraphRAG = request.app.state.rag
    return rag


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.post("/query", summary="Answer a question (JSON, or a token stream with Accept: text/event-stream)")
async def query(body: QueryRequest, request: Request) -> Any:
    rag = _rag(request)
    options = _options(body.method, body.options)
    if "text/event-stream" not in request.headers.get("accept", ""):
        result = await rag.aquery(body.question, options, filters=body.options.filters)
        return result.to_dict()

    async def events() -> AsyncIterator[str]:
        try:
            async for item in rag.astream_result(body.question, options, filters=body.options.filters):
                if isinstance(item, QueryResult):
                    yield _sse("result", item.to_dict())
                else:
                    yield _sse("delta", {"text": item})
        except GraphRAGError as exc:
            yield _sse("error", {"error": str(exc)})

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


# -- OpenAI-compatible chat ---------------------------------------------------------------------------


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: keep the text ones
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, top_p, …: accepted and ignored

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    filters: dict[str, str | list[str]] | None = Field(
        None, description="graphrag-lite extension: answer only from documents whose metadata match."
    )


def _openai_error(status: int, message: str, code: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": "invalid_request_error", "code": code}}, status_code=status
    )


def _footer(result: QueryResult) -> str:
    """The sources under the answer, for chat front-ends that show only the text."""
    sources = list(dict.fromkeys((c.where, c.text_unit_id) for c in result.citations))
    if not sources:
        return ""
    lines = [f"- {title} ({unit})" for title, unit in sources[:SOURCES_IN_FOOTER]]
    return "\n\nSources:\n" + "\n".join(lines)


@router.get("/v1/models", summary="The search methods, as OpenAI model names")
async def models() -> dict[str, Any]:
    data = [
        {"id": MODEL_PREFIX + method, "object": "model", "created": 0, "owned_by": "graphrag-lite"}
        for method in METHODS
    ]
    return {"object": "list", "data": data}


@router.post("/v1/chat/completions", summary="OpenAI-compatible chat: the model name picks the search method")
async def chat_completions(body: ChatRequest, request: Request) -> Any:
    method = body.model.removeprefix(MODEL_PREFIX)
    if method not in METHODS:
        names = ", ".join(MODEL_PREFIX + m for m in METHODS)
        return _openai_error(404, f"Unknown model '{body.model}'. Use one of: {names}.", "model_not_found")
    turns = [m for m in body.messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user" or not turns[-1].text.strip():
        return _openai_error(400, "The last message must be a user message with text.", "invalid_messages")
    history = [{"role": m.role, "content": m.text} for m in turns[:-1]]
    options = options_for(method, history=history or None)
    rag = _rag(request)
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    if not body.stream:
        try:
            result = await rag.aquery(turns[-1].text, options, filters=body.filters)
        except GraphRAGError as exc:
            return _openai_error(400, str(exc), "query_failed")
        message = {"role": "assistant", "content": result.answer + _footer(result)}
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": body.model,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": result.prompt_tokens,
                "completion_tokens": result.completion_tokens,
                "total_tokens": result.prompt_tokens + result.completion_tokens,
            },
        }

    def chunk(delta: dict[str, str], finish: str | None = None) -> str:
        payload = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": body.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    async def stream() -> AsyncIterator[str]:
        yield chunk({"role": "assistant", "content": ""})
        try:
            async for item in rag.astream_result(turns[-1].text, options, filters=body.filters):
                text = _footer(item) if isinstance(item, QueryResult) else item
                if text:
                    yield chunk({"content": text})
        except GraphRAGError as exc:
            yield chunk({"content": f"\n\n[error: {exc}]"})
        yield chunk({}, "stop")
        yield "data: [DONE]\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
