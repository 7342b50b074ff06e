"""An OpenAI-compatible HTTP server for tests: real sockets, the real wire protocol, deterministic replies.

Built on the standard library only (``http.server`` in a background thread) so the test suite needs nothing
else. Chat replies come from the reply modules in :mod:`support.replies`; a request no module
claims gets a deterministic echo. Faults (429, 500, timeouts, dropped connections, malformed or empty
bodies) can be injected at random with a seed, scripted exactly with :meth:`TestLLMServer.fail_next`, or
pinned to requests by their content with :meth:`TestLLMServer.fail_matching` (a chunk or a report that always
fails). :meth:`TestLLMServer.reply_matching` scripts the reply to requests by their content.

    with TestLLMServer() as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="x")
"""

from __future__ import annotations

import argparse
import base64
import collections
import contextlib
import hashlib
import json
import logging
import random
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from graphrag_lite.models.tokens import count_tokens
from support.replies import ReplyRequest, find_handler

log = logging.getLogger(__name__)

FAULT_KINDS = ("429", "500", "timeout", "drop", "malformed", "empty")
GENERIC_KIND = "generic"
EMBEDDINGS_KIND = "embeddings"
_WORD = re.compile(r"\w+")


def _shared_length(a: str, b: str) -> int:
    """Length of the longest common prefix of two strings (binary search over slice comparisons)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


# -- faults ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaultPlan:
    """Inject a fault into a share ``rate`` of chat/embedding requests, chosen by seed and arrival order."""

    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    seed: int = 0
    # At most this many random faults in a row for one request (same body); None = no bound. With a client
    # that retries at least this often every request gets through, so only scripted faults fail for good.
    max_repeats: int | None = None

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"Unknown fault kinds {sorted(unknown)}; use some of {FAULT_KINDS}.")
        if self.max_repeats is not None and self.max_repeats < 0:
            raise ValueError("max_repeats must be 0 or more (or None for no bound).")

    def decide(self, index: int) -> str | None:
        """The fault for the ``index``-th faultable request (0-based), or None; depends on nothing else."""
        if self.rate <= 0 or not self.kinds:
            return None
        rng = random.Random(f"{self.seed}:{index}")
        if rng.random() >= self.rate:
            return None
        return rng.choice(self.kinds)


@dataclass(frozen=True)
class ContentRule:
    """Requests whose text (chat messages or embedding inputs) holds every string of ``contains``.

    A fault rule serves ``action`` (a fault kind); a reply rule returns ``action`` as the reply text.
    ``times`` bounds how often the rule fires (None: every time).
    """

    contains: tuple[str, ...]
    action: str
    times: int | None = None

    def matches(self, text: str) -> bool:
        return all(part in text for part in self.contains)


@dataclass
class LogEntry:
    """One request as the server saw it."""

    path: str
    kind: str  # reply module "module:marker", "generic", "embeddings", or "error"
    model: str
    messages: list[dict[str, str]] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)  # embedding inputs
    json_mode: bool = False
    stream: bool = False
    prompt_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens "served from the prompt cache" (see _cached_prefix_tokens)
    completion_tokens: int = 0
    status: int | None = None  # None: no HTTP reply was sent (timeout / drop)
    fault: str | None = None
    error: str | None = None
    reply: str = ""
    timestamp: float = field(default_factory=time.time)


# -- deterministic content -------------------------------------------------------------------------


def hashed_embedding(text: str, dim: int = 384) -> list[float]:
    """A unit bag-of-hashed-words vector: texts sharing words get a positive cosine similarity."""
    vector = np.zeros(dim, dtype=np.float64)
    for word in _WORD.findall(text.lower()):
        digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
        number = int.from_bytes(digest, "little")
        vector[number % dim] += 1.0 if (number >> 63) & 1 else -1.0
    norm = float(np.linalg.norm(vector))
    if norm == 0.0:
        vector[0], norm = 1.0, 1.0
    return [float(x) for x in vector / norm]


def generic_reply(request: ReplyRequest) -> str:
    """The reply for a request no reply module claims: an echo with a digest of the last user message."""
    last = request.last_user
    digest = hashlib.sha256(last.encode("utf-8")).hexdigest()[:10]
    preview = " ".join(last.split()[:12])
    if request.json_mode:
        return json.dumps({"echo": preview, "digest": digest})
    return f"Echo [{digest}]: {preview}"


def _content_text(content: Any) -> str:
    """Message content as text (strings, or lists of {"type": "text", "text": ...} parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def _fingerprint(body: dict[str, Any]) -> str:
    """Identifies a request across retries: the same body gives the same fingerprint."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def _stream_pieces(text: str) -> list[str]:
    """Word-sized deltas whose concatenation is exactly ``text``."""
    return re.findall(r"\s*\S+\s*", text) or ([text] if text else [])


# -- HTTP plumbing ---------------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: TestLLMServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
    timeout = 60  # idle keep-alive connections end instead of holding a thread forever
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.owner._track_connection(+1)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass  # the client went away (expected after timeout faults)
        finally:
            self.server.owner._track_connection(-1)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("test server: " + format, *args)

    # -- replies -----------------------------------------------------------------------------------
    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self.send_body(status, json.dumps(payload).encode("utf-8"), headers)

    def send_body(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def send_error_json(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        kind = {401: "invalid_request_error", 404: "not_found_error", 429: "rate_limit_error"}
        payload = {"error": {"message": message, "type": kind.get(status, "server_error"), "code": status}}
        self.send_json(status, payload, headers)

    def start_sse(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def send_sse(self, data: str) -> None:
        payload = f"data: {data}\n\n".encode()
        self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
        self.wfile.flush()

    def end_sse(self) -> None:
        self.send_sse("[DONE]")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def hang_up(self) -> None:
        """Close the connection without a reply."""
        self.close_connection = True

    # -- routes ------------------------------------------------------------------------------------
    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path.endswith("/models"):
            self.send_json(200, self.server.owner._models_payload())
        else:
            self.send_error_json(404, f"No route GET {path}.")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0].rstrip("/")
        owner = self.server.owner
        with owner._in_flight():
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                self.send_error_json(400, "Request body is not valid JSON.")
                return
            if path.endswith("/chat/completions"):
                owner._serve_chat(self, path, body)
            elif path.endswith("/embeddings"):
                owner._serve_embeddings(self, path, body)
            else:
                self.send_error_json(404, f"No route POST {path}.")


# -- the server ------------------------------------------------------------------------------------


class TestLLMServer:
    """A local OpenAI-compatible server. Use as a context manager; ``base_url`` ends with ``/v1``.

    ``delay_s`` is slept before every chat/embedding reply (concurrency tests); a "timeout" fault holds the
    request for ``timeout_s`` (set it above the client's timeout) and then hangs up. ``api_key`` makes the
    server answer 401 to any other key; ``models`` makes it answer 404 to other model names.
    ``echo_key_in_errors`` puts the key a request carried into its error replies (401, 429, 500), as some
    proxies do, so tests can check that the client redacts it.
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        dim: int = 384,
        faults: FaultPlan | None = None,
        delay_s: float = 0.0,
        timeout_s: float = 5.0,
        retry_after_ms: int = 10,
        api_key: str | None = None,
        models: Sequence[str] | None = None,
        echo_key_in_errors: bool = False,
    ) -> None:
        self.host, self._port, self.dim = host, port, dim
        self.echo_key_in_errors = echo_key_in_errors
        self.faults = faults or FaultPlan()
        self.delay_s, self.timeout_s, self.retry_after_ms = delay_s, timeout_s, retry_after_ms
        self.api_key = api_key
        self.models = list(models) if models is not None else None
        self._lock = threading.Lock()
        self._log: list[LogEntry] = []
        self._prompts: dict[str, list[str]] = {}  # long chat prompts seen, by their start (prompt cache)
        self._scripted: collections.deque[str] = collections.deque()
        self._fault_rules: list[ContentRule] = []
        self._reply_rules: list[ContentRule] = []
        self._fired: collections.Counter[ContentRule] = collections.Counter()
        self._streaks: dict[str, int] = {}  # request fingerprint -> random faults in a row
        self._faultable = 0
        self._in_flight_now = self._connections_now = 0
        self.max_in_flight = self.max_connections = 0
        self.total_connections = 0  # TCP connections accepted since start (or the last clear_log)
        self._stop = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> TestLLMServer:
        if self._httpd is not None:
            return self
        self._stop.clear()
        httpd = _HTTPServer((self.host, self._port), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, args=(0.05,), name="test-llm-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # wakes requests held by delays or timeout faults
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> TestLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("TestLLMServer is not started; use `with TestLLMServer() as srv:`.")
        return int(self._httpd.server_address[1])

    @property
    def root_url(self) -> str:
        """The server root without ``/v1`` (what Azure's ``azure_endpoint`` expects)."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    # -- request log -------------------------------------------------------------------------------
    @property
    def log(self) -> list[LogEntry]:
        with self._lock:
            return list(self._log)

    def requests(self, kind_prefix: str | None = None) -> list[LogEntry]:
        """Logged requests whose kind starts with ``kind_prefix`` (all when None)."""
        return [e for e in self.log if kind_prefix is None or e.kind.startswith(kind_prefix)]

    def wait_idle(self, timeout_s: float = 30.0) -> None:
        """Wait until no request is being handled: a client may read its reply before the handler has
        returned, so right after the reply a request can still count as in flight."""
        deadline = time.monotonic() + timeout_s
        while self._in_flight_now and time.monotonic() < deadline:
            time.sleep(0.01)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()
            self.max_in_flight = self._in_flight_now
            self.max_connections = self._connections_now
            self.total_connections = self._connections_now

    # -- faults ------------------------------------------------------------------------------------
    def fail_next(self, kind: str, n: int = 1) -> None:
        """Inject ``kind`` into the next ``n`` chat/embedding requests (before any random faults)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"Unknown fault kind {kind!r}; use one of {FAULT_KINDS}.")
        with self._lock:
            self._scripted.extend([kind] * n)

    def fail_matching(self, *contains: str, kind: str = "500", times: int | None = None) -> ContentRule:
        """Serve ``kind`` to every request whose text holds all of ``contains`` (``times`` bounds it).

        Rules come after :meth:`fail_next` and before random faults: a chunk or a report that fails for good.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"Unknown fault kind {kind!r}; use one of {FAULT_KINDS}.")
        if not contains:
            raise ValueError("fail_matching needs at least one string to match.")
        rule = ContentRule(tuple(contains), kind, times)
        with self._lock:
            self._fault_rules.append(rule)
        return rule

    def reply_matching(self, *contains: str, reply: str, times: int | None = None) -> ContentRule:
        """Answer chat requests whose text holds all of ``contains`` with ``reply``, not a reply module."""
        if not contains:
            raise ValueError("reply_matching needs at least one string to match.")
        rule = ContentRule(tuple(contains), reply, times)
        with self._lock:
            self._reply_rules.append(rule)
        return rule

    def clear_rules(self) -> None:
        """Forget every fault and reply rule (random faults of the FaultPlan stay)."""
        with self._lock:
            self._fault_rules.clear()
            self._reply_rules.clear()

    def _fire(self, rules: list[ContentRule], text: str) -> str | None:
        """The action of the first rule matching ``text`` that may still fire (call under the lock)."""
        for rule in rules:
            if rule.matches(text) and (rule.times is None or self._fired[rule] < rule.times):
                self._fired[rule] += 1
                return rule.action
        return None

    def _next_fault(self, text: str, fingerprint: str) -> str | None:
        with self._lock:
            if self._scripted:
                return self._scripted.popleft()
            ruled = self._fire(self._fault_rules, text)
            if ruled is not None:
                return ruled
            index = self._faultable
            self._faultable += 1
            plan = self.faults
            fault = plan.decide(index)
            streak = self._streaks.get(fingerprint, 0)
            if fault is not None and plan.max_repeats is not None and streak >= plan.max_repeats:
                fault = None
            self._streaks[fingerprint] = streak + 1 if fault is not None else 0
            return fault

    def _scripted_reply(self, text: str) -> str | None:
        with self._lock:
            return self._fire(self._reply_rules, text)

    # -- accounting --------------------------------------------------------------------------------
    def _track_connection(self, delta: int) -> None:
        with self._lock:
            self._connections_now += delta
            self.total_connections += max(delta, 0)
            self.max_connections = max(self.max_connections, self._connections_now)

    @contextlib.contextmanager
    def _in_flight(self) -> Iterator[None]:
        with self._lock:
            self._in_flight_now += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight_now)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight_now -= 1

    def _record(self, entry: LogEntry) -> None:
        with self._lock:
            self._log.append(entry)

    def _models_payload(self) -> dict[str, Any]:
        names = self.models if self.models is not None else ["test-model", "test-embedding"]
        data = [{"id": n, "object": "model", "created": 0, "owned_by": "graphrag-lite-test"} for n in names]
        return {"object": "list", "data": data}

    # -- shared request checks ---------------------------------------------------------------------
    @staticmethod
    def _sent_key(handler: _Handler) -> str:
        sent = handler.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return sent or handler.headers.get("api-key", "")

    def _key_note(self, handler: _Handler) -> str:
        return f" (request key: {self._sent_key(handler)})" if self.echo_key_in_errors else ""

    def _reject(self, handler: _Handler, entry: LogEntry) -> bool:
        """Answer 401/404 for a wrong key or unknown model; True when the request was rejected."""
        if self.api_key is not None and self._sent_key(handler) != self.api_key:
            entry.status, entry.error = 401, "bad api key"
            handler.send_error_json(401, "Incorrect API key provided." + self._key_note(handler))
            return True
        if self.models is not None and entry.model not in self.models:
            entry.status, entry.error = 404, "unknown model"
            handler.send_error_json(404, f"The model `{entry.model}` does not exist.")
            return True
        return False

    def _apply_fault(self, handler: _Handler, entry: LogEntry) -> bool:
        """Serve a transport-level fault (429, 500, timeout, drop); True when one was served."""
        retry = {"retry-after-ms": str(self.retry_after_ms)}
        if entry.fault == "429":
            entry.status = 429
            note = self._key_note(handler)
            handler.send_error_json(429, f"Rate limit reached (injected by the test server){note}.", retry)
        elif entry.fault == "500":
            entry.status = 500
            note = self._key_note(handler)
            handler.send_error_json(500, f"Internal error (injected by the test server){note}.", retry)
        elif entry.fault == "timeout":
            self._stop.wait(self.timeout_s)
            handler.hang_up()
        elif entry.fault == "drop":
            handler.hang_up()
        else:
            return False
        return True

    def _pause(self) -> None:
        if self.delay_s > 0:
            self._stop.wait(self.delay_s)

    # -- chat --------------------------------------------------------------------------------------
    def _serve_chat(self, handler: _Handler, path: str, body: dict[str, Any]) -> None:
        messages = [
            {"role": str(m.get("role", "")), "content": _content_text(m.get("content"))}
            for m in body.get("messages") or []
            if isinstance(m, dict)
        ]
        response_format = body.get("response_format") or {}
        json_mode = isinstance(response_format, dict) and response_format.get("type") in (
            "json_object",
            "json_schema",
        )
        stream = bool(body.get("stream"))
        model = str(body.get("model", ""))
        entry = LogEntry(
            path=path, kind=GENERIC_KIND, model=model, messages=messages, json_mode=json_mode, stream=stream
        )
        entry.prompt_tokens = sum(count_tokens(m["content"]) for m in messages)
        entry.cached_tokens = self._cached_prefix_tokens(messages)
        self._record(entry)  # logged on arrival, completed in place
        if self._reject(handler, entry):
            return
        extra: dict[str, object] = {k: body[k] for k in ("temperature", "max_tokens", "stream") if k in body}
        request = ReplyRequest(messages=messages, model=model, json_mode=json_mode, extra=extra)
        found = find_handler(request)
        if found is not None:
            entry.kind = found[0]  # also on faulted requests, so tests can tell what failed
        entry.fault = self._next_fault(request.text, _fingerprint(body))
        self._pause()
        if self._apply_fault(handler, entry):
            return
        try:
            scripted = self._scripted_reply(request.text)
            if scripted is not None:
                text = scripted
            elif found is None:
                text = generic_reply(request)
            else:
                text = found[1](request)
        except Exception as exc:  # a broken reply module must show up in the test, not hang it
            log.exception("test server reply module failed")
            entry.status, entry.error = 500, f"{type(exc).__name__}: {exc}"
            handler.send_error_json(500, f"Reply module failed: {entry.error}", {"x-should-retry": "false"})
            return
        if entry.fault == "empty":
            text = ""
        entry.reply = text
        entry.completion_tokens = count_tokens(text)
        entry.status = 200
        if stream:
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self._send_chat_stream(handler, entry, text, include_usage)
        else:
            self._send_chat_json(handler, entry, text)

    def _completion_id(self, entry: LogEntry) -> str:
        seed = json.dumps(entry.messages, sort_keys=True) + entry.model
        return "chatcmpl-" + hashlib.sha256(seed.encode("utf-8")).hexdigest()[:16]

    def _cached_prefix_tokens(self, messages: list[dict[str, str]]) -> int:
        """Prompt caching as OpenAI does it: the longest prefix shared with an earlier prompt counts as
        cached once it reaches 1,024 tokens, in steps of 128 tokens."""
        prompt = "".join(f"<{m['role']}>{m['content']}" for m in messages)
        if len(prompt) < 2048:  # fewer than 1,024 tokens, surely
            return 0
        with self._lock:
            similar = self._prompts.setdefault(prompt[:512], [])
            shared = max((_shared_length(prompt, seen) for seen in similar), default=0)
            similar.append(prompt)
        tokens = count_tokens(prompt[:shared])
        return tokens // 128 * 128 if tokens >= 1024 else 0

    def _usage(self, entry: LogEntry) -> dict[str, Any]:
        total = entry.prompt_tokens + entry.completion_tokens
        return {
            "prompt_tokens": entry.prompt_tokens,
            "completion_tokens": entry.completion_tokens,
            "total_tokens": total,
            "prompt_tokens_details": {"cached_tokens": entry.cached_tokens},
        }

    def _send_chat_json(self, handler: _Handler, entry: LogEntry, text: str) -> None:
        if entry.fault == "malformed":
            handler.send_body(200, b'{"id": "chatcmpl-broken", "object": "chat.completion", "choices": [{')
            return
        payload = {
            "id": self._completion_id(entry),
            "object": "chat.completion",
            "created": int(entry.timestamp),
            "model": entry.model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": self._usage(entry),
        }
        handler.send_json(200, payload)

    def _send_chat_stream(self, handler: _Handler, entry: LogEntry, text: str, include_usage: bool) -> None:
        base = {
            "id": self._completion_id(entry),
            "object": "chat.completion.chunk",
            "created": int(entry.timestamp),
            "model": entry.model,
        }

        def chunk(delta: dict[str, str], finish: str | None) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            data: dict[str, Any] = {**base, "choices": [choice]}
            if include_usage:
                data["usage"] = None
            return json.dumps(data)

        handler.start_sse()
        handler.send_sse(chunk({"role": "assistant", "content": ""}, None))
        if entry.fault == "malformed":
            handler.send_sse('{"id": "chatcmpl-broken", "choices": [{"delta": ')
        else:
            for piece in _stream_pieces(text):
                handler.send_sse(chunk({"content": piece}, None))
        handler.send_sse(chunk({}, "stop"))
        if include_usage:
            handler.send_sse(json.dumps({**base, "choices": [], "usage": self._usage(entry)}))
        handler.end_sse()

    # -- embeddings --------------------------------------------------------------------------------
    def _serve_embeddings(self, handler: _Handler, path: str, body: dict[str, Any]) -> None:
        raw = body.get("input", [])
        items = raw if isinstance(raw, list) else [raw]
        inputs = [" ".join(map(str, x)) if isinstance(x, list) else str(x) for x in items]
        entry = LogEntry(path=path, kind=EMBEDDINGS_KIND, model=str(body.get("model", "")), inputs=inputs)
        entry.prompt_tokens = sum(count_tokens(text) for text in inputs)
        self._record(entry)  # logged on arrival, completed in place
        if self._reject(handler, entry):
            return
        entry.fault = self._next_fault("\n".join(inputs), _fingerprint(body))
        self._pause()
        if self._apply_fault(handler, entry):
            return
        entry.status = 200
        if entry.fault == "malformed":
            handler.send_body(200, b'{"object": "list", "data": [{"embedding": [0.1, ')
            return
        dim = int(body.get("dimensions") or self.dim)
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for index, text in enumerate([] if entry.fault == "empty" else inputs):
            vector = hashed_embedding(text, dim)
            value: Any = vector
            if as_base64:
                value = base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
            data.append({"object": "embedding", "index": index, "embedding": value})
        usage = {"prompt_tokens": entry.prompt_tokens, "total_tokens": entry.prompt_tokens}
        handler.send_json(200, {"object": "list", "data": data, "model": entry.model, "usage": usage})


# -- command line ----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m support.server --port 8765``: serve until Ctrl-C."""
    parser = argparse.ArgumentParser(description="Deterministic OpenAI-compatible test server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--dim", type=int, default=384, help="Embedding dimension.")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="Share of requests given a fault.")
    parser.add_argument("--fault-kinds", default=",".join(FAULT_KINDS), help="Comma-separated fault kinds.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the fault decisions.")
    parser.add_argument(
        "--max-repeats", type=int, default=None, help="At most this many random faults in a row per request."
    )
    parser.add_argument("--delay", type=float, default=0.0, help="Seconds to wait before every reply.")
    args = parser.parse_args(argv)
    kinds = tuple(k.strip() for k in args.fault_kinds.split(",") if k.strip())
    server = TestLLMServer(
        host=args.host,
        port=args.port,
        dim=args.dim,
        delay_s=args.delay,
        faults=FaultPlan(rate=args.fault_rate, kinds=kinds, seed=args.seed, max_repeats=args.max_repeats),
    )
    with server:
        print(f"Test LLM server on {server.base_url} (Ctrl-C to stop)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
