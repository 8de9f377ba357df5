"""Send seeded malformed requests to a live TorchServe beside valid traffic; report.

Fails (``Report.failures``) on: a 5xx answer to a malformed case whose ``type`` is not a
Java exception of the frontend (those go to the "frontend" bucket: TorchServe bugs the
handlers never see), any non-200 answer to a valid request, any worker restart (pids
before vs after), any timeout or dropped connection.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from fuzz.cases import JSON, PNG, Case, cases
from loadtests.payloads import cancer_row_json, digit_png, texts_json
from server.launcher import TorchServe, port_overrides
from tests.ports import free_ports

MODELS = ("digits", "cancer", "minilm")
TIMEOUT = 30.0  # seconds per request
# 5xx "type"s that come from the worker path (a handler crash, a dead worker): failures.
WORKER_TYPES = {"InternalServerException", "ServiceUnavailableException", "InternalError"}
JAVA_TYPE = re.compile(r"^[A-Z][A-Za-z0-9_]*(Exception|Error)$")


@dataclass
class Report:
    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # model, family, bucket
    valid: Counter[tuple[str, str]] = field(default_factory=Counter)  # model, status
    failures: list[str] = field(default_factory=list)
    seed: int = 0
    count: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures

    def render(self) -> str:
        lines = [f"fuzz: {self.count} cases, seed {self.seed}, {self.seconds:.1f} s"]
        rows: dict[tuple[str, str], Counter[str]] = {}
        for (model, family, bucket), number in self.counts.items():
            rows.setdefault((model, family), Counter())[bucket] += number
        for (model, family), buckets in sorted(rows.items()):
            spread = " ".join(f"{bucket}={n}" for bucket, n in sorted(buckets.items()))
            lines.append(f"  {model:7} {family:24} {spread}")
        valid = " ".join(f"{m}:{s}={n}" for (m, s), n in sorted(self.valid.items()))
        lines.append(f"  valid   {valid}")
        lines.append(f"failures: {len(self.failures)}")
        by_family = Counter[str]()
        for (model, family, bucket), number in self.counts.items():
            if bucket in ("timeout", "no-answer") or (bucket.isdigit() and int(bucket) >= 500):
                by_family[f"{model} {family}"] += number
        if by_family:
            spread = ", ".join(f"{name}={n}" for name, n in sorted(by_family.items()))
            lines.append(f"  failing families: {spread}")
        # Restarts and valid-request failures first: they are the worst and the fewest.
        ordered = sorted(self.failures, key=lambda failure: failure.startswith("#"))
        lines += [f"  {failure}" for failure in ordered[:40]]
        if len(ordered) > 40:
            lines.append(f"  ... {len(ordered) - 40} more")
        return "\n".join(lines)


def bucket_of(status: int, body: bytes) -> tuple[str, bool]:
    """(bucket name, is a failure) of one answer to a malformed case."""
    if status < 500:
        return str(status), False
    kind = _error_type(body)
    if kind and kind not in WORKER_TYPES and JAVA_TYPE.match(kind):
        return f"frontend-{status}", False
    return str(status), True


def _error_type(body: bytes) -> str:
    try:
        document: Any = requests.models.complexjson.loads(body)
    except ValueError:
        return ""
    kind = document.get("type") if isinstance(document, dict) else None
    return kind if isinstance(kind, str) else ""


def worker_pids(server: TorchServe) -> dict[str, list[int]]:
    pids = {}
    for model in MODELS:
        response = requests.get(
            f"{server.management_url}/models/{model}",
            headers=server.headers("management"),
            timeout=TIMEOUT,
        )
        response.raise_for_status()
        pids[model] = sorted(worker["pid"] for worker in response.json()[0]["workers"])
    return pids


def valid_requests() -> list[tuple[str, bytes, str]]:
    return [
        ("digits", digit_png(), PNG),
        ("cancer", cancer_row_json(3), JSON),
        ("minilm", texts_json(0, 4), JSON),
    ]


def run(
    server: TorchServe, count: int = 10_000, seed: int = 0, threads: int = 4, valid_threads: int = 2
) -> Report:
    """Send ``count`` cases with ``threads`` threads while ``valid_threads`` send valid ones."""
    report = Report(seed=seed, count=count)
    lock = threading.Lock()
    local = threading.local()
    url = f"{server.inference_url}/predictions"
    auth = server.headers("inference")

    def session() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        return local.session

    def post(model: str, body: bytes, content_type: str | None) -> requests.Response:
        headers = dict(auth)
        if content_type is not None:
            headers["Content-Type"] = content_type
        return session().post(f"{url}/{model}", data=body, headers=headers, timeout=TIMEOUT)

    def send(case: Case) -> None:
        try:
            response = post(case.model, case.body, case.content_type)
        except requests.Timeout:
            bucket, failed, detail = "timeout", True, "timeout"
        except requests.RequestException as exc:
            bucket, failed, detail = "no-answer", True, type(exc).__name__
        else:
            bucket, failed = bucket_of(response.status_code, response.content)
            detail = f"{response.status_code} {response.text[:160]!r}"
        with lock:
            report.counts[case.model, case.family, bucket] += 1
            if failed:
                report.failures.append(f"{case.repro()} -> {detail}")

    stop = threading.Event()

    def send_valid(offset: int) -> None:
        bodies = valid_requests()
        turn = offset
        while not stop.is_set():
            model, body, content_type = bodies[turn % len(bodies)]
            turn += 1
            try:
                status = str(post(model, body, content_type).status_code)
            except requests.Timeout:
                status = "timeout"
            except requests.RequestException as exc:
                status = type(exc).__name__
            with lock:
                report.valid[model, status] += 1
                if status != "200":
                    report.failures.append(f"valid {model} request -> {status}")

    before = worker_pids(server)
    started = time.monotonic()
    background = [
        threading.Thread(target=send_valid, args=(index,), daemon=True)
        for index in range(valid_threads)
    ]
    for thread in background:
        thread.start()
    try:
        with ThreadPoolExecutor(threads) as pool:
            for _ in pool.map(send, cases(seed, count)):
                pass
    finally:
        stop.set()
        for thread in background:
            thread.join(TIMEOUT + 5)
    report.seconds = time.monotonic() - started
    after = worker_pids(server)
    for model in MODELS:
        if before[model] != after[model]:
            report.failures.append(
                f"{model} workers restarted: pids {before[model]} -> {after[model]}"
            )
    return report


@contextmanager
def own_server(run_dir: Path) -> Iterator[TorchServe]:
    """A READY TorchServe with every model, on free loopback ports; always stopped."""
    inference, management, metrics, *grpc = free_ports(5)
    overrides = port_overrides("127.0.0.1", inference, management, metrics, (grpc[0], grpc[1]))
    instance = TorchServe(run_dir, models=list(MODELS), overrides=overrides)
    instance.start()
    try:
        instance.wait_ready(timeout=300)
        yield instance
    finally:
        instance.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__)
    parser.add_argument("--count", type=int, default=10_000, help="malformed cases to send")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=4, help="threads sending cases")
    parser.add_argument("--valid-threads", type=int, default=2, help="threads sending valid ones")
    parser.add_argument(
        "--reuse",
        type=Path,
        metavar="RUN_DIR",
        help="fuzz the running TorchServe of this run folder (`make serve`: .run) "
        "instead of starting one",
    )
    args = parser.parse_args(argv)
    options = {
        "count": args.count,
        "seed": args.seed,
        "threads": args.threads,
        "valid_threads": args.valid_threads,
    }
    if args.reuse:
        served = TorchServe(args.reuse, config=args.reuse / "config.properties")
        report = run(served, **options)
    else:
        with tempfile.TemporaryDirectory(prefix="fuzz-") as folder, own_server(Path(folder)) as ts:
            report = run(ts, **options)
    print(report.render())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
