"""`make monitor`: Prometheus beside the `make serve` server (its door serves the metrics).

    python -m monitor.stack start        # Prometheus on 9090 (READY)
    python -m monitor.stack screenshot   # some traffic, then a PNG of a graph with data
    python -m monitor.stack stop

Both run in the background with their pids, logs and Prometheus's data under
.run/monitor/; ``start`` returns once Prometheus answers /-/ready and has scraped both
targets, and fails with the log tail if either process dies first.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import requests

from client import Client, TServeError
from server.settings import EXAMPLES, RUN_DIR

FOLDER = RUN_DIR / "monitor"
CONFIG = Path(__file__).resolve().parent / "prometheus.yml"
PROMETHEUS_URL = "http://127.0.0.1:9090"
SCREENSHOT = FOLDER / "prometheus-graph.png"
GRAPH = (
    "histogram_quantile(0.95, sum by (model_name, le) "
    "(rate(ts_handler_batch_duration_seconds_bucket[1m])))"
)
DEADLINE = 60.0  # s for Prometheus to be ready and to hold data


def pid_file(name: str) -> Path:
    return FOLDER / f"{name}.pid"


def launch(name: str, command: list[str]) -> subprocess.Popen[bytes]:
    FOLDER.mkdir(parents=True, exist_ok=True)
    with (FOLDER / f"{name}.log").open("ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    pid_file(name).write_text(str(process.pid))
    return process


def wait_for(
    what: str, check: Callable[[], bool], processes: list[subprocess.Popen[bytes]]
) -> None:
    deadline = time.monotonic() + DEADLINE
    while not check():
        for process in processes:
            if process.poll() is not None:
                raise SystemExit(f"{process.pid} exited ({process.returncode}): see {FOLDER}/*.log")
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} not seen after {DEADLINE:.0f}s: see {FOLDER}/*.log")
        time.sleep(0.5)  # polling interval, bounded by the deadline


def query(expr: str) -> list[dict[str, object]]:
    try:
        answer = requests.get(f"{PROMETHEUS_URL}/api/v1/query", params={"query": expr}, timeout=5)
        result: list[dict[str, object]] = answer.json()["data"]["result"]
        return result
    except (requests.RequestException, ValueError, KeyError):
        return []


def start() -> None:
    stop(quiet=True)
    prometheus = launch(
        "prometheus",
        [
            "prometheus",
            f"--config.file={CONFIG}",
            f"--storage.tsdb.path={FOLDER / 'data'}",
            "--web.listen-address=127.0.0.1:9090",
            "--storage.tsdb.retention.time=2d",
        ],
    )
    wait_for("both targets up", lambda: len(query("up == 1")) == 2, [prometheus])
    print(f"Prometheus: {PROMETHEUS_URL} (graph, alerts), scraping the door's metrics port")
    print("dashboard for Grafana: monitor/dashboard.json; stop: make monitor-stop")


def traffic(requests_per_model: int = 200) -> None:
    client = Client(retries=0)
    seven = (EXAMPLES / "seven.png").read_bytes()
    row = json.loads((EXAMPLES / "cancer_row.json").read_text())
    for index in range(requests_per_model):
        client.predict("digits", image=seven)
        client.predict("cancer", document=row)
        if index % 20 == 0:
            with contextlib.suppress(TServeError):  # a refusal on purpose: 4xx in the graphs
                client.predict("cancer", vector=[1.0, 2.0])


def screenshot() -> Path:
    traffic()
    wait_for("handler data in Prometheus", lambda: bool(query(GRAPH)), [])
    url = f"{PROMETHEUS_URL}/graph?" + urllib.parse.urlencode(
        {"g0.expr": GRAPH, "g0.tab": "0", "g0.range_input": "2m"}
    )
    subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1400,900",
            "--virtual-time-budget=15000",
            f"--screenshot={SCREENSHOT}",
            url,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    print(f"screenshot: {SCREENSHOT}")
    return SCREENSHOT


def stop(quiet: bool = False) -> None:
    for name in ("prometheus",):
        path = pid_file(name)
        try:
            pid = int(path.read_text())
        except (FileNotFoundError, ValueError):
            continue
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
            if not quiet:
                print(f"stopped {name} ({pid})")
        path.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m monitor.stack")
    parser.add_argument("action", choices=["start", "stop", "screenshot"])
    action = parser.parse_args().action
    {"start": start, "stop": stop, "screenshot": screenshot}[action]()


if __name__ == "__main__":
    main()
