"""The model layer over real HTTP to the local test server: chat, streaming, retries, cache, secrets, limits,
and the offline MiniLM embedder."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import TEST_API_KEY, llm_settings
from support import TestLLMServer, generic_reply, hashed_embedding
from support.replies import ReplyRequest
from support.replies.echo import VERBATIM_MARKER

from graphrag_lite.config.settings import Settings
from graphrag_lite.errors import EmbeddingError, LLMError
from graphrag_lite.models.base import ChatModel, Embedder, UsageMeter, usage_scope
from graphrag_lite.models.cache import SQLiteCache, chat_cache_key
from graphrag_lite.models.embeddings import AutoMiniLMEmbedder, CachedEmbedder, TorchMiniLMEmbedder
from graphrag_lite.models.factory import create_chat, create_embedder, open_caches
from graphrag_lite.models.openai_chat import OpenAIChat
from graphrag_lite.models.openai_embeddings import OpenAIEmbedder
from graphrag_lite.models.tokens import count_tokens

QUESTION = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Who is Marley?"}]


def make_chat(server: TestLLMServer, tmp_path: Path, **llm: object) -> tuple[OpenAIChat, UsageMeter]:
    settings = llm_settings(server, tmp_path, **llm)
    meter = UsageMeter()
    chat = OpenAIChat(settings.llm, open_caches(settings).chat, meter, bad_reply_backoff_s=0.01)
    return chat, meter


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


# -- chat ---------------------------------------------------------------------------------------------------


async def test_chat_returns_the_server_reply_and_records_usage(
    llm_server: TestLLMServer, tmp_path: Path
) -> None:
    chat, meter = make_chat(llm_server, tmp_path)
    assert isinstance(chat, ChatModel)
    with usage_scope("query:test"):
        response = await chat.chat(QUESTION)
    assert response.text == generic_reply(ReplyRequest(messages=QUESTION))
    assert response.prompt_tokens == count_tokens("You are terse.") + count_tokens("Who is Marley?")
    assert response.completion_tokens == count_tokens(response.text) and not response.cached
    usage = meter.get("query:test")
    assert (usage.llm_calls, usage.cache_hits, usage.retries, usage.failures) == (1, 0, 0, 0)
    assert usage.prompt_tokens == response.prompt_tokens
    [entry] = llm_server.log
    assert entry.messages == QUESTION and entry.model == "test-model" and not entry.json_mode


async def test_json_mode_sends_response_format(llm_server: TestLLMServer, tmp_path: Path) -> None:
    chat, _ = make_chat(llm_server, tmp_path)
    response = await chat.chat(user("Name the ghosts"), json_mode=True)
    assert json.loads(response.text)["echo"] == "Name the ghosts"
    assert llm_server.log[0].json_mode is True


async def test_streaming_yields_deltas_then_replays_from_cache(
    llm_server: TestLLMServer, tmp_path: Path
) -> None:
    chat, meter = make_chat(llm_server, tmp_path)
    text = "God bless us, every one! said Tiny Tim."
    deltas = [d async for d in chat.stream(user(f"{VERBATIM_MARKER}{text}"))]
    assert "".join(deltas) == text and len(deltas) == len(text.split())
    assert meter.total().completion_tokens == count_tokens(text)
    replay = [d async for d in chat.stream(user(f"{VERBATIM_MARKER}{text}"))]
    assert replay == [text]
    assert len(llm_server.log) == 1 and llm_server.log[0].stream
    assert (meter.total().llm_calls, meter.total().cache_hits) == (1, 1)
    # chat() and stream() share cache rows: same request, same answer
    assert (await chat.chat(user(f"{VERBATIM_MARKER}{text}"))).cached


@pytest.mark.parametrize("faults", [["429"], ["500"], ["429", "500"]])
async def test_rate_limits_and_server_errors_are_retried(
    llm_server: TestLLMServer, tmp_path: Path, faults: list[str]
) -> None:
    chat, meter = make_chat(llm_server, tmp_path)
    for kind in faults:
        llm_server.fail_next(kind)
    response = await chat.chat(QUESTION)
    assert response.text.startswith("Echo [")
    assert [e.status for e in llm_server.log] == [int(k) for k in faults] + [200]
    assert meter.total().retries == len(faults) and meter.total().failures == 0


@pytest.mark.parametrize("kind", ["timeout", "drop"])
async def test_timeouts_and_dropped_connections_are_retried(tmp_path: Path, kind: str) -> None:
    with TestLLMServer(timeout_s=3.0) as srv:
        chat, meter = make_chat(srv, tmp_path, request_timeout=1.0)
        srv.fail_next(kind)
        started = time.monotonic()
        response = await chat.chat(QUESTION)
        assert response.text.startswith("Echo [") and time.monotonic() - started < 2.9
        assert [e.fault for e in srv.log] == [kind, None]
        assert meter.total().retries == 1


@pytest.mark.parametrize("kind", ["malformed", "empty"])
async def test_malformed_and_empty_replies_are_retried(
    llm_server: TestLLMServer, tmp_path: Path, kind: str
) -> None:
    chat, meter = make_chat(llm_server, tmp_path)
    llm_server.fail_next(kind, 2)
    assert (await chat.chat(QUESTION)).text.startswith("Echo [")
    assert [e.fault for e in llm_server.log] == [kind, kind, None]
    assert meter.total().retries == 2
    llm_server.fail_next(kind)
    deltas = [d async for d in chat.stream(user("stream after a bad reply"))]
    assert "".join(deltas).startswith("Echo [")


async def test_exhausted_retries_raise_llm_error_that_names_what_to_check(
    llm_server: TestLLMServer, tmp_path: Path
) -> None:
    chat, meter = make_chat(llm_server, tmp_path, max_retries=2)
    llm_server.fail_next("500", 3)
    with pytest.raises(LLMError) as caught:
        await chat.chat(QUESTION)
    message = str(caught.value)
    assert llm_server.base_url in message and "HTTP 500" in message and "2 retries" in message
    assert (meter.total().failures, meter.total().retries, len(llm_server.log)) == (1, 2, 3)
    llm_server.fail_next("empty", 3)
    with pytest.raises(LLMError, match="empty reply 3 time"):
        await chat.chat(user("never answered"))


# -- cache --------------------------------------------------------------------------------------------------


async def test_repeated_call_is_served_from_the_persistent_cache(
    llm_server: TestLLMServer, tmp_path: Path
) -> None:
    chat, meter = make_chat(llm_server, tmp_path)
    first = await chat.chat(QUESTION, json_mode=True)
    second = await chat.chat(QUESTION, json_mode=True)
    assert second.text == first.text and second.cached and not first.cached
    assert second.prompt_tokens == first.prompt_tokens
    assert len(llm_server.log) == 1
    assert (meter.total().llm_calls, meter.total().cache_hits) == (1, 1)
    fresh, _ = make_chat(llm_server, tmp_path)  # a new process would see the same file
    assert (await fresh.chat(QUESTION, json_mode=True)).cached
    await chat.chat(QUESTION, json_mode=False)
    await chat.chat(QUESTION, json_mode=True, temperature=0.7)
    assert len(llm_server.log) == 3
    assert (tmp_path / "cache" / "llm.sqlite").is_file()


async def test_disabled_cache_never_hits_and_never_writes(llm_server: TestLLMServer, tmp_path: Path) -> None:
    settings = llm_settings(llm_server, tmp_path)
    settings.cache.enabled = False
    chat = create_chat(settings, UsageMeter())
    assert chat is not None
    await chat.chat(QUESTION)
    await chat.chat(QUESTION)
    assert len(llm_server.log) == 2
    assert not (tmp_path / "cache").exists()


def test_chat_cache_key_ignores_secrets_and_tracks_generation_params() -> None:
    base = {"temperature": 0.0, "max_tokens": 100, "json_mode": False}
    key = chat_cache_key("m", QUESTION, base)
    assert key == chat_cache_key("m", QUESTION, {**base, "api_key": "sk-other", "base_url": "http://x"})
    assert key == chat_cache_key("m", QUESTION, {**base, "seed": None})
    assert key == chat_cache_key("m", QUESTION, dict(reversed(base.items())))
    different = [
        chat_cache_key("m", QUESTION, {**base, "temperature": 0.5}),
        chat_cache_key("m", QUESTION, {**base, "json_mode": True}),
        chat_cache_key("m", QUESTION, {**base, "max_tokens": 101}),
        chat_cache_key("other-model", QUESTION, base),
        chat_cache_key("m", QUESTION[1:], base),
    ]
    assert key not in different and len(set(different)) == len(different)
    assert len(key) == 64 and "sk-" not in key


def test_sqlite_cache_is_safe_across_threads_and_persistent(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    cache = SQLiteCache(path)

    def writer(worker: int) -> None:
        for i in range(100):
            cache.set_many_sync([(f"{worker}:{i}", f"value {worker} {i}")])
            assert cache.get_many_sync([f"{worker}:{i}"]) == {f"{worker}:{i}": f"value {worker} {i}"}

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) == 800 and cache.hits == 800
    cache.set_many_sync([("blob", b"\x00\x01")])
    cache.close()
    reopened = SQLiteCache(path)
    assert reopened.get_many_sync(["3:42", "blob"]) == {"3:42": "value 3 42", "blob": b"\x00\x01"}
    assert reopened.get_many_sync(["missing"]) == {} and reopened.misses == 1
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_sqlite_cache_async_gather_and_disabled(tmp_path: Path) -> None:
    cache = SQLiteCache(tmp_path / "a.sqlite")
    await asyncio.gather(*(cache.set(f"k{i}", f"v{i}") for i in range(50)))
    values = await asyncio.gather(*(cache.get(f"k{i}") for i in range(50)))
    assert values == [f"v{i}" for i in range(50)]
    assert await cache.get_many(["k1", "k2", "nope"]) == {"k1": "v1", "k2": "v2"}
    off = SQLiteCache(tmp_path / "off.sqlite", enabled=False)
    await off.set("k", "v")
    assert await off.get("k") is None and off.misses == 1
    assert not (tmp_path / "off.sqlite").exists()


# -- secrets ------------------------------------------------------------------------------------------------


async def test_api_key_never_leaks_into_files_errors_or_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []
    with TestLLMServer(api_key=TEST_API_KEY, models=["test-model"]) as srv:
        chat, _ = make_chat(srv, tmp_path, max_retries=1)
        assert (await chat.chat(QUESTION)).text.startswith("Echo [")  # the key was sent and accepted
        assert (await chat.chat(QUESTION)).cached
        assert "".join([d async for d in chat.stream(user("stream"))])
        srv.fail_next("500", 2)
        with pytest.raises(LLMError) as caught:
            await chat.chat(user("fails"))
        errors.append(str(caught.value))
        srv.api_key = "a-different-key"
        with pytest.raises(LLMError, match="rejected the API key") as caught:
            await chat.chat(user("unauthorised"))
        errors.append(str(caught.value))
        srv.api_key = TEST_API_KEY
        wrong_model, _ = make_chat(srv, tmp_path, model="gpt-nope", max_retries=0)
        with pytest.raises(LLMError, match="gpt-nope") as caught:
            await wrong_model.chat(QUESTION)
        errors.append(str(caught.value))
        closed = llm_settings(srv, tmp_path, max_retries=0)  # points at the server stopped below
    with pytest.raises(LLMError, match="cannot connect") as caught:
        await OpenAIChat(closed.llm, None, UsageMeter()).chat(QUESTION)
    errors.append(str(caught.value))
    assert all(TEST_API_KEY not in e for e in errors) and len(errors) == 4
    assert "404" in errors[2] and "llm.api_base" in errors[3]
    assert caplog.records and not [r for r in caplog.records if TEST_API_KEY in r.getMessage()]
    assert TEST_API_KEY not in repr(chat)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "llm.sqlite" for p in files)
    assert not [p for p in files if TEST_API_KEY.encode() in p.read_bytes()]


# -- concurrency, Azure, event loops ------------------------------------------------------------------------


async def test_concurrency_cap_is_respected(tmp_path: Path) -> None:
    with TestLLMServer(delay_s=0.2) as srv:
        chat, meter = make_chat(srv, tmp_path, concurrency=2)
        started = time.monotonic()
        with usage_scope("burst"):
            replies = await asyncio.gather(*(chat.chat(user(f"question {i}")) for i in range(6)))
        assert srv.max_in_flight == 2
        assert time.monotonic() - started >= 0.55
        assert [r.text for r in replies] == [
            generic_reply(ReplyRequest(user(f"question {i}"))) for i in range(6)
        ]
        assert meter.get("burst").llm_calls == 6


async def test_failed_calls_release_their_concurrency_slot(llm_server: TestLLMServer, tmp_path: Path) -> None:
    chat, _ = make_chat(llm_server, tmp_path, concurrency=1, max_retries=0)
    llm_server.fail_next("500", 3)
    for i in range(3):
        with pytest.raises(LLMError):
            await chat.chat(user(f"fail {i}"))
    assert (await asyncio.wait_for(chat.chat(QUESTION), timeout=2)).text.startswith("Echo [")


async def test_stream_closed_early_releases_its_slot(llm_server: TestLLMServer, tmp_path: Path) -> None:
    chat, meter = make_chat(llm_server, tmp_path, concurrency=1)
    async with contextlib.aclosing(chat.stream(user("a long enough question to stream"))) as deltas:
        async for first in deltas:
            assert first == "Echo "
            break
    assert (await asyncio.wait_for(chat.chat(QUESTION), timeout=2)).text.startswith("Echo [")
    assert meter.total().llm_calls == 2 and meter.total().failures == 0


async def test_client_side_rate_caps_let_calls_through(llm_server: TestLLMServer, tmp_path: Path) -> None:
    chat, _ = make_chat(llm_server, tmp_path, requests_per_minute=1, tokens_per_minute=5)
    response = await asyncio.wait_for(chat.chat(QUESTION), timeout=2)  # a prompt over the cap is clamped
    assert response.prompt_tokens > 5 and len(llm_server.log) == 1


async def test_azure_mode_uses_deployment_paths(llm_server: TestLLMServer, tmp_path: Path) -> None:
    chat, _ = make_chat(llm_server, tmp_path, api_base=llm_server.root_url, api_version="2024-06-01")
    assert (await chat.chat(QUESTION)).text.startswith("Echo [")
    assert llm_server.log[0].path == "/openai/deployments/test-model/chat/completions"


def test_one_chat_model_serves_several_event_loops(llm_server: TestLLMServer, tmp_path: Path) -> None:
    chat, meter = make_chat(llm_server, tmp_path, concurrency=1)
    for i in range(3):  # e.g. sync wrappers calling asyncio.run repeatedly
        assert asyncio.run(chat.chat(user(f"loop {i}"))).text.endswith(f"loop {i}")
    assert meter.total().llm_calls == 3


def test_factory_no_llm_configured_returns_none(tmp_path: Path) -> None:
    assert create_chat(Settings.model_validate({"root": tmp_path}), UsageMeter()) is None


# -- embeddings ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def minilm() -> TorchMiniLMEmbedder:
    return TorchMiniLMEmbedder()


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


async def test_minilm_gives_unit_vectors_with_meaningful_similarity(minilm: TorchMiniLMEmbedder) -> None:
    assert isinstance(minilm, Embedder) and minilm.dim == 384
    vectors = await minilm.embed(
        ["Scrooge is a miser", "Ebenezer Scrooge hoards money", "The weather in Paris"]
    )
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    assert (await minilm.embed([])).shape == (0, 384)


async def test_minilm_windows_long_text_instead_of_truncating(minilm: TorchMiniLMEmbedder) -> None:
    money = "Scrooge counted his coins and ledgers in the cold counting-house, refusing every debt. " * 20
    weather = "Rain and thunderstorms swept across Paris while the weather forecast warned of floods. " * 20
    long_text = money + weather
    windows = minilm.windows(long_text)
    assert len(windows) >= 3 and all(n <= 248 for _, n in windows)
    assert "".join(w for w, _ in windows).replace(" ", "") == long_text.replace(" ", "")
    full, first, storm = await minilm.embed([long_text, windows[0][0], "Thunderstorms and floods in Paris"])
    assert cosine(full, first) < 0.95  # the later windows count
    assert cosine(full, storm) > cosine(first, storm) + 0.1  # the weather half is not cut off
    assert abs(float(np.linalg.norm(full)) - 1.0) < 1e-5


async def test_embedding_cache_hits_skip_the_model(minilm: TorchMiniLMEmbedder, tmp_path: Path) -> None:
    cache = SQLiteCache(tmp_path / "embeddings.sqlite")
    cached = CachedEmbedder(minilm, cache)
    first = await cached.embed(["Bob Cratchit", "Tiny Tim", "Bob Cratchit"])
    assert cache.misses == 2 and cache.hits == 0
    again = await cached.embed(["Tiny Tim", "Bob Cratchit"])
    assert cache.hits == 2 and np.allclose(again, first[[1, 0]])
    assert np.allclose(first[0], first[2])


async def test_openai_embedder_over_the_test_server(llm_server: TestLLMServer, tmp_path: Path) -> None:
    settings = llm_settings(llm_server, tmp_path)
    settings.embeddings.provider = "openai"
    settings.embeddings.model = "test-embedding"
    settings.embeddings.batch_size = 2
    meter = UsageMeter()
    embedder = create_embedder(settings, meter)
    assert isinstance(embedder, CachedEmbedder) and isinstance(embedder.inner, OpenAIEmbedder)
    texts = ["Scrooge hoards money", "Scrooge counts money", "rain in Paris", "fog in London", "Marley"]
    llm_server.fail_next("429")
    with usage_scope("embed"):
        vectors = await embedder.embed(texts)
    assert vectors.shape == (5, 384) and embedder.dim == 384
    assert np.allclose(vectors, np.array([hashed_embedding(t) for t in texts]), atol=1e-6)
    calls = llm_server.requests("embeddings")
    assert sorted(len(e.inputs) for e in calls if e.status == 200) == [1, 2, 2]
    assert meter.get("embed").llm_calls == 3 and meter.get("embed").retries == 1
    with usage_scope("embed"):
        await embedder.embed(texts[:2])  # cached
    assert len(llm_server.requests("embeddings")) == len(calls)
    assert meter.get("embed").cache_hits == 2


@pytest.mark.parametrize("kind", ["malformed", "empty"])
async def test_openai_embedder_retries_unusable_replies_then_names_the_problem(
    llm_server: TestLLMServer, tmp_path: Path, kind: str
) -> None:
    settings = llm_settings(llm_server, tmp_path, max_retries=2)
    settings.embeddings.model = "test-embedding"
    meter = UsageMeter()
    embedder = OpenAIEmbedder(settings.embeddings, settings.llm, meter)
    llm_server.fail_next(kind, 2)
    vectors = await embedder.embed(["Marley was dead"])
    assert np.allclose(vectors[0], hashed_embedding("Marley was dead"), atol=1e-6)
    assert (meter.total().llm_calls, meter.total().retries, meter.total().failures) == (1, 2, 0)
    llm_server.fail_next(kind, 3)
    problem = "malformed" if kind == "malformed" else "0 vectors for 1 inputs"
    with pytest.raises(EmbeddingError, match=f"{problem}.* 3 time"):
        await embedder.embed(["Scrooge"])
    assert (meter.total().retries, meter.total().failures) == (4, 1)
    await embedder.aclose()


async def test_create_embedder_local_default(tmp_path: Path) -> None:
    settings = Settings.model_validate({"root": tmp_path})
    embedder = create_embedder(settings)
    assert isinstance(embedder, CachedEmbedder) and isinstance(embedder.inner, AutoMiniLMEmbedder)
    assert (await embedder.embed(["Marley's ghost"])).shape == (1, 384)
    assert (tmp_path / "cache" / "embeddings.sqlite").is_file()


def test_fair_lock_serves_waiters_in_arrival_order() -> None:
    import threading
    import time

    from graphrag_lite.models.fair_lock import FairLock

    lock = FairLock()
    order: list[int] = []
    threads = []
    with lock:  # everyone queues behind the holder
        for number in range(6):
            thread = threading.Thread(
                target=lambda n=number: (lock.__enter__(), order.append(n), lock.__exit__(None, None, None))
            )
            thread.start()
            threads.append(thread)
            deadline = time.monotonic() + 30
            while lock._next_ticket < number + 2 and time.monotonic() < deadline:  # it has taken its ticket
                time.sleep(0.001)
    for thread in threads:
        thread.join(timeout=30)
    assert order == list(range(6))
