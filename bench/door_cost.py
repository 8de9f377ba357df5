"""`make door-cost`: the front door's cost beside the least any proxy hop costs.

One TorchServe with this project's settings serves each model; at each level, rounds in
turn of: TorchServe directly, through its door, and through a bare HAProxy
(bench/haproxy_bare.cfg: forwarding only, same HAProxy, threads and buffers as the door).
Per contestant, the median round's req/s and p50, its ratio to direct, and the proxy's CPU
per request (its CPU time over the requests it passed). The bare hop is the floor: what
the door would still cost with none of its policy (keys, limits, logs, health, rewrites).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from bench.loadgen import Run, run_wrk
from bench.settle import tree_cpu_seconds, wait_quiet
from bench.workloads import WORKLOADS, Workload
from server.door import BACKEND_MAXCONN, THREADS, haproxy_binary
from server.launcher import WORKER_ENV, TorchServe, loopback_ports
from server.settings import HOST, LOG_CONFIG, free_ports

BARE_CONFIG = Path(__file__).with_name("haproxy_bare.cfg")
CONTESTANTS = ("direct", "door", "bare hop")


@dataclass(frozen=True)
class Target:
    """One way to reach the server: its base URL, headers, and the proxy process (if any)
    whose CPU the requests cost."""

    url: str
    headers: dict[str, str]
    proxy_pid: int | None = None


@contextlib.contextmanager
def bare_hop(backend_url: str) -> Iterator[Target]:
    """HAProxy forwarding to ``backend_url`` as is; the caller sends TorchServe's key."""
    (port,) = free_ports(1)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DOOR_BIND": f"{HOST}:{port}",
        "DOOR_THREADS": str(THREADS),
        "DOOR_BACKEND_MAXCONN": str(BACKEND_MAXCONN),
        "TS_INFERENCE_ADDRESS": backend_url.removeprefix("http://"),
    }
    command = [haproxy_binary(), "-db", "-f", str(BARE_CONFIG)]
    process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL)
    try:
        url = f"http://{HOST}:{port}"
        deadline = time.monotonic() + 10
        while True:  # up once it answers anything (TorchServe's /ping through it)
            if process.poll() is not None:
                raise RuntimeError(f"the bare HAProxy exited {process.returncode}")
            with contextlib.suppress(requests.RequestException):
                requests.get(f"{url}/ping", timeout=2)
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the bare HAProxy did not answer within 10 s")
            time.sleep(0.05)  # poll interval, not a readiness wait
        yield Target(url, {}, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def measure(target: Target, workload: Workload, clients: int, seconds: float) -> dict[str, Any]:
    """One wrk run at ``clients``; the proxy's CPU microseconds per request beside it."""
    before = tree_cpu_seconds(target.proxy_pid) if target.proxy_pid else 0.0
    run: Run = run_wrk(
        target.url + workload.path,
        workload.bodies,
        target.headers | {"Content-Type": workload.content_type},
        clients,
        seconds,
    )
    spent = tree_cpu_seconds(target.proxy_pid) - before if target.proxy_pid else 0.0
    return {
        "rps": run.rps,
        "p50_ms": run.p50_ms,
        "errors": run.errors,
        "proxy_us_per_request": round(spent / run.requests * 1e6, 1) if run.requests else None,
    }


def median_round(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the median req/s (the bench's rule), its range beside it."""
    ordered = sorted(rounds, key=lambda r: r["rps"])
    shown = dict(ordered[len(ordered) // 2])
    shown["range"] = [ordered[0]["rps"], ordered[-1]["rps"]]
    return shown


def compare(
    targets: dict[str, Target],
    workload: Workload,
    levels: list[int],
    rounds: int,
    seconds: float,
    server_pid: int | None,
) -> list[dict[str, Any]]:
    """Every level: ``rounds`` rounds, each contestant once per round, in turn; before each
    run, TorchServe (``server_pid``) has finished what the last run left in its queue."""
    rows = []
    for clients in levels:
        for target in targets.values():  # warm every path at this level
            measure(target, workload, clients, 2)
        measured: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
        for _ in range(rounds):
            for name, target in targets.items():
                if server_pid:
                    wait_quiet(server_pid)
                measured[name].append(measure(target, workload, clients, seconds))
        direct = median_round(measured["direct"])
        for name in targets:
            shown = median_round(measured[name])
            shown["ratio"] = round(shown["rps"] / direct["rps"], 3) if direct["rps"] else None
            shown["p50_added_ms"] = round(shown["p50_ms"] - direct["p50_ms"], 2)
            rows.append({"model": workload.model, "clients": clients, "via": name} | shown)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| model | clients | via | req/s | of direct | p50 ms | p50 added | proxy CPU/request |",
        "|---|--:|---|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        cpu = r["proxy_us_per_request"]
        lines.append(
            f"| {r['model']} | {r['clients']} | {r['via']} | {r['rps']:,.0f} | "
            f"{r['ratio']:.2f} | {r['p50_ms']:.2f} | {r['p50_added_ms']:+.2f} | "
            + (f"{cpu:.0f} µs |" if r["via"] != "direct" and cpu is not None else "- |")
        )
    return "\n".join(lines)


def run_model(model: str, levels: list[int], rounds: int, seconds: float) -> list[dict[str, Any]]:
    """Start TorchServe (behind its door) serving ``model``, add the bare hop, compare."""
    workload = WORKLOADS[model]
    with tempfile.TemporaryDirectory(prefix="door-cost-") as folder:
        server = TorchServe(
            Path(folder) / "server",
            models=[model],
            overrides=loopback_ports(),
            log_config=LOG_CONFIG,
            worker_env=dict(WORKER_ENV),
        )
        with server.running(timeout=300), bare_hop(server.backend_url) as bare:
            targets = {
                "direct": Target(server.backend_url, server.headers("backend")),
                "door": Target(
                    server.inference_url, server.headers("inference"), server.door.pid()
                ),
                "bare hop": Target(bare.url, server.headers("backend"), bare.proxy_pid),
            }
            return compare(targets, workload, levels, rounds, seconds, server.pid())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.door_cost", description=__doc__)
    p.add_argument("--models", nargs="+", choices=sorted(WORKLOADS), default=sorted(WORKLOADS))
    p.add_argument("--levels", nargs="+", type=int, help="clients (default: 1 and nominal)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--json", type=Path, help="also write the rows here")
    args = p.parse_args(argv)
    rows: list[dict[str, Any]] = []
    for model in args.models:
        levels = args.levels or [1, WORKLOADS[model].nominal]
        rows += run_model(model, levels, args.rounds, args.seconds)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    at_load = [
        r["proxy_us_per_request"]
        for r in rows
        if r["via"] == "bare hop" and r["clients"] > 1 and r["proxy_us_per_request"] is not None
    ]
    if at_load:
        median_cpu = statistics.median(at_load)
        print(f"\nbare hop: {median_cpu:.0f} µs of CPU per request at load (median over models)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
