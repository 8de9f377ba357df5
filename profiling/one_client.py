"""Where one client's request spends its time on this project's TorchServe.

    flock /tmp/heavy.lock python -m profiling.one_client --model digits [--requests 2000]
        [--set maxBatchDelay=0] [--spy worker|frontend] [--out DIR]

Starts TorchServe (this project's archive, ``--set`` re-packs its model config), sends one
request at a time straight to TorchServe (no door) over one keep-alive connection, and
prints per request: the client's latency (p50), TorchServe's own queue and inference
latency (its ``ts_queue_latency_microseconds`` / ``ts_inference_latency_microseconds``
counters), the handler's time per batch (``ts_handler_batch_duration_seconds``) and the
CPU seconds the frontend and the workers spent. ``--spy worker`` samples the busy worker
with py-spy, ``--spy frontend`` the Java frontend with JFR, while the requests run; their
hottest frames go to ``--out``.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import requests
import yaml

from bench.contestants import repacked
from bench.loadgen import run_wrk
from bench.workloads import WORKLOADS
from server.launcher import TorchServe, loopback_ports
from server.settings import MODEL_STORE

COUNTERS = (
    "ts_queue_latency_microseconds",
    "ts_inference_latency_microseconds",
    "ts_inference_requests_total",
    "ts_handler_batch_duration_seconds_sum",
    "ts_handler_batch_duration_seconds_count",
)


def scrape(url: str) -> dict[str, float]:
    """Each counter of ``COUNTERS`` summed over its series."""
    totals = dict.fromkeys(COUNTERS, 0.0)
    for line in requests.get(f"{url}/metrics", timeout=10).text.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in totals:
            totals[name] += float(line.rsplit(" ", 1)[1])
    return totals


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds per thread name (digits folded: 'epollEventLoopGroup-3-1' -> '...-#-#')."""
    ticks = 100.0  # USER_HZ
    totals: collections.defaultdict[str, float] = collections.defaultdict(float)
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        totals[re.sub(r"\d+", "#", name)] += (int(fields[11]) + int(fields[12])) / ticks
    return dict(totals)


def drive(url: str, headers: dict[str, str], model: str, count: int) -> list[float]:
    """``count`` requests one after another on one connection: each latency in ms."""
    workload = WORKLOADS[model]
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    send = headers | {"Content-Type": workload.content_type}
    latencies = []
    for index in range(count):
        body = workload.bodies[index % len(workload.bodies)]
        began = time.perf_counter()
        connection.request("POST", workload.path, body=body, headers=send)
        response = connection.getresponse()
        answer = response.read()
        latencies.append((time.perf_counter() - began) * 1000)
        if response.status != 200:
            raise SystemExit(f"{response.status}: {answer[:200]!r}")
    connection.close()
    return latencies


def settings_of(pairs: list[str]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        target = settings
        if key.startswith("handler."):
            target = settings.setdefault("handler", {})
            key = key.removeprefix("handler.")
        target[key] = yaml.safe_load(value)
    return settings


def spy(kind: str, pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    if kind == "worker":
        command = [str(Path(sys.executable).parent / "py-spy"), "record", "-p", str(pid)]
        command += ["-d", str(int(seconds)), "-r", "250", "-f", "raw", "-o", str(out), "--gil"]
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    command = ["jcmd", str(pid), "JFR.start", f"duration={int(seconds)}s", f"filename={out}"]
    return subprocess.Popen([*command, "settings=profile"], stdout=subprocess.DEVNULL)


def hottest_python(raw: Path, top: int = 25) -> list[tuple[str, float]]:
    """py-spy's collapsed stacks: share of samples in which each function appears."""
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        total += int(count)
        for frame in {re.sub(r":\d+\)", ")", frame) for frame in stack.split(";")}:
            inclusive[frame] += int(count)
    return [(frame, count / max(1, total)) for frame, count in inclusive.most_common(top)]


def hottest_java(recording: Path, top: int = 25) -> list[tuple[str, float]]:
    """JFR's execution samples: share of samples in which each method appears (inclusive)."""
    text = subprocess.run(
        ["jfr", "print", "--events", "jdk.ExecutionSample", "--stack-depth", "64", str(recording)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    inclusive: collections.Counter[str] = collections.Counter()
    samples = text.split("jdk.ExecutionSample")[1:]
    for sample in samples:
        frames = {m.group(1) for m in re.finditer(r"^\s+([\w.$<>]+)\(", sample, re.M)}
        inclusive.update(frames)
    return [(frame, count / max(1, len(samples))) for frame, count in inclusive.most_common(top)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(WORKLOADS), default="digits")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--spy", choices=["worker", "frontend"])
    parser.add_argument("--door", action="store_true", help="through the front door")
    parser.add_argument(
        "--clients",
        type=int,
        default=1,
        help="over 1: wrk at this many connections for --seconds instead of one client",
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=Path("profiling/out"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="oneclient-") as folder:
        store = MODEL_STORE
        if args.set:
            store = Path(folder) / "store"
            repacked(
                MODEL_STORE / f"{args.model}.mar",
                store / f"{args.model}.mar",
                settings_of(args.set),
            )
        server = TorchServe(
            Path(folder) / "server",
            models=[args.model],
            model_store=store,
            overrides=loopback_ports(),
        )
        with server.running(timeout=300):
            url, kind = (
                (server.inference_url, "inference")
                if args.door
                else (server.backend_url, "backend")
            )
            headers = server.headers(kind)
            metrics = server.backend["metrics_address"]
            drive(url, headers, args.model, 300)  # warm up
            frontend = server.frontend()
            assert frontend is not None
            workers = [
                p
                for p in frontend.children(recursive=True)
                if "model_service_worker" in " ".join(p.cmdline())
            ]
            before = scrape(metrics)
            cpu_before = [cpu_seconds(p) for p in (frontend, *workers)]
            threads_before = thread_cpu(frontend.pid)
            worker_threads_before = [thread_cpu(p.pid) for p in workers]
            profiler = None
            if args.spy:
                seconds = args.seconds if args.clients > 1 else max(3, args.requests * 0.004)
                target = frontend.pid if args.spy == "frontend" else workers[0].pid
                profile = (
                    args.out
                    / f"{args.model}-{args.spy}.{'jfr' if args.spy == 'frontend' else 'txt'}"
                )
                profiler = spy(args.spy, target, seconds, profile)
            began = time.perf_counter()
            if args.clients > 1:
                workload = WORKLOADS[args.model]
                run = run_wrk(
                    url + workload.path,
                    workload.bodies,
                    headers | {"Content-Type": workload.content_type},
                    args.clients,
                    args.seconds,
                )
                args.requests = run.requests
                p50, p99 = run.p50_ms, run.p99_ms
            else:
                latencies = sorted(drive(url, headers, args.model, args.requests))
                p50 = statistics.median(latencies)
                p99 = latencies[int(0.99 * len(latencies))]
            wall = time.perf_counter() - began
            after = scrape(metrics)
            threads_after = thread_cpu(frontend.pid)
            worker_threads_after = [thread_cpu(p.pid) for p in workers]
            cpu = [
                cpu_seconds(p) - b for p, b in zip((frontend, *workers), cpu_before, strict=True)
            ]
            if profiler is not None:
                profiler.wait(timeout=120)
                deadline = time.monotonic() + 60  # JFR writes its file when the duration ends
                while args.spy == "frontend" and not profile.exists():
                    if time.monotonic() > deadline:
                        raise SystemExit(f"JFR wrote no {profile}")
                    time.sleep(0.2)  # polling for the file itself
            count = args.requests
            delta = {name: after[name] - before[name] for name in COUNTERS}
            report = {
                "model": args.model,
                "settings": args.set,
                "requests": count,
                "req_per_s": round(count / wall, 1),
                "client_p50_ms": round(p50, 3),
                "client_p99_ms": round(p99, 3),
                "ts_queue_ms": round(delta["ts_queue_latency_microseconds"] / count / 1000, 3),
                "ts_inference_ms": round(
                    delta["ts_inference_latency_microseconds"] / count / 1000, 3
                ),
                "handler_ms_per_batch": round(
                    1000
                    * delta["ts_handler_batch_duration_seconds_sum"]
                    / max(1, delta["ts_handler_batch_duration_seconds_count"]),
                    3,
                ),
                "batches": delta["ts_handler_batch_duration_seconds_count"],
                "frontend_cpu_ms": round(1000 * cpu[0] / count, 3),
                "workers_cpu_ms": round(1000 * sum(cpu[1:]) / count, 3),
            }
            print(yaml.safe_dump(report, sort_keys=False))
            spent = {
                name: 1000 * (threads_after[name] - threads_before.get(name, 0.0)) / count
                for name in threads_after
            }
            print("frontend CPU ms per request, by thread:")
            for name, value in sorted(spent.items(), key=lambda item: -item[1])[:12]:
                print(f"  {value:7.3f}  {name}")
            print("workers' CPU ms per request, by thread:")
            for index, (b, a) in enumerate(
                zip(worker_threads_before, worker_threads_after, strict=True)
            ):
                for name in a:
                    value = 1000 * (a[name] - b.get(name, 0.0)) / count
                    if value > 0.001:
                        print(f"  {value:7.3f}  worker {index} {name}")
    if args.spy:
        ranked = hottest_java(profile) if args.spy == "frontend" else hottest_python(profile)
        for frame, share in ranked:
            print(f"{share:6.1%}  {frame}")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
