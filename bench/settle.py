"""Wait until a served contestant has finished the work its last load left behind.

When wrk stops, a server can still hold requests it accepted: TorchServe's job queue
keeps them after the connections close, gunicorn's workers finish what they read. At 12
req/s (stock TorchServe, minilm, 32 clients) that tail is seconds of CPU that would land
on whichever contestant is measured next. So before the next measurement the previous
server's processes (its main process and every descendant: workers, the Java frontend's
children) must use next to no CPU for a short window.
"""

from __future__ import annotations

import contextlib
import time

import psutil

QUIET_SHARE = 0.05  # of one core, over a window: an idle server's heartbeats stay below
WINDOW_S = 0.5


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its live descendants (0 if it is gone)."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.ZombieProcess):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def idle_share(pid: int, seconds: float = 2.0) -> float:
    """The share of one core the process tree of ``pid`` uses with no load: a server that
    polls its queues (LitServe, BentoML) is never under QUIET_SHARE, so it is judged quiet
    once back near its own idle use."""
    before = tree_cpu_seconds(pid)
    time.sleep(seconds)  # the measurement window
    return round((tree_cpu_seconds(pid) - before) / seconds, 3)


def wait_quiet(
    pid: int, *, share: float = QUIET_SHARE, window: float = WINDOW_S, timeout: float = 120.0
) -> tuple[bool, float]:
    """Poll until the process tree of ``pid`` used under ``share`` of a core in one
    ``window``. Returns (went quiet, seconds waited); gives up after ``timeout``."""
    started = time.monotonic()
    while True:
        before = tree_cpu_seconds(pid)
        time.sleep(window)  # the measurement window, not a stand-in for a readiness check
        used = tree_cpu_seconds(pid) - before
        waited = time.monotonic() - started
        if used < share * window:
            return True, round(waited, 2)
        if waited >= timeout:
            return False, round(waited, 2)
