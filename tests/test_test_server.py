"""The OpenAI-compatible test server, spoken to over raw HTTP (what any client would see)."""

from __future__ import annotations

import base64
import http.client
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support import FaultPlan, TestLLMServer, generic_reply, hashed_embedding
from support.replies import ReplyRequest
from support.replies.echo import VERBATIM_MARKER

from graphrag_lite.models.tokens import count_tokens


def post(server: TestLLMServer, path: str, body: dict[str, Any]) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(
        server.base_url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer any"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return reply.status, reply.read(), dict(reply.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def chat_body(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "test-model", "messages": [{"role": "user", "content": text}], **extra}


def sse_events(raw: bytes) -> list[str]:
    return [line[len("data: ") :] for line in raw.decode().splitlines() if line.startswith("data: ")]


def test_base_url_and_models(llm_server: TestLLMServer) -> None:
    assert llm_server.base_url == f"http://127.0.0.1:{llm_server.port}/v1"
    with urllib.request.urlopen(llm_server.base_url + "/models", timeout=5) as reply:
        names = [m["id"] for m in json.load(reply)["data"]]
    assert names == ["test-model", "test-embedding"]


def test_chat_generic_reply_usage_and_log(llm_server: TestLLMServer) -> None:
    status, raw, _ = post(llm_server, "/chat/completions", chat_body("Who is Bob Cratchit?"))
    assert status == 200
    reply = json.loads(raw)
    text = reply["choices"][0]["message"]["content"]
    expected = generic_reply(ReplyRequest(messages=[{"role": "user", "content": "Who is Bob Cratchit?"}]))
    assert text == expected and text.startswith("Echo [") and text.endswith("Who is Bob Cratchit?")
    assert reply["usage"]["prompt_tokens"] == count_tokens("Who is Bob Cratchit?")
    assert reply["usage"]["completion_tokens"] == count_tokens(text)
    [entry] = llm_server.log
    assert (entry.kind, entry.model, entry.status, entry.fault) == ("generic", "test-model", 200, None)
    assert entry.messages == [{"role": "user", "content": "Who is Bob Cratchit?"}]
    assert entry.reply == text and not entry.json_mode and not entry.stream


def test_json_mode_reply_is_a_json_object(llm_server: TestLLMServer) -> None:
    body = chat_body("List the ghosts", response_format={"type": "json_object"})
    _, raw, _ = post(llm_server, "/chat/completions", body)
    content = json.loads(json.loads(raw)["choices"][0]["message"]["content"])
    assert content["echo"] == "List the ghosts" and len(content["digest"]) == 10
    assert llm_server.log[0].json_mode is True


def test_reply_module_dispatch_verbatim(llm_server: TestLLMServer) -> None:
    _, raw, _ = post(llm_server, "/chat/completions", chat_body(f"{VERBATIM_MARKER} exactly this"))
    assert json.loads(raw)["choices"][0]["message"]["content"] == "exactly this"
    assert llm_server.requests("echo:")[0].reply == "exactly this"
    assert llm_server.requests("generic") == []


def test_streaming_chunks_join_to_the_reply_with_final_usage(llm_server: TestLLMServer) -> None:
    text = "Marley was dead, to begin with. There is no doubt whatever about that."
    body = chat_body(f"{VERBATIM_MARKER}{text}", stream=True, stream_options={"include_usage": True})
    status, raw, headers = post(llm_server, "/chat/completions", body)
    assert status == 200 and headers["Content-Type"] == "text/event-stream"
    events = sse_events(raw)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    deltas = [c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]]
    assert "".join(deltas) == text and len([d for d in deltas if d]) == len(text.split())
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == count_tokens(text)
    assert llm_server.log[0].stream is True


def test_streaming_without_include_usage_has_no_usage_chunk(llm_server: TestLLMServer) -> None:
    _, raw, _ = post(llm_server, "/chat/completions", chat_body("hi", stream=True))
    chunks = [json.loads(e) for e in sse_events(raw)[:-1]]
    assert all(c["choices"] and "usage" not in c for c in chunks)


def test_embeddings_are_unit_hashed_word_vectors(llm_server: TestLLMServer) -> None:
    texts = ["Scrooge counts his money", "Scrooge hoards money", "Rain falls on Paris"]
    _, raw, _ = post(llm_server, "/embeddings", {"model": "test-embedding", "input": texts})
    reply = json.loads(raw)
    vectors = np.array([d["embedding"] for d in reply["data"]])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert vectors[0] @ vectors[1] > 0.4 > abs(vectors[0] @ vectors[2])
    assert np.allclose(vectors[1], hashed_embedding(texts[1]))
    assert reply["usage"]["prompt_tokens"] == sum(count_tokens(t) for t in texts)
    assert llm_server.requests("embeddings")[0].inputs == texts


def test_embeddings_dimensions_and_base64(llm_server: TestLLMServer) -> None:
    body = {"model": "e", "input": "one text", "dimensions": 16, "encoding_format": "base64"}
    _, raw, _ = post(llm_server, "/embeddings", body)
    encoded = json.loads(raw)["data"][0]["embedding"]
    vector = np.frombuffer(base64.b64decode(encoded), dtype="<f4")
    assert vector.shape == (16,) and np.allclose(vector, hashed_embedding("one text", 16), atol=1e-6)


def test_fault_plan_is_deterministic_and_respects_rate_and_kinds() -> None:
    plan = FaultPlan(rate=0.3, kinds=("429", "drop"), seed=7)
    decisions = [plan.decide(i) for i in range(2000)]
    assert decisions == [FaultPlan(rate=0.3, kinds=("429", "drop"), seed=7).decide(i) for i in range(2000)]
    assert decisions != [FaultPlan(rate=0.3, kinds=("429", "drop"), seed=8).decide(i) for i in range(2000)]
    share = sum(d is not None for d in decisions) / len(decisions)
    assert 0.25 < share < 0.35
    assert {d for d in decisions if d} == {"429", "drop"}
    assert FaultPlan().decide(0) is None
    with pytest.raises(ValueError, match="Unknown fault kinds"):
        FaultPlan(kinds=("boom",))


def test_random_faults_follow_the_seed_over_http() -> None:
    def statuses() -> list[int | None]:
        with TestLLMServer(faults=FaultPlan(rate=0.5, kinds=("429", "500"), seed=3)) as srv:
            for i in range(12):
                post(srv, "/chat/completions", chat_body(f"q{i}"))
            return [e.status for e in srv.log]

    first = statuses()
    assert first == statuses()
    assert {429, 500, 200} <= set(first)


def test_scripted_429_then_success(llm_server: TestLLMServer) -> None:
    llm_server.fail_next("429")
    status, raw, headers = post(llm_server, "/chat/completions", chat_body("hi"))
    assert status == 429 and headers["retry-after-ms"] == "10"
    assert json.loads(raw)["error"]["type"] == "rate_limit_error"
    assert post(llm_server, "/chat/completions", chat_body("hi"))[0] == 200
    assert [(e.fault, e.status) for e in llm_server.log] == [("429", 429), (None, 200)]


def test_drop_closes_without_reply_and_malformed_and_empty(llm_server: TestLLMServer) -> None:
    llm_server.fail_next("drop")
    connection = http.client.HTTPConnection("127.0.0.1", llm_server.port, timeout=5)
    connection.request("POST", "/v1/chat/completions", json.dumps(chat_body("x")))
    with pytest.raises(http.client.RemoteDisconnected):
        connection.getresponse()
    connection.close()
    llm_server.fail_next("malformed")
    status, raw, _ = post(llm_server, "/chat/completions", chat_body("x"))
    assert status == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)
    llm_server.fail_next("empty")
    _, raw, _ = post(llm_server, "/chat/completions", chat_body("x"))
    assert json.loads(raw)["choices"][0]["message"]["content"] == ""
    assert [e.fault for e in llm_server.log] == ["drop", "malformed", "empty"]
    assert llm_server.log[0].status is None


def test_timeout_fault_holds_the_request_then_hangs_up() -> None:
    with TestLLMServer(timeout_s=0.5) as srv:
        srv.fail_next("timeout")
        connection = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=0.2)
        connection.request("POST", "/v1/chat/completions", json.dumps(chat_body("x")))
        with pytest.raises(TimeoutError):
            connection.getresponse()
        connection.close()
        assert srv.log[0].fault == "timeout"


def test_api_key_and_model_checks() -> None:
    with TestLLMServer(api_key="right", models=["test-model"]) as srv:
        status, raw, _ = post(srv, "/chat/completions", chat_body("x"))  # sends "Bearer any"
        assert status == 401 and "API key" in json.loads(raw)["error"]["message"]
        srv.api_key = None
        status, raw, _ = post(srv, "/chat/completions", {**chat_body("x"), "model": "gpt-9"})
        assert status == 404 and "gpt-9" in json.loads(raw)["error"]["message"]


def test_max_in_flight_counts_concurrent_requests() -> None:
    with TestLLMServer(delay_s=1.0) as srv:
        threads = [
            threading.Thread(target=post, args=(srv, "/chat/completions", chat_body(str(i))))
            for i in range(3)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert srv.max_in_flight == 3 and srv.max_connections >= 3
        srv.wait_idle()
        srv.clear_log()
        assert srv.log == [] and srv.max_in_flight == 0


def test_odd_requests_get_clear_answers(llm_server: TestLLMServer) -> None:
    status, raw, _ = post(llm_server, "/chat/completions", {"model": "m", "messages": "not a list"})
    assert status == 200 and json.loads(raw)["choices"][0]["message"]["content"].startswith("Echo [")
    assert post(llm_server, "/nope", {})[0] == 404


def test_command_line_serves_until_stopped() -> None:
    with TestLLMServer() as probe:
        port = probe.port  # a port that was free a moment ago
    process = subprocess.Popen(
        [sys.executable, "-m", "support.server", "--port", str(port), "--fault-rate", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert f"http://127.0.0.1:{port}/v1" in line
        deadline = time.time() + 5
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2) as reply:
                    assert reply.status == 200
                    break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(timeout=5)
