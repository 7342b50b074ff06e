"""Process memory: give freed memory back to the system, and measure a workflow step's peak.

A step frees its records when it returns, but the allocators keep the pages: glibc's malloc holds freed
chunks, and pyarrow's pool holds its buffers, so without a release the next step starts on top of the last
one's high-water mark and the run's peak is the sum of leftovers. On Linux the kernel's per-process peak
(``VmHWM``) can be reset, so each step's peak resident set is measured on its own and kept in stats.json.
Elsewhere the peak is not measured and the release is best effort.

Long loops (the embed step runs torch threads for many minutes) also keep what they free in each thread's
malloc arena; :class:`Trimmer` hands it back every few seconds. A fixed 1 MB mmap threshold instead, which
returns every large tensor at once, cut a 5 MB line's embed step from 3.1 to 1.8 GB but made torch
embedding 34% slower (600 musique passages, 6.4 s against 8.6 s, three runs each side by side), so it is
not used; trimming cost nothing measurable there (6.5 s).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``; None on other C libraries (musl, macOS, Windows)."""
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


class Trimmer:
    """Hands the heap's free pages back to the system at most every ``every`` seconds (glibc), for long
    loops: each thread's malloc arena keeps what it freed, and an embed step runs torch and ONNX Runtime
    threads for minutes (a dozen 64 MB arenas were resident on a 20 MB input)."""

    def __init__(self, every: float = 5.0) -> None:
        self.every = every
        self._last = time.monotonic()

    def __call__(self) -> None:
        now = time.monotonic()
        trim = _malloc_trim()
        if trim is not None and now - self._last >= self.every:
            trim(0)
            self._last = now


def release_memory() -> None:
    """Collect garbage and hand the free pages of Python, glibc and pyarrow back to the system."""
    gc.collect()
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def reset_peak() -> bool:
    """Start a new peak measurement (Linux); False where the peak cannot be reset."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def peak_rss_mb() -> int | None:
    """The process's peak resident set since the last :func:`reset_peak`, in MB (None if unknown)."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        return None
    return None
