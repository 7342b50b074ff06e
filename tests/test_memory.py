"""Process memory helpers: a step's peak is its own, and freed memory goes back to the system."""

from __future__ import annotations

import sys

import pytest

from graphrag_lite.models.memory import peak_rss_mb, release_memory, reset_peak

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM and glibc are Linux's")


@linux
def test_the_peak_is_measured_from_the_last_reset() -> None:
    release_memory()
    assert reset_peak()
    before = peak_rss_mb()
    assert before is not None
    block = b"x" * (200 * 1024 * 1024)  # touched, so resident
    del block
    release_memory()
    after = peak_rss_mb()
    assert after is not None and after >= before + 190
    assert reset_peak()
    again = peak_rss_mb()
    assert again is not None and again < after - 150  # a new measurement forgets the old peak
