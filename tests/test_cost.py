"""Cost: the estimate before indexing, the spending cap of a run, prices (over HTTP to the test server)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from conftest import TEST_API_KEY
from support.projects import write_project
from support.server import TestLLMServer
from typer.testing import CliRunner

from graphrag_lite.api.facade import GraphRAG
from graphrag_lite.cli.main import app
from graphrag_lite.config.settings import PriceSettings
from graphrag_lite.errors import CapReached
from graphrag_lite.models.base import Usage
from graphrag_lite.models.budget import SpendingCap, capped, current_cap
from graphrag_lite.store.atomic import read_json
from graphrag_lite.store.tables import read_records

CAROL = (Path(__file__).parent / "data" / "carol_excerpt.txt").read_text(encoding="utf-8")
TEXT = " ".join(CAROL.split()[:2600])  # about 3,500 tokens: three or four text units
runner = CliRunner()


def _settings(server: TestLLMServer, extra: str = "") -> str:
    return (
        f"llm:\n  api_base: {server.base_url}\n  model: test-model\n  request_timeout: 5\n"
        "  price: {input_per_1m: 0.15, output_per_1m: 0.6}\n" + extra
    )


def _sent(server: TestLLMServer) -> list[str]:
    """Every chat request the server answered, as its message text (one entry per request)."""
    return [json.dumps(e.messages) for e in server.log if e.path.endswith("/chat/completions")]


def test_prices_count_cached_prompt_tokens_at_their_own_price() -> None:
    price = PriceSettings(input_per_1m=2.0, output_per_1m=8.0, cached_input_per_1m=0.5)
    assert price.cost(1_000_000, 0) == pytest.approx(2.0)
    assert price.cost(1_000_000, 500_000, cached_prompt_tokens=400_000) == pytest.approx(1.2 + 0.2 + 4.0)
    assert not PriceSettings().is_set and PriceSettings().cost(10, 10) == 0


@pytest.mark.slow
def test_estimate_forecasts_the_run_and_learns_from_it(
    llm_server: TestLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRAPHRAG_API_KEY", TEST_API_KEY)
    root = write_project(tmp_path, {"carol.txt": TEXT}, _settings(llm_server))
    shown = runner.invoke(app, ["index", "--root", str(root), "--method", "standard", "--estimate"])
    assert shown.exit_code == 0, shown.output
    assert "prompt tokens" in shown.output and "default ratios" in shown.output
    assert not _sent(llm_server) and not (root / "output" / "stats.json").exists()  # nothing was run
    with GraphRAG(root) as rag:
        before = rag.estimate("standard")
        rag.index(method="standard")
        after = rag.estimate("standard")
    steps = read_json(root / "output" / "stats.json", {})["steps"]
    actual = sum(s.get("prompt_tokens", 0) for s in steps.values())
    assert before.prompt_tokens > 0 and before.cost is not None and before.cost > 0
    assert abs(before.prompt_tokens / actual - 1) < 0.35  # default ratios, a small text
    # The next estimate of the same input uses this run's ratios: close to what it spent.
    assert {s.basis for s in after.steps} == {"this project's last run"}
    assert abs(after.prompt_tokens / actual - 1) < 0.02
    assert after.calls == sum(s.get("llm_calls", 0) for s in steps.values())


@pytest.mark.slow
def test_a_capped_run_stops_cleanly_and_the_next_run_sends_only_what_is_left(
    llm_server: TestLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRAPHRAG_API_KEY", TEST_API_KEY)
    root = write_project(tmp_path, {"carol.txt": TEXT}, _settings(llm_server, "  max_prompt_tokens: 4000\n"))
    capped = runner.invoke(app, ["index", "--root", str(root), "--method", "standard"])
    assert capped.exit_code != 0
    assert "spending cap" in capped.output and "llm.max_prompt_tokens 4,000" in capped.output
    assert "steps not run" in capped.output and "run the same command again" in capped.output
    first = _sent(llm_server)
    assert first, "some requests went out before the cap"
    stats = read_json(root / "output" / "stats.json", {})
    assert sum(s.get("prompt_tokens", 0) for s in stats["steps"].values()) <= 4000
    for name in ("documents",):  # what was written is whole
        assert read_records(root / "output", name)

    write_project(root, {"carol.txt": TEXT}, _settings(llm_server))  # no cap
    done = runner.invoke(app, ["index", "--root", str(root), "--method", "standard"])
    assert done.exit_code == 0, done.output
    again = _sent(llm_server)[len(first) :]
    assert again and not set(again) & set(first)  # nothing finished was sent twice
    steps = read_json(root / "output" / "stats.json", {})["steps"]
    assert sum(s.get("cache_hits", 0) for s in steps.values()) > 0  # finished requests came from the cache
    assert read_records(root / "output", "community_reports")


@pytest.mark.slow
def test_a_query_over_its_cap_fails_with_what_it_spent(
    llm_server: TestLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRAPHRAG_API_KEY", TEST_API_KEY)
    root = write_project(tmp_path, {"carol.txt": " ".join(TEXT.split()[:400])}, _settings(llm_server))
    with GraphRAG(root) as rag:
        rag.index(method="fast")
    result = runner.invoke(
        app, ["query", "Who is Scrooge?", "--root", str(root), "--method", "basic", "--max-cost", "0.0000001"]
    )
    assert result.exit_code != 0
    assert "spending cap" in result.output and "llm.max_cost 1e-07" in result.output
    assert not _sent(llm_server)  # the one call would have passed the cap: it was never sent


async def test_concurrent_runs_keep_their_own_caps() -> None:
    small, large = SpendingCap(None, 100, PriceSettings()), SpendingCap(None, 1000, PriceSettings())

    async def spend(cap: SpendingCap, tokens: int) -> SpendingCap | None:
        with capped(cap):
            await asyncio.sleep(0)  # the other run's task runs in between
            current = current_cap()
            assert current is not None
            current.reserve(tokens, 0)
            current.release(tokens, 0, Usage(llm_calls=1, prompt_tokens=tokens))
            return current_cap()

    assert await asyncio.gather(spend(small, 80), spend(large, 800)) == [small, large]
    assert (small.spent().prompt_tokens, large.spent().prompt_tokens) == (80, 800)
    assert current_cap() is None
    with pytest.raises(CapReached, match=r"spending cap reached: sent 80 of llm\.max_prompt_tokens 100"):
        small.reserve(30, 0)
    large.reserve(30, 0)  # the other run still has room
