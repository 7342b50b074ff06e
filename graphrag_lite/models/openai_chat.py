"""Chat over any OpenAI-compatible endpoint (OpenAI, Azure, Ollama, vLLM, llama.cpp) with the openai client.

Retries: the openai client retries 429, 5xx, timeouts and connection errors itself (exponential backoff with
jitter, honouring Retry-After); ``llm.max_retries`` sets how many times. A 200 reply that is malformed JSON
or has empty content is retried here, up to the same bound. Every call reports a :class:`Usage` to the meter
under the current ``usage_scope``: ``llm_calls`` counts logical calls that went to the server, ``retries``
the extra HTTP requests they needed, ``cache_hits`` calls answered from the cache. The API key never
appears in an error message or a log line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import weakref
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import openai
from aiolimiter import AsyncLimiter

from graphrag_lite.config.settings import LLMSettings
from graphrag_lite.errors import ConfigError, LLMError
from graphrag_lite.models.base import ChatResponse, Message, Usage, UsageMeter
from graphrag_lite.models.cache import SQLiteCache, chat_cache_key
from graphrag_lite.models.tokens import count_tokens

log = logging.getLogger(__name__)

PLACEHOLDER_KEY = "not-needed"  # local servers ignore the key, but the client insists on one
_RETRYABLE = (
    openai.APITimeoutError,
    openai.APIConnectionError,
    openai.RateLimitError,
    openai.InternalServerError,
)


# -- shared with the embeddings client ----------------------------------------------------------------------


def public_url(url: str | None) -> str:
    """``url`` without user info, query or fragment: safe to show in messages and logs."""
    if not url:
        return "https://api.openai.com/v1 (default)"
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def redact(text: str, secret: str | None) -> str:
    """Replace the secret (if any) in ``text``."""
    return text.replace(secret, "***") if secret and len(secret) >= 4 else text


def make_async_client(
    *,
    api_key: str | None,
    api_base: str | None,
    api_version: str | None,
    timeout: float,
    max_retries: int,
) -> openai.AsyncOpenAI:
    """An AsyncOpenAI (or AsyncAzureOpenAI when ``api_version`` is set) client."""
    key = api_key or PLACEHOLDER_KEY
    # Our own httpx client: the openai default one schedules its own close on whichever event loop runs
    # when it is garbage-collected, which fails ("Event loop is closed") once its loop has gone.
    http_client = openai.DefaultAsyncHttpxClient()
    if api_version:
        if not api_base:
            raise ConfigError(
                "llm.api_version is set (Azure OpenAI) but llm.api_base is empty. Set llm.api_base to your "
                "Azure endpoint, e.g. https://<resource>.openai.azure.com."
            )
        return openai.AsyncAzureOpenAI(
            azure_endpoint=api_base,
            api_key=key,
            api_version=api_version,
            timeout=timeout,
            max_retries=max_retries,
            http_client=http_client,
        )
    return openai.AsyncOpenAI(
        base_url=api_base, api_key=key, timeout=timeout, max_retries=max_retries, http_client=http_client
    )


def describe_openai_error(
    exc: Exception,
    *,
    what: str,
    base_url: str | None,
    model: str,
    retries: int,
    timeout: float,
    section: str = "llm",
) -> str:
    """A message that says what failed and which setting (of ``section``) to check; never holds the key."""
    where = public_url(base_url)
    key_hint = "llm.api_key / GRAPHRAG_API_KEY / OPENAI_API_KEY"
    if section != "llm":
        key_hint = f"{section}.api_key (it falls back to {key_hint})"
    server = f" Server said: {exc.message}"[:400] if isinstance(exc, openai.APIStatusError) else ""
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return (
            f"{what}: the server at {where} rejected the API key (HTTP {exc.status_code}). "
            f"Check {key_hint}.{server}"
        )
    if isinstance(exc, openai.NotFoundError):
        return (
            f"{what}: model '{model}' or the endpoint was not found at {where} (HTTP 404). Check "
            f"{section}.model and {section}.api_base (OpenAI-style URLs usually end with /v1).{server}"
        )
    if isinstance(exc, openai.RateLimitError):
        return (
            f"{what}: still rate-limited by {where} after {retries} retries. Lower {section}.concurrency"
            f" or the client-side rate caps (llm.requests_per_minute / llm.tokens_per_minute).{server}"
        )
    if isinstance(exc, openai.APIStatusError) and exc.status_code >= 500:
        return (
            f"{what}: the server at {where} kept failing (HTTP {exc.status_code}) after {retries} retries. "
            f"Check the server's logs and health, or retry later.{server}"
        )
    if isinstance(exc, openai.APIStatusError):
        hint = f"{section}.model"
        if section == "llm":
            hint += ", llm.max_tokens and whether the server supports JSON mode (llm.json_mode: false)"
        status = exc.status_code
        return f"{what}: the server at {where} refused the request (HTTP {status}). Check {hint}.{server}"
    if isinstance(exc, openai.APITimeoutError):
        return (
            f"{what}: no reply from {where} within {timeout:g} s ({retries} retries). Check the server "
            f"is up and not overloaded, or raise llm.request_timeout."
        )
    if isinstance(exc, openai.APIConnectionError):
        return (
            f"{what}: cannot connect to {where} ({retries} retries). Check {section}.api_base "
            f"and that the server is running."
        )
    return f"{what}: unexpected error from {where} for model '{model}': {type(exc).__name__}: {exc}"


def backoff_seconds(attempt: int, base: float) -> float:
    """Exponential backoff with 0-25% jitter (the openai client's own schedule), capped at 8 s."""
    return min(base * 2.0 ** (attempt - 1), 8.0) * (1 - 0.25 * random.random())


# -- the chat model -----------------------------------------------------------------------------------------


class _BadReply(Exception):
    """A 200 reply that cannot be used (malformed JSON, empty content)."""


@dataclass
class _LoopState:
    """Per-event-loop objects: httpx connections and asyncio primitives must not cross loops."""

    client: openai.AsyncOpenAI
    semaphore: asyncio.Semaphore
    requests: AsyncLimiter | None
    tokens: AsyncLimiter | None


class OpenAIChat:
    """The :class:`~graphrag_lite.models.base.ChatModel` over the openai client, with cache and limits."""

    def __init__(
        self,
        settings: LLMSettings,
        cache: SQLiteCache | None = None,
        meter: UsageMeter | None = None,
        *,
        encoding: str = "cl100k_base",
        bad_reply_backoff_s: float = 0.5,
    ) -> None:
        self.settings = settings
        self.model = settings.model
        self.cache = cache
        self.meter = meter if meter is not None else UsageMeter()
        self.encoding = encoding
        self.bad_reply_backoff_s = bad_reply_backoff_s
        self._key = settings.api_key.get_secret_value() if settings.api_key is not None else None
        self._states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"OpenAIChat(model={self.model!r}, base_url={public_url(self.settings.api_base)!r})"

    # -- plumbing -----------------------------------------------------------------------------------------
    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._states.get(loop)
        if state is None:
            s = self.settings
            client = make_async_client(
                api_key=self._key,
                api_base=s.api_base,
                api_version=s.api_version,
                timeout=s.request_timeout,
                max_retries=s.max_retries,
            )
            state = _LoopState(
                client=client,
                semaphore=asyncio.Semaphore(s.concurrency),
                requests=AsyncLimiter(s.requests_per_minute, 60) if s.requests_per_minute else None,
                tokens=AsyncLimiter(s.tokens_per_minute, 60) if s.tokens_per_minute else None,
            )
            self._states[loop] = state
        return state

    async def aclose(self) -> None:
        """Close this event loop's HTTP connections."""
        state = self._states.pop(asyncio.get_running_loop(), None)
        if state is not None:
            await state.client.close()

    def _params(self, json_mode: bool, temperature: float | None, max_tokens: int | None) -> dict[str, Any]:
        return {
            "temperature": self.settings.temperature if temperature is None else temperature,
            "max_tokens": self.settings.max_tokens if max_tokens is None else max_tokens,
            "json_mode": json_mode,
        }

    def _request_args(self, messages: list[Message], params: dict[str, Any]) -> dict[str, Any]:
        args: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": params["temperature"],
            "max_tokens": params["max_tokens"],
        }
        if params["json_mode"]:
            args["response_format"] = {"type": "json_object"}
        return args

    def _count(self, messages: Sequence[Message]) -> int:
        return sum(count_tokens(str(m.get("content", "")), self.encoding) for m in messages)

    async def _throttle(self, state: _LoopState, prompt_tokens: int) -> None:
        if state.requests is not None:
            await state.requests.acquire()
        if state.tokens is not None:
            await state.tokens.acquire(min(max(prompt_tokens, 1), state.tokens.max_rate))

    async def _cached(self, key: str) -> ChatResponse | None:
        if self.cache is None:
            return None
        raw = await self.cache.get(key)
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return ChatResponse(
                text=str(data["text"]),
                prompt_tokens=int(data.get("prompt_tokens", 0)),
                completion_tokens=int(data.get("completion_tokens", 0)),
                cached=True,
            )
        except (ValueError, KeyError, TypeError):
            log.warning("Ignoring an unreadable chat cache entry %s", key[:12])
            return None

    async def _store(self, key: str, response: ChatResponse) -> None:
        if self.cache is not None:
            data = {
                "text": response.text,
                "prompt_tokens": response.prompt_tokens,
                "completion_tokens": response.completion_tokens,
                "model": self.model,
            }
            await self.cache.set(key, json.dumps(data, ensure_ascii=False))

    def _error(self, exc: Exception, retries: int) -> LLMError:
        message = describe_openai_error(
            exc,
            what=f"LLM call to model '{self.model}' failed",
            base_url=self.settings.api_base,
            model=self.model,
            retries=retries,
            timeout=self.settings.request_timeout,
        )
        return LLMError(redact(message, self._key))

    def _bad_reply_error(self, problem: str, attempts: int) -> LLMError:
        message = (
            f"LLM call to model '{self.model}' failed: the server at {public_url(self.settings.api_base)} "
            f"returned {problem} {attempts} time(s). Check that '{self.model}' is a chat model and the "
            "server is OpenAI-compatible; with a small local model, try llm.json_mode: false."
        )
        return LLMError(redact(message, self._key))

    # -- ChatModel ----------------------------------------------------------------------------------------
    async def chat(
        self,
        messages: Sequence[Message],
        *,
        json_mode: bool = False,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> ChatResponse:
        """One completion; served from the cache when the same request was answered before."""
        msgs = [dict(m) for m in messages]
        params = self._params(json_mode, temperature, max_tokens)
        key = chat_cache_key(self.model, msgs, params)
        hit = await self._cached(key)
        if hit is not None:
            self.meter.record(Usage(cache_hits=1))
            return hit
        state = self._state()
        usage = Usage(llm_calls=1)
        try:
            async with state.semaphore:
                await self._throttle(state, self._count(msgs))
                response = await self._complete(state, msgs, params, usage)
        except _BadReply as exc:
            usage.failures = 1
            raise self._bad_reply_error(str(exc), usage.retries + 1) from None
        except openai.OpenAIError as exc:
            usage.failures = 1
            if isinstance(exc, _RETRYABLE):
                usage.retries += self.settings.max_retries  # the client gave up after all of them
            raise self._error(exc, usage.retries) from None
        finally:
            self.meter.record(usage)
        await self._store(key, response)
        return response

    async def forget(
        self,
        messages: Sequence[Message],
        *,
        json_mode: bool = False,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> None:
        """Drop the cached reply to this request: it arrived well formed but the caller could not use it,
        so the next run must ask the server again instead of failing on the same reply."""
        if self.cache is not None:
            key = chat_cache_key(
                self.model, [dict(m) for m in messages], self._params(json_mode, temperature, max_tokens)
            )
            await self.cache.delete([key])

    async def _complete(
        self, state: _LoopState, msgs: list[Message], params: dict[str, Any], usage: Usage
    ) -> ChatResponse:
        """Send the request; retry (bounded) a 200 reply that is malformed or empty."""
        problem = ""
        for attempt in range(self.settings.max_retries + 1):
            if attempt:
                usage.retries += 1
                log.info("Retrying model '%s' after %s (attempt %d)", self.model, problem, attempt + 1)
                await asyncio.sleep(backoff_seconds(attempt, self.bad_reply_backoff_s))
            args = self._request_args(msgs, params)
            raw = await state.client.chat.completions.with_raw_response.create(**args)
            usage.retries += raw.retries_taken
            try:
                completion = raw.parse()
            except (ValueError, openai.APIResponseValidationError):
                problem = "a malformed (non-JSON) reply"
                continue
            text = completion.choices[0].message.content if completion.choices else None
            if not text or not text.strip():
                problem = "an empty reply"
                continue
            reported = completion.usage
            prompt = reported.prompt_tokens if reported else self._count(msgs)
            completion_tokens = reported.completion_tokens if reported else count_tokens(text, self.encoding)
            usage.prompt_tokens += prompt
            usage.completion_tokens += completion_tokens
            return ChatResponse(text=text, prompt_tokens=prompt, completion_tokens=completion_tokens)
        raise _BadReply(problem)

    async def stream(
        self,
        messages: Sequence[Message],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncIterator[str]:
        """Text deltas as they arrive. The whole text is cached; a cached reply is replayed as one delta.

        The concurrency slot is held until the stream ends: close the iterator if you stop early.
        """
        msgs = [dict(m) for m in messages]
        params = self._params(False, temperature, max_tokens)
        key = chat_cache_key(self.model, msgs, params)
        hit = await self._cached(key)
        if hit is not None:
            self.meter.record(Usage(cache_hits=1))
            yield hit.text
            return
        state = self._state()
        usage = Usage(llm_calls=1)
        parts: list[str] = []
        try:
            async with state.semaphore:
                await self._throttle(state, self._count(msgs))
                async for delta in self._stream_deltas(state, msgs, params, usage):
                    parts.append(delta)
                    yield delta
        except _BadReply as exc:
            usage.failures = 1
            raise self._bad_reply_error(str(exc), usage.retries + 1) from None
        except LLMError:
            usage.failures = 1
            raise
        except openai.OpenAIError as exc:
            usage.failures = 1
            if isinstance(exc, _RETRYABLE) and not parts:
                usage.retries += self.settings.max_retries
            raise self._error(exc, usage.retries) from None
        finally:
            self.meter.record(usage)
        text = "".join(parts)
        await self._store(key, ChatResponse(text, usage.prompt_tokens, usage.completion_tokens))

    async def _stream_deltas(
        self, state: _LoopState, msgs: list[Message], params: dict[str, Any], usage: Usage
    ) -> AsyncIterator[str]:
        """Deltas of one streamed completion; a malformed or empty stream is retried if nothing was sent."""
        problem = ""
        args = {**self._request_args(msgs, params), "stream": True, "stream_options": {"include_usage": True}}
        for attempt in range(self.settings.max_retries + 1):
            if attempt:
                usage.retries += 1
                log.info("Retrying streamed call to '%s' after %s", self.model, problem)
                await asyncio.sleep(backoff_seconds(attempt, self.bad_reply_backoff_s))
            raw = await state.client.chat.completions.with_raw_response.create(**args)
            usage.retries += raw.retries_taken
            stream = raw.parse()
            received: list[str] = []
            reported = None
            try:
                async for chunk in stream:
                    reported = chunk.usage or reported
                    for choice in chunk.choices:
                        if choice.delta.content:
                            received.append(choice.delta.content)
                            yield choice.delta.content
            except ValueError:
                if received:
                    message = (
                        f"Streamed reply of model '{self.model}' broke off with malformed data after "
                        f"{len(received)} deltas. Retry the query; check the server's logs."
                    )
                    raise LLMError(redact(message, self._key)) from None
                problem = "a malformed (non-JSON) stream"
                continue
            finally:
                await stream.close()
            text = "".join(received)
            if not text:  # (whitespace was already yielded, so only a truly empty stream is retried)
                problem = "an empty streamed reply"
                continue
            usage.prompt_tokens += reported.prompt_tokens if reported else self._count(msgs)
            usage.completion_tokens += (
                reported.completion_tokens if reported else count_tokens(text, self.encoding)
            )
            return
        raise _BadReply(problem)
