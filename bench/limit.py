"""The in-process limit: the served model called directly, batched, all cores available.

One batch of ``concurrency`` items per call, as if that many requests had been gathered
with no HTTP, no queue and no IPC; the input work the handler does (decode the image,
parse the JSON row, tokenize) is included, answer formatting is not. Both one torch thread
and one per core are tried and the faster counts: on a busy 2-core machine a second
thread that has to wait for a core can make a call many times slower, not faster.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from functools import cache
from typing import Any

import torch
from threadpoolctl import threadpool_limits

from bench.contestants import CORES
from bench.direct import Cancer, Digits, MiniLM
from bench.loadgen import Run
from bench.workloads import Workload


@cache
def _caller(model: str) -> Callable[[list[bytes]], Any]:
    """A function of a batch of request bodies that runs the model on them."""
    if model == "digits":
        return Digits().predict
    if model == "cancer":
        cancer = Cancer()
        return lambda bodies: cancer.predict([json.loads(body) for body in bodies])
    if model == "minilm":
        minilm = MiniLM()
        return lambda bodies: minilm.embed([body.decode() for body in bodies])
    raise ValueError(f"no in-process caller for {model!r}")


def measure(workload: Workload, concurrency: int, seconds: float) -> tuple[Run, int]:
    """The best (Run, torch threads) of one thread and one per core, ``seconds`` each."""
    runs = []
    # numpy's OpenBLAS (image decoding) stays on one thread: the decoding is one Python
    # thread's work, and idle BLAS threads spinning for a core only slow it down.
    with threadpool_limits(limits=1, user_api="blas"):
        for threads in sorted({1, CORES}):
            torch.set_num_threads(threads)
            runs.append((_measure(workload, concurrency, seconds), threads))
    return max(runs, key=lambda pair: pair[0].rps)


def _measure(workload: Workload, concurrency: int, seconds: float) -> Run:
    """Items/s and per-batch latency of back-to-back batches of ``concurrency`` items."""
    call = _caller(workload.model)
    batch = [workload.bodies[index % len(workload.bodies)] for index in range(concurrency)]
    for _ in range(3):  # warm-up: first calls allocate and pick kernels
        call(batch)
    latencies = []
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        begin = time.perf_counter()
        call(batch)
        latencies.append((time.perf_counter() - begin) * 1000)
    elapsed = time.perf_counter() - started
    cuts = (
        statistics.quantiles(latencies, n=100, method="inclusive")
        if len(latencies) > 1
        else latencies * 99
    )
    return Run(
        concurrency=concurrency,
        seconds=round(elapsed, 2),
        requests=len(latencies) * concurrency,
        errors=0,
        rps=round(len(latencies) * concurrency / elapsed, 1),
        p50_ms=round(cuts[49], 3),
        p95_ms=round(cuts[94], 3),
        p99_ms=round(cuts[98], 3),
        max_ms=round(max(latencies), 3),
        loadgen_cpu=0.0,
    )
