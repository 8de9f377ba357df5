"""The honest in-process limit: the most this machine serves with the models and no server.

``clients`` items are in flight, as with that many clients; they are shared out among P
processes of T torch threads each, every core busy (P x T = cores), and each process
calls the model on back-to-back batches of its share. Every request's own work is done,
as a served one's is: its body read (the image decoded, the JSON row parsed, the text
tokenized) and its answer written as JSON (bench/serving.py, as the peers do). Not done:
HTTP, queueing, IPC. Each shape is tried (at one client also 1 x 1: a lone request cannot
use two processes, and a second thread may only wait for a core) and the fastest counts.
The processes start once per benchmark (``LimitPool``) and keep their models loaded.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection

from bench.contestants import CORES
from bench.loadgen import Run
from bench.workloads import Workload


@dataclass(frozen=True)
class Job:
    model: str
    bodies: tuple[bytes, ...]  # this process's share of the items in flight
    content_type: str
    threads: int
    seconds: float


def shapes(clients: int, cores: int = CORES) -> list[tuple[int, int]]:
    """(processes, threads each) to try: every core busy, no process without an item."""
    found = [(p, cores // p) for p in range(1, min(cores, clients) + 1) if cores % p == 0]
    return sorted(set(found) | ({(1, 1)} if clients == 1 else set()))


def shares(clients: int, processes: int) -> list[int]:
    """``clients`` items dealt out to ``processes`` as evenly as they go."""
    return [clients // processes + (index < clients % processes) for index in range(processes)]


def _worker(connection: Connection) -> None:
    """One process of the pool: run each Job sent, report ready, wait for go, measure."""
    import torch
    from threadpoolctl import threadpool_limits

    from bench.serving import Served, served

    # numpy's OpenBLAS (image decoding) stays on one thread, as in every served worker.
    threadpool_limits(limits=1, user_api="blas")
    models: dict[str, Served] = {}
    while (job := connection.recv()) is not None:
        if job.model not in models:
            models[job.model] = served(job.model)
        model = models[job.model]
        torch.set_num_threads(job.threads)

        def call(model: Served = model, job: Job = job) -> None:
            model.answer([model.read(body, job.content_type) for body in job.bodies])

        for _ in range(3):  # warm-up: first calls allocate and pick kernels
            call()
        connection.send("ready")
        connection.recv()  # go: every process starts at once
        latencies: list[float] = []
        started = time.perf_counter()
        while time.perf_counter() - started < job.seconds:
            begin = time.perf_counter()
            call()
            latencies.append((time.perf_counter() - begin) * 1000)
        connection.send((latencies, time.perf_counter() - started))


class LimitPool:
    """``CORES`` processes, each loading a model the first time a Job names it."""

    def __init__(self, connections: list[Connection]) -> None:
        self.connections = connections

    def measure(self, workload: Workload, clients: int, seconds: float) -> tuple[Run, str]:
        """The best (Run, "P x T") over the shapes, ``seconds`` each."""
        runs = [
            (self._measure(workload, clients, seconds, p, t), f"{p} x {t}")
            for p, t in shapes(clients, len(self.connections))
        ]
        return max(runs, key=lambda pair: pair[0].rps)

    def _measure(
        self, workload: Workload, clients: int, seconds: float, processes: int, threads: int
    ) -> Run:
        used = self.connections[:processes]
        items = [workload.bodies[index % len(workload.bodies)] for index in range(clients)]
        start = 0
        for connection, share in zip(used, shares(clients, processes), strict=True):
            batch = tuple(items[start : start + share])
            start += share
            connection.send(Job(workload.model, batch, workload.content_type, threads, seconds))
        for connection in used:
            connection.recv()  # ready
        for connection in used:
            connection.send("go")
        results = [connection.recv() for connection in used]
        return summary(clients, results, shares(clients, processes))


def summary(clients: int, results: list[tuple[list[float], float]], sizes: list[int]) -> Run:
    """Items/s over all processes; latency quantiles of their batch calls, pooled."""
    latencies = [ms for calls, _ in results for ms in calls]
    elapsed = max(seconds for _, seconds in results)
    items = sum(len(calls) * size for (calls, _), size in zip(results, sizes, strict=True))
    cuts = (
        statistics.quantiles(latencies, n=100, method="inclusive")
        if len(latencies) > 1
        else latencies * 99
    )
    return Run(
        concurrency=clients,
        seconds=round(elapsed, 2),
        requests=items,
        errors=0,
        rps=round(items / elapsed, 1),
        p50_ms=round(cuts[49], 3),
        p95_ms=round(cuts[94], 3),
        p99_ms=round(cuts[98], 3),
        max_ms=round(max(latencies), 3),
        loadgen_cpu=0.0,
    )


@contextlib.contextmanager
def pool(processes: int = CORES) -> Iterator[LimitPool]:
    """The limit's processes (spawned: no torch state forked), stopped on the way out."""
    context = multiprocessing.get_context("spawn")
    pipes = [context.Pipe() for _ in range(processes)]
    workers = [context.Process(target=_worker, args=(child,), daemon=True) for _, child in pipes]
    for worker, (_, child) in zip(workers, pipes, strict=True):
        worker.start()
        child.close()  # the worker's end: a worker that dies is then EOFError, not a hang
    try:
        yield LimitPool([parent for parent, _ in pipes])
    finally:
        for parent, _ in pipes:
            with contextlib.suppress(OSError):
                parent.send(None)
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
                worker.join(timeout=10)
