"""Figures for the Kubernetes manifests and docs/scaling.md, from one TorchServe like a pod's.

    python -m deploy.capacity [--seconds 8] [--warmup 15] [--out build/deploy/capacity.json]

Starts TorchServe with every archive (the image's models and settings) on free loopback
ports and measures:

- time to READY: from the start until every worker of every model is READY (the
  startupProbe's budget);
- memory: of the whole process tree (frontend and workers), idle and the peak seen under
  load (requests and limits);
- per model, alone, at rising concurrency (wrk, closed loop): req/s, p99, CPU of the tree,
  and the mean number of requests waiting in TorchServe's queue over the run, computed
  exactly as the ScaledObject's query does: the rise of ``ts_queue_latency_microseconds``
  per second / 1e6 (Little's law on the cumulative counter);
- the same for a mix of the three models at once (clients split 3:3:2, the load test's
  weights).

The queue depth at which p99 still meets the SLO (loadtests/slo.toml, profile local) is the
KEDA threshold's upper bound (docs/scaling.md). It loads both cores for about six minutes:
run it on an otherwise idle machine (`make deploy-capacity`).
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import threading
import time
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import requests

from bench.loadgen import Run, run_wrk
from bench.settle import wait_quiet
from bench.workloads import WORKLOADS
from server.launcher import TorchServe, loopback_ports
from server.settings import ROOT

LEVELS = {"digits": (1, 8, 32, 64, 128, 256), "cancer": (1, 8, 32, 64, 128, 256)}
LEVELS["minilm"] = (1, 8, 16, 32, 64, 128)
MIX_LEVELS = (8, 32, 64, 128)
MIX_SHARES = {"digits": 3, "cancer": 3, "minilm": 2}
# The SLO endpoint each model's workload stands for (loadtests/endpoints.py names).
SLO_ENDPOINT = {
    "digits": "digits raw png",
    "cancer": "cancer one row",
    "minilm": "minilm text/plain",
}
SAMPLE = re.compile(r"^(\w+)\{([^}]*)\}\s+(\S+)$")


def slo_p99(model: str, profile: str = "local") -> float:
    """The model's p99 objective in ms, from loadtests/slo.toml."""
    slo = tomllib.loads((ROOT / "loadtests" / "slo.toml").read_text())[profile]
    return float(slo["endpoints"][SLO_ENDPOINT[model]].get("p99_ms", slo["p99_ms"]))


def counters(metrics_url: str, name: str) -> dict[str, float]:
    """``name``'s value per model_name from TorchServe's /metrics."""
    text = requests.get(f"{metrics_url}/metrics", timeout=10).text
    values: dict[str, float] = {}
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match and match[1] == name:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match[2]))
            model = labels.get("model_name", "")
            values[model] = values.get(model, 0.0) + float(match[3])
    return values


def tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def rss_mib(pid: int) -> float:
    return sum(p.memory_info().rss for p in tree(pid)) / 2**20


def pss_mib(pid: int) -> float:
    """Proportional set size: shared pages (torch's libraries in six workers) counted once
    in all, as the pod's memory cgroup counts them, where RSS counts them per process."""
    return sum(p.memory_full_info().pss for p in tree(pid)) / 2**20


def cpu_seconds(pid: int) -> float:
    total = 0.0
    for process in tree(pid):
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


class PeakMemory:
    """Samples the tree's PSS every 0.5 s on a thread; ``peak`` is the highest seen."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            self.peak = max(self.peak, pss_mib(self.pid))

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def measure(server: TorchServe, pid: int, loads: dict[str, int], seconds: float) -> dict[str, Any]:
    """Run wrk on each model of ``loads`` (model -> clients) at once; the figures per model."""
    headers = server.headers("inference")
    # Requests a previous run left in TorchServe's queue would count here otherwise.
    wait_quiet(pid)
    queue_before = counters(server.metrics_url, "ts_queue_latency_microseconds")
    cpu_before, started = cpu_seconds(pid), time.monotonic()
    with ThreadPoolExecutor(len(loads)) as pool:
        futures = {
            model: pool.submit(
                run_wrk,
                server.inference_url + WORKLOADS[model].path,
                WORKLOADS[model].bodies,
                headers | {"Content-Type": WORKLOADS[model].content_type},
                clients,
                seconds,
            )
            for model, clients in loads.items()
        }
        runs: dict[str, Run] = {model: future.result() for model, future in futures.items()}
    wall = time.monotonic() - started
    queue_after = counters(server.metrics_url, "ts_queue_latency_microseconds")
    cores = (cpu_seconds(pid) - cpu_before) / wall
    return {
        model: run.as_dict()
        | {
            "waiting": (queue_after.get(model, 0.0) - queue_before.get(model, 0.0)) / wall / 1e6,
            "slo_p99_ms": slo_p99(model),
            "server_cores": cores,
        }
        for model, run in runs.items()
    }


def mixes() -> Iterator[dict[str, int]]:
    total = sum(MIX_SHARES.values())
    for clients in MIX_LEVELS:
        yield {model: max(1, clients * share // total) for model, share in MIX_SHARES.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="per level")
    parser.add_argument("--warmup", type=float, default=15.0, help="per model, JIT warm-up")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "deploy" / "capacity.json")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"levels": {}, "mix": []}
    with tempfile.TemporaryDirectory(prefix="capacity-") as run_dir:
        server = TorchServe(Path(run_dir), overrides=loopback_ports())
        started = time.monotonic()
        with server.running():
            results["ready_s"] = round(time.monotonic() - started, 1)
            pid = server.pid()
            assert pid is not None, "TorchServe is running but has no pid"
            results["rss_idle_mib"] = round(rss_mib(pid))
            results["pss_idle_mib"] = round(pss_mib(pid))
            print(json.dumps(results), flush=True)
            with PeakMemory(pid) as peak:
                for model, levels in LEVELS.items():
                    measure(server, pid, {model: levels[-2]}, args.warmup)
                    results["levels"][model] = []
                    for clients in levels:
                        row = measure(server, pid, {model: clients}, args.seconds)[model]
                        results["levels"][model].append(row)
                        print(model, json.dumps(row), flush=True)
                for loads in mixes():
                    row = measure(server, pid, loads, args.seconds)
                    results["mix"].append(row)
                    print("mix", json.dumps(row), flush=True)
            results["pss_peak_mib"] = round(peak.peak)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"peak PSS {results['pss_peak_mib']} MiB; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
