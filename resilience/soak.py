"""`make soak`: a steady load for minutes; does memory grow, do errors or latency creep in?

A TorchServe of its own (the project's launcher, free loopback ports) serves every model.
Capacity is measured first (all models at once, closed loop, as many threads per model as
the soak uses; this also warms the server up) unless ``--rates`` gives it; then each model
gets ``--fraction`` (65%) of its capacity as a paced open-loop rate for ``--minutes``.
Every ``--rss-interval`` s the RSS of every process in the server's tree (launcher, Java
frontend, workers) is sampled. The report gives, per window (``--window``, a minute),
each model's requests, errors and p50/p99, and the RSS of each process in the first and in
the last window. Goals (exit status 1 when one is missed): RSS growth under
``--max-rss-growth`` (5%) for each process and for the whole tree, at most ``--max-failed``
of the requests failed, each model's p99 in the last window at most ``--max-p99-drift``
above the first.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

from resilience import serving
from resilience.load import Load, ModelLoad, Outcome
from resilience.stats import summary, write_json
from server.launcher import TorchServe
from server.settings import MODEL_STORE, ROOT, assignment

RESULTS = ROOT / "build" / "resilience"
MIB = 1024 * 1024


def rates(pairs: Sequence[tuple[str, str]]) -> dict[str, float]:
    """``[("digits", "120"), ...]`` (``--rates digits=120 ...``) as ``{"digits": 120.0, ...}``."""
    return {model: float(value) for model, value in pairs}


def options(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m resilience.soak",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    default_models = sorted(path.stem for path in MODEL_STORE.glob("*.mar"))
    parser.add_argument("--models", nargs="+", default=default_models)
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the soak lasts")
    parser.add_argument("--window", type=float, default=60.0, help="seconds per report row")
    parser.add_argument("--fraction", type=float, default=0.65, help="of capacity, per model")
    parser.add_argument(
        "--rates",
        nargs="+",
        type=assignment,
        default=[],
        metavar="MODEL=RPS",
        help="skip capacity: req/s",
    )
    parser.add_argument("--threads", type=int, default=8, help="client threads per model")
    parser.add_argument("--capacity-seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds before measuring")
    parser.add_argument("--rss-interval", type=float, default=5.0)
    parser.add_argument("--max-rss-growth", type=float, default=0.05, help="goal, ratio")
    parser.add_argument("--max-failed", type=float, default=0.001, help="goal, failed ratio")
    parser.add_argument("--max-p99-drift", type=float, default=1.0, help="goal, ratio")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder for the report")
    return parser.parse_args(argv)


def capacity(
    server: TorchServe, models: Sequence[str], threads: int, warmup: float, seconds: float
) -> dict[str, Any]:
    """Right answers per second of each model, all models loaded at once, closed loop, and
    the cores the server and this load generator used meanwhile (they share the machine:
    the busier one is what limits the figure)."""
    load = Load(server, [ModelLoad(model, None, threads) for model in models])
    load.start()
    try:
        time.sleep(warmup)  # warm-up whose answers are not counted, not a readiness wait
        tree, here = server.processes(), [psutil.Process()]
        cpu = serving.cpu_seconds(tree), serving.cpu_seconds(here)
        start = time.monotonic()
        time.sleep(seconds)  # the measuring window
        end = time.monotonic()
        server_cores = (serving.cpu_seconds(tree) - cpu[0]) / (end - start)
        client_cores = (serving.cpu_seconds(here) - cpu[1]) / (end - start)
    finally:
        load.stop()
    counted = [o for o in load.outcomes if o.ok and start <= o.ended < end]
    return {
        "rates": {m: round(sum(o.model == m for o in counted) / (end - start), 1) for m in models},
        "server_cores": round(server_cores, 2),
        "load_generator_cores": round(client_cores, 2),
    }


class RssSampler:
    """Samples the RSS of every process in the server's tree on a thread of its own."""

    def __init__(self, server: TorchServe, roles: dict[int, str], interval: float) -> None:
        self.server, self.roles, self.interval = server, roles, interval
        self.samples: list[tuple[float, dict[int, int]]] = []  # (time, {pid: rss bytes})
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            sizes = {}
            for process in self.server.processes():
                try:
                    sizes[process.pid] = process.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
            self.samples.append((time.monotonic(), sizes))
            self._stop.wait(self.interval)  # the sampling period

    def mean_in(self, start: float, end: float) -> dict[int, float]:
        """Mean RSS of each pid over the samples taken in [start, end)."""
        taken = [sizes for moment, sizes in self.samples if start <= moment < end]
        pids = {pid for sizes in taken for pid in sizes}
        return {
            pid: sum(s[pid] for s in taken if pid in s) / sum(pid in s for s in taken)
            for pid in pids
        }


def process_roles(server: TorchServe, models: Sequence[str]) -> dict[int, str]:
    """``{pid: "launcher" | "frontend" | "worker <model>"}`` for the server's tree now."""
    admin = serving.client_for(server)
    roles = {
        pid: f"worker {model}" for model in models for pid in serving.worker_pids(admin, model)
    }
    roles[serving.frontend(server).pid] = "frontend"
    roles[server.pid() or 0] = "launcher"
    return roles


def rss_report(
    sampler: RssSampler, start: float, seconds: float, width: float
) -> list[dict[str, Any]]:
    """Per process there in the first and the last window of ``width`` s: its mean RSS in
    each and the growth; then the same for the whole tree, and the pids that went away."""
    before = sampler.mean_in(start, start + width)
    after = sampler.mean_in(start + seconds - width, start + seconds)
    rows = []
    for pid in sorted(before.keys() & after.keys()):
        role = sampler.roles.get(pid, "other")
        rows.append(_rss_row(role, pid, before[pid], after[pid]))
    both = before.keys() & after.keys()
    total = _rss_row("whole tree", None, sum(before[p] for p in both), sum(after[p] for p in both))
    gone = sorted(before.keys() - after.keys())
    return [*rows, total | {"gone": gone}]


def _rss_row(role: str, pid: int | None, before: float, after: float) -> dict[str, Any]:
    growth = (after - before) / before if before else 0.0
    return {
        "process": role,
        "pid": pid,
        "first_mib": round(before / MIB, 1),
        "last_mib": round(after / MIB, 1),
        "growth": round(growth, 4),
    }


def windows(
    outcomes: list[Outcome], models: Sequence[str], start: float, width: float, count: int
) -> list[dict[str, Any]]:
    """Per window of ``width`` s, per model: what the requests planned in it got."""
    rows = []
    for index in range(count):
        low, high = start + index * width, start + (index + 1) * width
        planned = [o for o in outcomes if low <= o.planned < high]
        per_model = {}
        for model in models:
            seen = summary(o for o in planned if o.model == model)
            per_model[model] = seen | {"rate": round(seen["requests"] / width, 1)}
        rows.append({"window": index + 1, "models": per_model})
    return rows


def drift(rows: list[dict[str, Any]], model: str) -> float | None:
    """How much the last window's p99 is above the first's, as a ratio of the first."""
    first, last = rows[0]["models"][model]["p99_ms"], rows[-1]["models"][model]["p99_ms"]
    return None if not first or last is None else round((last - first) / first, 3)


def goals(report: dict[str, Any], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Each goal with whether it was met and the figure it was judged on."""
    found = []
    for row in report["rss"]:
        who = f"{row['process']} (pid {row['pid']})" if row["pid"] else f"the {row['process']}"
        name = f"RSS of {who} grows < {args.max_rss_growth:.0%}"
        found.append(_goal(name, row["growth"], row["growth"] < args.max_rss_growth))
    for model, seen in report["overall"].items():
        name = f"{model}: at most {args.max_failed:.1%} failed"
        found.append(_goal(name, seen["failed_ratio"], seen["failed_ratio"] <= args.max_failed))
        moved = report["p99_drift"][model]
        name = f"{model}: last p99 at most {args.max_p99_drift:.0%} above the first"
        found.append(_goal(name, moved, moved is not None and moved <= args.max_p99_drift))
        sent = seen["requests"] / report["seconds"]
        name = f"{model}: at least 90% of {report['rates'][model]:.1f} req/s sent"
        found.append(_goal(name, round(sent, 1), sent >= 0.9 * report["rates"][model]))
    return found


def _goal(name: str, value: Any, met: bool) -> dict[str, Any]:
    return {"goal": name, "value": value, "met": met}


def soak(server: TorchServe, args: argparse.Namespace, target: dict[str, float]) -> dict[str, Any]:
    """The paced load for ``--minutes`` with RSS sampling; the measured part of the report."""
    sampler = RssSampler(server, process_roles(server, args.models), args.rss_interval)
    load = Load(server, [ModelLoad(model, target[model], args.threads) for model in args.models])
    seconds = args.minutes * 60
    load.start()
    sampler.start()
    try:
        while time.monotonic() - load.started < seconds:
            if not server.is_running():
                raise serving.ServerError(f"TorchServe died during the soak:\n{server.log_tail()}")
            time.sleep(1.0)  # how often the server's life is checked while the load runs
    finally:
        load.stop()
        sampler.stop()
    count = max(1, int(seconds // args.window))
    width = seconds / count  # whole windows that cover the soak exactly
    start = load.started
    rows = windows(load.outcomes, args.models, start, width, count)
    planned = [o for o in load.outcomes if o.planned < start + seconds]
    return {
        "seconds": seconds,
        "windows": rows,
        "overall": {m: summary(o for o in planned if o.model == m) for m in args.models},
        "p99_drift": {model: drift(rows, model) for model in args.models},
        "rss": rss_report(sampler, start, seconds, width),
    }


def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """Capacity (unless given), then the soak, against a TorchServe of its own."""
    given = rates(args.rates)
    with serving.own_server(folder / "server", args.models) as server:
        measured = None
        if not given:
            measured = capacity(
                server, args.models, args.threads, args.warmup, args.capacity_seconds
            )
        found = measured["rates"] if measured else {}
        target = given or {model: args.fraction * rps for model, rps in found.items()}
        report: dict[str, Any] = {"capacity": measured, "rates": target, "fraction": args.fraction}
        report |= soak(server, args, target)
    report["goals"] = goals(report, args)
    report["passed"] = all(goal["met"] for goal in report["goals"])
    return report


def print_report(report: dict[str, Any], path: Path) -> None:
    if report["capacity"]:
        measured = report["capacity"]
        cores = f"server {measured['server_cores']}, load {measured['load_generator_cores']}"
        print(f"capacity (req/s, all models at once): {_pairs(measured['rates'])}; cores {cores}")
    print("paced rate (req/s): " + _pairs(report["rates"]))
    for row in report["windows"]:
        for model, seen in row["models"].items():
            latency = f"p50 {seen['p50_ms']} ms  p99 {seen['p99_ms']} ms"
            latency += f"  (send lag p99 {seen['send_lag_p99_ms']} ms)"
            counts = f"{seen['rate']:7.1f} req/s {seen['failed']:4} failed"
            print(f"window {row['window']:3} {model:7} {counts}  {latency}")
    for model, seen in report["overall"].items():
        if seen["errors"]:
            print(f"{model} errors: {seen['errors']}")
    for row in report["rss"]:
        sizes = f"{row['first_mib']:8.1f} -> {row['last_mib']:8.1f} MiB"
        print(f"RSS {row['process']:14} {row['pid'] or '':>7} {sizes}  {row['growth']:+.2%}")
    for goal in report["goals"]:
        print(f"{'ok  ' if goal['met'] else 'MISS'} {goal['goal']}: {goal['value']}")
    print(f"report: {path}")


def _pairs(values: dict[str, float]) -> str:
    return ", ".join(f"{key} {value:.1f}" for key, value in values.items())


def main(argv: Sequence[str] | None = None) -> int:
    args = options(argv)
    folder = args.results / f"soak-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    report = run(args, folder)
    path = write_json(report, folder, "report")
    print_report(report, path)
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
