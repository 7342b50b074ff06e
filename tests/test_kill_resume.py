"""Kill `graphrag-lite index` and `update` (SIGKILL) at ten points, resume, and compare.

One project is indexed without interruption; a second one is killed in extraction, description summaries,
clustering, community reports and embeddings, resumed after each kill, and finally run to the end. Its
tables must be byte-identical to the uninterrupted ones, no request whose reply was cached may be sent
again, and no file visible under its real name may ever be partial. The same holds for an update (one
document changed, one deleted, one added) killed five more times, each after a seeded random number of
answered requests.
"""

from __future__ import annotations

import itertools
import signal
from pathlib import Path

from conftest import TEST_API_KEY, TEST_MODEL
from support.kill import (
    ANYWHERE,
    STEP_REQUESTS,
    Attempt,
    KillPoint,
    KillResumeHarness,
    cache_keys,
    file_digests,
    read_stats,
    request_cache_keys,
    resent_after_cached,
    unreadable_files,
    vector_rows,
)
from support.server import TestLLMServer

EXCERPT = Path(__file__).parent / "data" / "carol_excerpt.txt"
ENV = {"GRAPHRAG_API_KEY": TEST_API_KEY, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
CONCURRENCY = 2
DELAY_S = 0.15  # per request: LLM and embedding steps last long enough to be killed in the middle
SETTLE_S = 1.5  # a reply received this long before a kill has surely been written to the cache
# In workflow order; each resumed run is killed again at the next point.
POINTS = (
    KillPoint("extract_graph", after_requests=4),
    KillPoint("summarize_descriptions", after_requests=4),
    KillPoint("create_communities"),
    KillPoint("community_reports", after_requests=3),
    KillPoint("embed", after_requests=2),
)
# What a killed process may leave: temporary files of atomic writes. Planted ones must be ignored too.
PLANTED = {
    ".entities.parquet.planted.tmp": b"PAR1 half a file",
    "work/.entities.parquet.planted.tmp": b"PAR1",
    ".stats.json.planted.tmp": b'{"workflow": "standard", "steps": {"extract_graph": {',
}


def _documents(text: str, parts: int = 3) -> list[str]:
    """``text`` cut into ``parts`` documents at blank lines near equal line counts."""
    lines = text.splitlines(keepends=True)
    cuts, start = [], 0
    for i in range(1, parts):
        cut = max(start + 1, len(lines) * i // parts)
        while cut < len(lines) and lines[cut].strip():
            cut += 1
        cuts.append(cut)
        start = cut
    bounds = [0, *cuts, len(lines)]
    return ["".join(lines[a:b]) for a, b in itertools.pairwise(bounds)]


def _project(root: Path, server: TestLLMServer) -> Path:
    (root / "input").mkdir(parents=True)
    for i, text in enumerate(_documents(EXCERPT.read_text(encoding="utf-8"))):
        (root / "input" / f"carol-{i + 1}.txt").write_text(text, encoding="utf-8")
    (root / "settings.yaml").write_text(
        f"llm:\n  api_base: {server.base_url}\n  model: {TEST_MODEL}\n  request_timeout: 5\n"
        f"  max_retries: 3\n  concurrency: {CONCURRENCY}\n"
        "embeddings:\n  provider: openai\n  model: test-embedding\n  batch_size: 16\n  concurrency: 1\n"
    )
    return root


def _describe(attempts: list[Attempt]) -> str:
    rows = [
        f"- {a.target or '(to the end)'} -> landed {a.landed or '-'}, rc {a.returncode}, {a.seconds:.1f} s, "
        f"{a.answered(a.landed) if a.landed else '-'} of its requests answered, "
        f"communities.parquet {'present' if 'communities.parquet' in a.tables else 'absent'}, "
        f"vectors {'complete' if a.vectors_complete else 'incomplete'}, temp files {a.temp_files}"
        for a in attempts
    ]
    return "\n".join(rows)


def test_index_killed_in_every_step_resumes_to_the_uninterrupted_tables(
    llm_server: TestLLMServer, tmp_path: Path
) -> None:
    reference = KillResumeHarness(_project(tmp_path / "reference", llm_server), llm_server, env=ENV)
    done = reference.run()
    assert done.returncode == 0, done.stderr_tail
    ref_requests = {step: done.answered(step) for step in STEP_REQUESTS}
    assert all(ref_requests.values()), ref_requests

    with TestLLMServer(delay_s=DELAY_S) as server:
        root = _project(tmp_path / "killed", server)
        harness = KillResumeHarness(root, server, env=ENV)
        output = harness.output
        for point in POINTS:
            attempt = harness.run(point)
            assert attempt.killed, f"{point} was never reached:\n{attempt.stderr_tail}"
            assert attempt.returncode == -signal.SIGKILL
            # Everything under its real name opens: a kill never exposes a partial file.
            assert not unreadable_files(output), unreadable_files(output)
            if point == POINTS[0]:
                for name, data in PLANTED.items():
                    (output / name).write_bytes(data)
        final = harness.run()
        attempts = harness.attempts
        assert final.returncode == 0, final.stderr_tail

        landed = [a.landed for a in attempts if a.killed]
        assert len(set(landed)) >= 5, f"kills landed in too few steps:\n{_describe(attempts)}"
        assert {p.step for p in POINTS} <= set(landed), _describe(attempts)
        for attempt, point in zip(attempts, POINTS, strict=False):  # the last attempt is not a kill
            # A kill in a step that calls the server came after some of its replies, not before the step.
            if point.step in STEP_REQUESTS and attempt.landed == point.step:
                assert attempt.answered(point.step) >= point.after_requests, _describe(attempts)

        # The same tables, byte for byte, and the same vectors as the uninterrupted run.
        assert file_digests(output) == file_digests(reference.output)
        assert vector_rows(output / "lancedb") == vector_rows(reference.output / "lancedb")
        stats, ref_stats = read_stats(output), read_stats(reference.output)
        for step in harness.steps:
            assert stats["steps"][step]["key"] == ref_stats["steps"][step]["key"], step
            assert stats["steps"][step]["rows"] == ref_stats["steps"][step]["rows"], step
            assert not stats["steps"][step]["failures"], step

        # No request is sent again once its reply is in the cache (chat and embeddings, every step).
        settings = harness.settings
        for attempt in attempts:
            resent = resent_after_cached(attempt, settings)
            assert not resent, f"{attempt.target}: cached requests sent again: {resent}"
        # ... and that check sees the cache: replies received well before a kill were stored by then.
        settled_total = 0
        for attempt, after in itertools.pairwise(attempts):
            assert attempt.killed_at is not None
            settled = [
                e
                for e in attempt.requests
                if e.status == 200 and e.timestamp + DELAY_S + SETTLE_S < attempt.killed_at
            ]
            stored = after.chat_keys_before | after.embedding_keys_before
            missing = [e.kind for e in settled if not set(request_cache_keys(e, settings)) <= stored]
            assert not missing, f"replies received before the kill in {attempt.landed} not cached: {missing}"
            settled_total += len(settled)
        assert settled_total > 0
        # At most the requests in flight at the kill are asked twice.
        sent = sum(1 for a in attempts for e in a.requests if STEP_REQUESTS["extract_graph"](e))
        assert sent <= ref_requests["extract_graph"] + CONCURRENCY
        assert len(cache_keys(root / "cache" / "llm.sqlite", "chat")) == len(
            cache_keys(reference.cache / "llm.sqlite", "chat")
        )
        print(f"\nkill and resume:\n{_describe(attempts)}")


UPDATE_KILLS = 5
UPDATE_SEED = 23


def _change_inputs(root: Path) -> None:
    """One document changed, one deleted, one added: an update with work in every LLM step."""
    folder = root / "input"
    first = folder / "carol-1.txt"
    first.write_text(first.read_text(encoding="utf-8") + "\nTiny Tim blessed them, every one.\n", "utf-8")
    (folder / "carol-3.txt").unlink()
    (folder / "carol-4.txt").write_text(
        "Fezziwig held a ball at his warehouse. Mrs. Fezziwig danced with him, and Dick Wilkins and "
        "young Ebenezer Scrooge cleared the floor for the fiddler.\n",
        encoding="utf-8",
    )


def test_update_killed_at_random_points_resumes_to_the_uninterrupted_update(
    llm_server: TestLLMServer, tmp_path: Path
) -> None:
    """Five more kill points, during ``update``, each after a seeded random number of answered requests."""
    import random

    reference = KillResumeHarness(_project(tmp_path / "reference", llm_server), llm_server, env=ENV)
    assert reference.run().returncode == 0
    _change_inputs(reference.root)
    updated = reference.run(verb="update")
    assert updated.returncode == 0, updated.stderr_tail

    rng = random.Random(UPDATE_SEED)
    with TestLLMServer(delay_s=DELAY_S) as server:
        harness = KillResumeHarness(_project(tmp_path / "killed", server), server, env=ENV)
        assert harness.run().returncode == 0
        _change_inputs(harness.root)
        kills = 0
        for _ in range(UPDATE_KILLS):
            attempt = harness.run(KillPoint(ANYWHERE, after_requests=rng.randint(1, 4)), verb="update")
            if not attempt.killed:  # the remaining work was smaller than the kill point: it finished
                assert attempt.returncode == 0, attempt.stderr_tail
                break
            kills += 1
            assert attempt.returncode == -signal.SIGKILL
            assert not unreadable_files(harness.output), unreadable_files(harness.output)
        final = harness.run(verb="update")
        assert final.returncode == 0, final.stderr_tail
        assert kills >= 3, f"only {kills} kills landed in the update:\n{_describe(harness.attempts)}"
        assert file_digests(harness.output) == file_digests(reference.output)
        assert vector_rows(harness.output / "lancedb") == vector_rows(reference.output / "lancedb")
        settings = harness.settings
        for attempt in harness.attempts:
            resent = resent_after_cached(attempt, settings)
            assert not resent, f"update attempt: cached requests sent again: {resent}"
