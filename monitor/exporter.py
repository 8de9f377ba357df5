"""Prometheus metrics TorchServe 0.12 keeps only in its management API: workers and queues.

``/metrics`` has no worker count or queue depth; ``GET /models/<m>/all`` has both (workers
with their status, ``minWorkers``/``maxWorkers``, ``jobQueueStatus.pendingRequests``). This
exporter asks it on every scrape (no cache, no thread) and answers Prometheus's text format:

    python -m monitor.exporter [--port 9181]   # uses the `make serve` server's key file

``render`` is pure (describe answers in, text out) and unit-tested; ``CATALOG`` lists what it
exports for docs/metrics.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from client import Client, TServeError
from handlers.metrics import Spec

PORT = 9181  # loopback: Prometheus's own is 9090, node_exporter's 9100
STATUSES = ("READY", "LOADING", "UNLOADING")  # every worker status TorchServe 0.12 reports
MODEL = ("model_name", "model_version")

UP = Spec("ts_management_up", "gauge", (), "1 when the management API answered this scrape")
WORKERS = Spec(
    "ts_model_workers",
    "gauge",
    (*MODEL, "status"),
    "workers by status (READY serves; LOADING, UNLOADING do not), each status always present",
)
WORKERS_MIN = Spec("ts_model_workers_min", "gauge", MODEL, "configured minWorkers")
WORKERS_MAX = Spec("ts_model_workers_max", "gauge", MODEL, "configured maxWorkers")
BATCH_MAX = Spec("ts_model_batch_size_max", "gauge", MODEL, "configured batchSize")
BATCH_DELAY = Spec("ts_model_batch_delay_seconds", "gauge", MODEL, "configured maxBatchDelay", "s")
QUEUE = Spec(
    "ts_model_queue_pending_requests",
    "gauge",
    MODEL,
    "requests waiting in the model's job queue (jobQueueStatus.pendingRequests)",
)
QUEUE_FREE = Spec(
    "ts_model_queue_remaining_capacity",
    "gauge",
    MODEL,
    "requests the job queue still takes before TorchServe answers 503",
)
CATALOG: tuple[Spec, ...] = (
    UP,
    WORKERS,
    WORKERS_MIN,
    WORKERS_MAX,
    BATCH_MAX,
    BATCH_DELAY,
    QUEUE,
    QUEUE_FREE,
)


def _labels(pairs: dict[str, str]) -> str:
    if not pairs:
        return ""
    escaped = {key: value.replace("\\", "\\\\").replace('"', '\\"') for key, value in pairs.items()}
    return "{" + ",".join(f'{key}="{value}"' for key, value in escaped.items()) + "}"


def render(described: Iterable[dict[str, Any]] | None) -> str:
    """Prometheus text for the ``GET /models/<m>/all`` entries (None: the API failed)."""
    rows: dict[str, list[str]] = {spec.name: [] for spec in CATALOG}

    def add(spec: Spec, labels: dict[str, str], value: float) -> None:
        rows[spec.name].append(f"{spec.name}{_labels(labels)} {value:g}")

    add(UP, {}, 0 if described is None else 1)
    for entry in described or ():
        model = {"model_name": entry["modelName"], "model_version": entry["modelVersion"]}
        workers = [worker.get("status", "") for worker in entry.get("workers", [])]
        for status in dict.fromkeys([*STATUSES, *workers]):
            add(WORKERS, model | {"status": status}, workers.count(status))
        add(WORKERS_MIN, model, entry.get("minWorkers", 0))
        add(WORKERS_MAX, model, entry.get("maxWorkers", 0))
        add(BATCH_MAX, model, entry.get("batchSize", 1))
        add(BATCH_DELAY, model, entry.get("maxBatchDelay", 0) / 1000)
        queue = entry.get("jobQueueStatus", {})
        add(QUEUE, model, queue.get("pendingRequests", 0))
        add(QUEUE_FREE, model, queue.get("remainingCapacity", 0))
    lines = []
    for spec in CATALOG:
        lines += [f"# HELP {spec.name} {spec.help}", f"# TYPE {spec.name} {spec.kind}"]
        lines += rows[spec.name]
    return "\n".join(lines) + "\n"


def describe_all(client: Client) -> list[dict[str, Any]] | None:
    """Every version of every registered model, or None when the API does not answer."""
    try:
        return [
            entry
            for model in client.list_models()
            for entry in client.describe(model["modelName"], "all")
        ]
    except (TServeError, OSError):
        return None


def serve(port: int, scrape: Callable[[], str], host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """An HTTP server answering ``GET /metrics`` with ``scrape()`` (call serve_forever)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404, "only /metrics here")
                return
            body = scrape().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # quiet: one per scrape
            pass

    return ThreadingHTTPServer((host, port), Handler)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m monitor.exporter", description=__doc__)
    parser.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args(argv)
    client = Client(retries=0, timeout=5)
    server = serve(args.port, lambda: render(describe_all(client)))
    print(f"exporter: http://127.0.0.1:{args.port}/metrics (management {client.management_url})")
    server.serve_forever()


if __name__ == "__main__":
    main()
