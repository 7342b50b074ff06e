"""Chat over any OpenAI-compatible endpoint (OpenAI, Azure, Ollama, vLLM, llama.cpp) with the openai client.

Retries: the openai client retries 429, 5xx, timeouts and connection errors itself (exponential backoff with
jitter, honouring Retry-After); ``llm.max_retries`` sets how many times. A 200 reply that is malformed JSON
or has empty content is retried with tenacity, up to the same bound. Every call reports a :class:`Usage` to
the meter under the current ``usage_scope``: ``llm_calls`` counts logical calls that went to the server,
``retries`` the extra HTTP requests they needed, ``cache_hits`` calls answered from the cache. The API key
never appears in an error message or a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import openai
from aiolimiter import AsyncLimiter
from pydantic import SecretStr
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from graphrag_lite.config.settings import LLMSettings
from graphrag_lite.errors import CapReached, ConfigError, EndpointDownError, LLMError
from graphrag_lite.models.base import ChatResponse, Message, Usage, UsageMeter
from graphrag_lite.models.budget import current_cap
from graphrag_lite.models.cache import SQLiteCache, chat_cache_key
from graphrag_lite.models.timing import timed
from graphrag_lite.models.tokens import count_tokens

if TYPE_CHECKING:
    from openai.types import CompletionUsage

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


class BadReply(Exception):
    """A 200 reply that cannot be used (malformed JSON, empty content, missing vectors): asked again."""


T = TypeVar("T")


def bad_reply_retrying(
    max_retries: int, backoff_s: float, on_retry: Callable[[str, int], None]
) -> AsyncRetrying:
    """Retry :class:`BadReply` up to ``max_retries`` times (exponential backoff from ``backoff_s``, capped at
    8 s, plus jitter), then re-raise it. ``on_retry(problem, attempt)`` runs before each new attempt."""

    def before_sleep(state: RetryCallState) -> None:
        on_retry(str(state.outcome.exception() if state.outcome else ""), state.attempt_number + 1)

    return AsyncRetrying(
        retry=retry_if_exception_type(BadReply),
        stop=stop_after_attempt(max_retries + 1),
        wait=wait_exponential(multiplier=backoff_s, max=8.0) + wait_random(0, backoff_s / 4),
        before_sleep=before_sleep,
        reraise=True,
    )


async def retry_bad_replies(request: Callable[[], Awaitable[T]], retrying: AsyncRetrying) -> T:
    """``await request()``, asked again while it raises :class:`BadReply` (see :func:`bad_reply_retrying`)."""
    async for attempt in retrying:
        with attempt:
            return await request()
    raise AssertionError("unreachable: the last BadReply is re-raised")


# -- the connection plumbing the chat model and the embedder share -----------------------------------------


@dataclass
class LoopState:
    """Per-event-loop objects: httpx connections and asyncio primitives must not cross loops."""

    client: openai.AsyncOpenAI
    semaphore: asyncio.Semaphore
    requests: AsyncLimiter | None
    tokens: AsyncLimiter | None


class OpenAIEndpoint:
    """A model behind an OpenAI-compatible server: per event loop a client, a concurrency bound and the
    optional rate caps; error messages that say what to check and never hold the key."""

    kind, section = "LLM", "llm"  # named in error messages

    def __init__(
        self,
        model: str,
        llm: LLMSettings,
        *,
        api_key: SecretStr | None,
        api_base: str | None,
        api_version: str | None,
        concurrency: int,
        rate_caps: tuple[int | None, int | None] = (None, None),
    ) -> None:
        self.model, self.api_base, self.api_version = model, api_base, api_version
        self.timeout, self.max_retries = llm.request_timeout, llm.max_retries
        self.max_connection_failures = llm.max_connection_failures
        self._connection_failures = 0  # calls in a row that could not reach the server
        self.down: LLMError | None = None  # set when the circuit breaker opens
        self.concurrency, self.rate_caps = concurrency, rate_caps
        self._key = api_key.get_secret_value() if api_key is not None else None
        # A limit shared with other processes (the Ray rate-limiter actor): awaited with the prompt's token
        # count before every request, after this process's own limits.
        self.gate: Callable[[int], Awaitable[None]] | None = None
        self._states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopState] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, base_url={public_url(self.api_base)!r})"

    def _state(self) -> LoopState:
        loop = asyncio.get_running_loop()
        if loop not in self._states:
            rpm, tpm = self.rate_caps
            self._states[loop] = LoopState(
                client=self._client(),
                semaphore=asyncio.Semaphore(self.concurrency),
                requests=AsyncLimiter(rpm, 60) if rpm else None,
                tokens=AsyncLimiter(tpm, 60) if tpm else None,
            )
        return self._states[loop]

    def _client(self) -> openai.AsyncOpenAI:
        """An AsyncOpenAI (or AsyncAzureOpenAI when ``api_version`` is set) client."""
        key, timeout, retries = self._key or PLACEHOLDER_KEY, self.timeout, self.max_retries
        # Our own httpx client: the openai default one schedules its own close on whichever event loop runs
        # when it is garbage-collected, which fails ("Event loop is closed") once its loop has gone.
        http = openai.DefaultAsyncHttpxClient()
        if not self.api_version:
            return openai.AsyncOpenAI(
                base_url=self.api_base, api_key=key, timeout=timeout, max_retries=retries, http_client=http
            )
        if not self.api_base:
            raise ConfigError(
                "llm.api_version is set (Azure OpenAI) but llm.api_base is empty. Set llm.api_base to your "
                "Azure endpoint, e.g. https://<resource>.openai.azure.com."
            )
        return openai.AsyncAzureOpenAI(
            azure_endpoint=self.api_base,
            api_version=self.api_version,
            api_key=key,
            timeout=timeout,
            max_retries=retries,
            http_client=http,
        )

    async def aclose(self) -> None:
        """Close this event loop's HTTP connections."""
        state = self._states.pop(asyncio.get_running_loop(), None)
        if state is not None:
            await state.client.close()

    async def preflight(self) -> None:
        """Before an index spends anything: can the server be reached, and does it take the key? One
        ``GET /models`` without retries. Only a connection, timeout or key failure fails it; a server without
        that route passes (the first real call tells). Raises LLMError saying what to check."""
        client = self._client()
        try:
            await client.with_options(max_retries=0, timeout=min(self.timeout, 15.0)).models.list()
        except (openai.APIConnectionError, openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            reason = self._failure(exc, 0).split(": ", 1)[-1]
            raise LLMError(
                f"Pre-flight check of the {self.kind} at {public_url(self.api_base)} failed, nothing was "
                f"sent or spent: {reason}"
            ) from None
        except openai.OpenAIError as exc:
            log.debug("pre-flight GET /models: %s (ignored)", exc)
        finally:
            await client.close()

    def _breaker_check(self) -> None:
        if self.down is not None:
            raise self.down

    def _breaker_note(self, exc: BaseException | None) -> None:
        """Count calls in a row that could not reach the server; at ``max_connection_failures`` the breaker
        opens: every later call fails at once with the same diagnosis."""
        if not isinstance(exc, openai.APIConnectionError):  # timeouts are connection errors too
            self._connection_failures = 0
            return
        self._connection_failures += 1
        limit = self.max_connection_failures
        if not (limit and self._connection_failures >= limit) or self.down is not None:
            return
        timed_out = isinstance(exc, openai.APITimeoutError)
        self.down = EndpointDownError(
            f"Stopped: {self._connection_failures} {self.kind} calls in a row could not reach "
            f"{public_url(self.api_base)} ({'no reply in time' if timed_out else 'connection failed'}, each "
            f"after {self.max_retries} retries). Check {self.section}.api_base and that the server is "
            "running. Nothing more is sent; work done so far is kept (LLM cache and item memos): run the "
            "same command again when the server is back."
        )
        log.error("%s", self.down)

    def _failure(self, exc: openai.OpenAIError, retries: int) -> str:
        """What failed and which setting (of ``section``) to check, for an error the openai client raised."""
        what, where, section = (
            f"{self.kind} call to model '{self.model}' failed",
            public_url(self.api_base),
            self.section,
        )
        key_hint = "llm.api_key / GRAPHRAG_API_KEY / OPENAI_API_KEY"
        if section != "llm":
            key_hint = f"{section}.api_key (it falls back to {key_hint})"
        server = f" Server said: {exc.message}"[:400] if isinstance(exc, openai.APIStatusError) else ""
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            message = (
                f"{what}: the server at {where} rejected the API key (HTTP {exc.status_code}). "
                f"Check {key_hint}.{server}"
            )
        elif isinstance(exc, openai.NotFoundError):
            message = (
                f"{what}: model '{self.model}' or the endpoint was not found at {where} (HTTP 404). Check "
                f"{section}.model and {section}.api_base (OpenAI-style URLs usually end with /v1).{server}"
            )
        elif isinstance(exc, openai.RateLimitError):
            message = (
                f"{what}: still rate-limited by {where} after {retries} retries. Lower {section}.concurrency"
                f" or the client-side rate caps (llm.requests_per_minute / llm.tokens_per_minute).{server}"
            )
        elif isinstance(exc, openai.APIStatusError) and exc.status_code >= 500:
            message = (
                f"{what}: the server at {where} kept failing (HTTP {exc.status_code}) after {retries} "
                f"retries. Check the server's logs and health, or retry later.{server}"
            )
        elif isinstance(exc, openai.APIStatusError):
            hint = f"{section}.model"
            if section == "llm":
                hint += ", llm.max_tokens and whether the server supports JSON mode (llm.json_mode: false)"
            status = exc.status_code
            message = (
                f"{what}: the server at {where} refused the request (HTTP {status}). Check {hint}.{server}"
            )
        elif isinstance(exc, openai.APITimeoutError):
            message = (
                f"{what}: no reply from {where} within {self.timeout:g} s ({retries} retries). Check the "
                "server is up and not overloaded, or raise llm.request_timeout."
            )
        elif isinstance(exc, openai.APIConnectionError):
            message = (
                f"{what}: cannot connect to {where} ({retries} retries). Check {section}.api_base "
                f"and that the server is running."
            )
        else:
            message = (
                f"{what}: unexpected error from {where} for model '{self.model}': {type(exc).__name__}: {exc}"
            )
        return redact(message, self._key)


# -- the chat model -----------------------------------------------------------------------------------------


class OpenAIChat(OpenAIEndpoint):
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
        super().__init__(
            settings.model,
            settings,
            api_key=settings.api_key,
            api_base=settings.api_base,
            api_version=settings.api_version,
            concurrency=settings.concurrency,
            rate_caps=(settings.requests_per_minute, settings.tokens_per_minute),
        )
        self.settings = settings
        self.cache = cache
        self.meter = meter if meter is not None else UsageMeter()
        self.encoding = encoding
        self.bad_reply_backoff_s = bad_reply_backoff_s

    def _params(self, json_mode: bool, temperature: float | None, max_tokens: int | None) -> dict[str, Any]:
        """The request parameters that change the reply: part of the cache key."""
        return {
            "temperature": self.settings.temperature if temperature is None else temperature,
            "max_tokens": self.settings.max_tokens if max_tokens is None else max_tokens,
            "json_mode": json_mode,
        }

    def _request_args(self, messages: list[Message], params: dict[str, Any]) -> dict[str, Any]:
        args: dict[str, Any] = {"model": self.model, "messages": messages}
        args.update(temperature=params["temperature"], max_tokens=params["max_tokens"])
        if params["json_mode"]:
            args["response_format"] = {"type": "json_object"}
        return args

    def _count(self, messages: Sequence[Message]) -> int:
        return sum(count_tokens(str(m.get("content", "")), self.encoding) for m in messages)

    async def _cached(self, key: str) -> ChatResponse | None:
        """The cached reply (counted as a cache hit), or None."""
        raw = await self.cache.get(key) if self.cache is not None else None
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            hit = ChatResponse(
                text=str(data["text"]),
                prompt_tokens=int(data.get("prompt_tokens", 0)),
                completion_tokens=int(data.get("completion_tokens", 0)),
                cached=True,
            )
        except (ValueError, KeyError, TypeError):
            log.warning("Ignoring an unreadable chat cache entry %s", key[:12])
            return None
        self.meter.record(Usage(cache_hits=1))
        return hit

    async def _store(self, key: str, response: ChatResponse) -> None:
        if self.cache is not None:
            data = {
                "text": response.text,
                "prompt_tokens": response.prompt_tokens,
                "completion_tokens": response.completion_tokens,
                "model": self.model,
            }
            await self.cache.set(key, json.dumps(data, ensure_ascii=False))

    @contextlib.asynccontextmanager
    async def _call(
        self, msgs: list[Message], usage: Usage, sent: Sequence[str] = ()
    ) -> AsyncIterator[LoopState]:
        """A request slot (concurrency, rate caps) for one call. Failures become an :class:`LLMError` that
        says what to check; ``usage`` is recorded either way. ``sent``: deltas a stream already yielded."""
        state = self._state()
        self._breaker_check()
        try:
            async with state.semaphore, self._within_cap(msgs, usage):
                with timed("llm"):
                    if state.requests is not None:
                        await state.requests.acquire()
                    if state.tokens is not None:
                        await state.tokens.acquire(min(max(self._count(msgs), 1), state.tokens.max_rate))
                    if self.gate is not None:
                        await self.gate(self._count(msgs))
                    yield state
        except CapReached:
            raise
        except BadReply as exc:
            usage.failures = 1
            where = public_url(self.api_base)
            message = (
                f"LLM call to model '{self.model}' failed: the server at {where} "
                f"returned {exc} {usage.retries + 1} time(s). Check that '{self.model}' is a chat model and "
                "the server is OpenAI-compatible; with a small local model, try llm.json_mode: false."
            )
            self.meter.note_error(redact(message, self._key))
            raise LLMError(redact(message, self._key)) from None
        except LLMError as exc:
            usage.failures = 1
            self.meter.note_error(str(exc))
            raise
        except openai.OpenAIError as exc:
            usage.failures = 1
            if isinstance(exc, _RETRYABLE) and not sent:
                usage.retries += self.max_retries  # the client gave up after all of them
            failure = self._failure(exc, usage.retries)
            self.meter.note_error(failure)
            self._breaker_note(exc)
            raise LLMError(failure) from None
        else:
            self._breaker_note(None)
        finally:
            self.meter.record(usage)

    @contextlib.asynccontextmanager
    async def _within_cap(self, msgs: list[Message], usage: Usage) -> AsyncIterator[None]:
        """Hold this request's share of the run's spending cap while it is in flight (models/budget.py);
        a refused request was never sent, so it is not counted as a call."""
        cap = current_cap()
        if cap is None:
            yield
            return
        prompt = self._count(msgs)
        try:
            cap.reserve(prompt, self.settings.max_tokens)
        except CapReached:
            usage.llm_calls = 0
            raise
        try:
            yield
        finally:
            cap.release(prompt, self.settings.max_tokens, usage)

    def _retrying(self, usage: Usage, what: str) -> AsyncRetrying:
        def retried(problem: str, attempt: int) -> None:
            usage.retries += 1
            log.info("Retrying %s '%s' after %s (attempt %d)", what, self.model, problem, attempt)

        return bad_reply_retrying(self.max_retries, self.bad_reply_backoff_s, retried)

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
            return hit
        usage = Usage(llm_calls=1)
        async with self._call(msgs, usage) as state:
            response = await retry_bad_replies(
                lambda: self._complete(state, msgs, params, usage), self._retrying(usage, "model")
            )
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
        self, state: LoopState, msgs: list[Message], params: dict[str, Any], usage: Usage
    ) -> ChatResponse:
        """Send the request once; a 200 reply that is malformed or empty raises :class:`BadReply`."""
        raw = await state.client.chat.completions.with_raw_response.create(**self._request_args(msgs, params))
        usage.retries += raw.retries_taken
        try:
            completion = raw.parse()
        except (ValueError, openai.APIResponseValidationError):
            raise BadReply("a malformed (non-JSON) reply") from None
        text = completion.choices[0].message.content if completion.choices else None
        if not text or not text.strip():
            raise BadReply("an empty reply")
        reported = completion.usage
        prompt = reported.prompt_tokens if reported else self._count(msgs)
        completion_tokens = reported.completion_tokens if reported else count_tokens(text, self.encoding)
        usage.prompt_tokens += prompt
        usage.completion_tokens += completion_tokens
        usage.cached_prompt_tokens += _cached_tokens(reported)
        return ChatResponse(text=text, prompt_tokens=prompt, completion_tokens=completion_tokens)

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
            yield hit.text
            return
        usage = Usage(llm_calls=1)
        parts: list[str] = []
        async with self._call(msgs, usage, parts) as state:
            async for delta in self._stream_deltas(state, msgs, params, usage):
                parts.append(delta)
                yield delta
        await self._store(key, ChatResponse("".join(parts), usage.prompt_tokens, usage.completion_tokens))

    async def _stream_deltas(
        self, state: LoopState, msgs: list[Message], params: dict[str, Any], usage: Usage
    ) -> AsyncIterator[str]:
        """Deltas of one streamed completion; a malformed or empty stream is retried if nothing was sent.

        Deltas are yielded outside tenacity's attempt block, which only judges the finished stream: closing
        the iterator early must not pass through the retry logic.
        """
        args = {**self._request_args(msgs, params), "stream": True, "stream_options": {"include_usage": True}}
        async for attempt in self._retrying(usage, "streamed call to"):
            problem = ""
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
            finally:
                await stream.close()
            text = "".join(received)
            if not (text or problem):  # whitespace was yielded already: only a truly empty stream is retried
                problem = "an empty streamed reply"
            with attempt:  # a BadReply here is retried, or re-raised after the last attempt
                if problem:
                    raise BadReply(problem)
            if not problem:
                usage.prompt_tokens += reported.prompt_tokens if reported else self._count(msgs)
                usage.completion_tokens += (
                    reported.completion_tokens if reported else count_tokens(text, self.encoding)
                )
                usage.cached_prompt_tokens += _cached_tokens(reported)
                return


def _cached_tokens(reported: CompletionUsage | None) -> int:
    """Prompt tokens the server served from its prompt cache (OpenAI's ``prompt_tokens_details``), else 0."""
    details = reported.prompt_tokens_details if reported else None
    return (details.cached_tokens or 0) if details else 0
