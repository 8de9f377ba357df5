"""Drive one endpoint with wrk (C, event loop) at a fixed number of connections.

wrk keeps ``concurrency`` connections each with one request in flight (closed loop), so
throughput and latency are those of ``concurrency`` clients calling back to back. Its own
CPU time is measured (wait4), so the report can show the load generator was not the limit.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("wrk_post.lua")


class LoadGenError(RuntimeError):
    """wrk is missing or did not report."""


@dataclass(frozen=True)
class Run:
    """One wrk run's figures; latencies in milliseconds."""

    concurrency: int
    seconds: float
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    loadgen_cpu: float  # wrk's CPU seconds / wall seconds (1.0 = one core busy)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise LoadGenError("wrk is not installed: run `make bench-tools` (apt-get install wrk)")
    return path


def run_wrk(
    url: str,
    bodies: Sequence[bytes],
    headers: dict[str, str],
    concurrency: int,
    seconds: float,
    timeout_s: float = 30.0,
) -> Run:
    """POST ``bodies`` round robin to ``url`` from ``concurrency`` connections for ``seconds``
    (whole seconds: wrk's unit)."""
    with tempfile.TemporaryDirectory(prefix="wrk-") as folder:
        for index, body in enumerate(bodies):
            Path(folder, str(index)).write_bytes(body)
        # Headers (the token among them) go in a file, not on wrk's command line.
        lines = "".join(f"{name}: {value}\n" for name, value in headers.items())
        Path(folder, "headers").write_text(lines)
        command = [
            wrk_path(),
            "--threads",
            "1",
            "--connections",
            str(concurrency),
            "--duration",
            f"{max(1, round(seconds))}s",
            "--timeout",
            f"{timeout_s:g}s",
            "--script",
            str(SCRIPT),
            url,
            "--",
            folder,
            str(len(bodies)),
        ]
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            started = time.monotonic()
            process = subprocess.Popen(command, stdout=out, stderr=err)
            # wrk stops by itself after --duration; the timer only guards against a hang.
            guard = threading.Timer(seconds + timeout_s + 30, process.kill)
            guard.start()
            try:
                _, status, usage = os.wait4(process.pid, 0)  # wrk's own CPU time, exactly
            finally:
                guard.cancel()
            wall = time.monotonic() - started
            process.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read().decode(), err.read().decode()
    if process.returncode != 0:
        raise LoadGenError(f"wrk exited {process.returncode}: {stderr[-2000:]}")
    return parse(stdout, concurrency, (usage.ru_utime + usage.ru_stime) / wall)


def parse(stdout: str, concurrency: int, loadgen_cpu: float) -> Run:
    """The Run from wrk's output: the JSON line the script's done() prints."""
    line = next((ln for ln in reversed(stdout.splitlines()) if ln.startswith("{")), None)
    if line is None:
        raise LoadGenError(f"wrk printed no result line:\n{stdout[-2000:]}")
    figures = json.loads(line)
    seconds = figures["duration_us"] / 1e6
    latency = figures["latency_us"]
    return Run(
        concurrency=concurrency,
        seconds=round(seconds, 2),
        requests=figures["requests"],
        errors=sum(figures["errors"].values()),
        rps=round(figures["requests"] / seconds, 1) if seconds else 0.0,
        p50_ms=latency["p50"] / 1000,
        p95_ms=latency["p95"] / 1000,
        p99_ms=latency["p99"] / 1000,
        max_ms=latency["max"] / 1000,
        loadgen_cpu=round(loadgen_cpu, 3),
    )
