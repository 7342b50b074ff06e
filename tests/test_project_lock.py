"""One index or update at a time per project (issue 23, point 4): two real processes on one root; the
second stops with a clear error naming the first, or waits with --wait; nothing is left half-written."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from support.kill import unreadable_files
from support.projects import write_project

from graphrag_lite.store.lock import HOLDER_NAME, IndexBusyError, project_lock

EXCERPT = Path(__file__).parent / "data" / "carol_excerpt.txt"
LIVENESS_S = 300.0
OFFLINE = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "GRAPHRAG_API_KEY")}


def _index(root: Path, *args: str) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "-m",
        "graphrag_lite.cli.main",
        "index",
        "--root",
        str(root),
        "--method",
        "fast",
    ]
    return subprocess.Popen(
        [*command, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=OFFLINE
    )


def _wait_for_holder(output: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + LIVENESS_S
    while not (output / HOLDER_NAME).exists():
        assert process.poll() is None and time.monotonic() < deadline, "the first run never took the lock"
        time.sleep(0.05)


def test_a_second_index_stops_with_a_clear_error_or_waits(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", {"carol.txt": EXCERPT.read_text(encoding="utf-8")})
    output = root / "output"
    first = _index(root)
    _wait_for_holder(output, first)
    refused = subprocess.run(
        [sys.executable, "-m", "graphrag_lite.cli.main", "index", "--root", str(root), "--method", "fast"],
        capture_output=True,
        text=True,
        env=OFFLINE,
        timeout=LIVENESS_S,
    )
    assert refused.returncode == 1
    message = refused.stdout + refused.stderr
    assert "Another index or update is running" in message and f"process {first.pid}" in message
    assert "--wait" in message and "Traceback" not in message
    waiting = _index(root, "--wait")
    first_out, _ = first.communicate(timeout=LIVENESS_S)
    second_out, _ = waiting.communicate(timeout=LIVENESS_S)
    assert first.returncode == 0, first_out
    assert waiting.returncode == 0, second_out
    assert unreadable_files(output) == [] and not (output / HOLDER_NAME).exists()


def test_the_lock_is_released_on_errors_and_refuses_a_second_holder(tmp_path: Path) -> None:
    output = tmp_path / "output"
    try:
        with project_lock(output):
            try:
                with project_lock(output):
                    raise AssertionError("a second holder got the lock")
            except IndexBusyError as exc:
                assert "Another index or update is running" in str(exc)
            raise RuntimeError("the step failed")
    except RuntimeError:
        pass
    with project_lock(output):  # released despite the error
        pass
