"""The handlers' own metrics and request log: what TorchServe 0.12 cannot export itself.

TorchServe's frontend exports latencies as running totals and builds every histogram with
the Java client's fixed default buckets (0.005 ... 10, no way to set others), so a handler
emits its histograms as Prometheus does on the wire: cumulative ``_bucket{le=...}``,
``_sum`` and ``_count`` series, with buckets chosen here. The frontend registers them as
gauges (a gauge holds the worker's cumulative value; ``rate()`` and ``histogram_quantile()``
treat them as any histogram), one series set per worker (label ``worker``), as the frontend
would overwrite one worker's totals with another's. Counters are sent as increments and
summed by the frontend, so they carry no ``worker`` label.

``CATALOG`` names every metric, its type, labels and meaning; docs/metrics.md is checked
against it. ``Recorder`` keeps the counts of one worker and ``drain`` returns what changed
since the last call; the handler sends that to the frontend at most once per interval
(handlers/batched_handler.py), so the cost does not grow with the request rate.

Time spent before the handler (TorchServe's queue and batching delay) is only known from the
front door's ``X-Request-Start: t=<microseconds since the epoch>`` header (HAProxy:
``http-request set-header X-Request-Start t=%[date(0,us)]``): without it the request
duration and queue wait histograms stay at zero and the request log leaves them out.

This module imports no TorchServe code.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

# Seconds, from about 1 ms (a lone tabular row) to 10 s (a full batch of long texts on a
# busy machine); TorchServe's own histograms would start at 5 ms.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
STATUS_CLASSES = ("2xx", "4xx", "5xx")
START_HEADER = "X-Request-Start"
# A door stamp older than this (or in the future by more than SKEW) is a client's or a
# replay's: not a latency of ours.
MAX_AGE = 3600.0  # s
SKEW = 1.0  # s


@dataclass(frozen=True)
class Spec:
    """One metric as /metrics shows it (histograms: the family, without ``_bucket``...)."""

    name: str
    kind: str  # "histogram" | "counter" | "gauge", as Prometheus calls them
    labels: tuple[str, ...]
    help: str
    unit: str = ""


MODEL = ("model_name", "model_version")
REQUEST_DURATION = Spec(
    "ts_handler_request_duration_seconds",
    "histogram",
    (*MODEL, "worker"),
    "front door's receipt of a request (X-Request-Start) to its answer leaving the handler",
    "s",
)
QUEUE_WAIT = Spec(
    "ts_handler_queue_wait_seconds",
    "histogram",
    (*MODEL, "worker"),
    "front door's receipt of a request to its batch entering the handler (TorchServe's "
    "queue and batching delay)",
    "s",
)
BATCH_DURATION = Spec(
    "ts_handler_batch_duration_seconds",
    "histogram",
    (*MODEL, "worker"),
    "handler time of one batch: decoding, the model call, answers (one observation a batch)",
    "s",
)
BATCH_SIZE = Spec(
    "ts_handler_batch_size",
    "histogram",
    (*MODEL, "worker"),
    "requests in one batch; one bucket per size up to the model's batchSize",
)
REQUESTS = Spec(
    "ts_handler_requests_total",
    "counter",
    (*MODEL, "status_class"),
    "requests the handler answered, by status class (2xx, 4xx, 5xx)",
)
REQUEST_ERRORS = Spec(
    "ts_handler_request_errors_total",
    "counter",
    (*MODEL, "error_type"),
    "requests the handler refused (4xx) or failed (500), by error type "
    "(InputError, UnsupportedMediaType, PayloadTooLarge, InternalError)",
)
WORKER_START = Spec(
    "ts_handler_worker_start_time_seconds",
    "gauge",
    (*MODEL, "worker"),
    "when the worker loaded the model (Unix time); a change is a worker restart",
    "s",
)
CATALOG: tuple[Spec, ...] = (
    REQUEST_DURATION,
    QUEUE_WAIT,
    BATCH_DURATION,
    BATCH_SIZE,
    REQUESTS,
    REQUEST_ERRORS,
    WORKER_START,
)

# name, Prometheus type as TorchServe's metric lines spell it, labels, value
Sample = tuple[str, str, dict[str, str], float]


def batch_buckets(max_batch: int) -> tuple[float, ...]:
    """Integer buckets 1 ... ``max_batch``: every batch size has its own."""
    return tuple(float(size) for size in range(1, max(1, max_batch) + 1))


def le(bound: float) -> str:
    """A bucket's ``le`` value as Prometheus clients write it: 0.005, 1.0, 32.0."""
    return repr(float(bound))


@dataclass
class Histogram:
    """Cumulative counts of one histogram for one worker."""

    spec: Spec
    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * len(self.buckets)

    def observe(self, value: float) -> None:
        for index, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[index] += 1
                break
        self.total += value
        self.count += 1

    def samples(self, labels: dict[str, str]) -> list[Sample]:
        """``_bucket`` (cumulative, ``+Inf`` last), ``_sum`` and ``_count``, as gauges."""
        name, out, running = self.spec.name, [], 0
        for bound, count in zip(self.buckets, self.counts, strict=True):
            running += count
            out.append((f"{name}_bucket", "GAUGE", labels | {"le": le(bound)}, float(running)))
        out.append((f"{name}_bucket", "GAUGE", labels | {"le": "+Inf"}, float(self.count)))
        out.append((f"{name}_sum", "GAUGE", labels, round(self.total, 6)))
        out.append((f"{name}_count", "GAUGE", labels, float(self.count)))
        return out


@dataclass(frozen=True)
class Outcome:
    """How one request of a batch was answered."""

    request_id: str
    status: int
    error_type: str | None = None  # the RequestError's class name when refused or failed
    start: float | None = None  # the door's receipt (Unix time), when it stamped the request


class Recorder:
    """One worker's metrics: observed per batch, drained as samples for the frontend."""

    def __init__(
        self,
        model_name: str,
        model_version: str,
        worker: str,
        max_batch: int,
        error_types: Iterable[str],
    ) -> None:
        self.labels = {"model_name": model_name, "model_version": model_version}
        self.worker_labels = self.labels | {"worker": worker}
        self.histograms = {
            spec.name: Histogram(spec, buckets)
            for spec, buckets in (
                (REQUEST_DURATION, LATENCY_BUCKETS),
                (QUEUE_WAIT, LATENCY_BUCKETS),
                (BATCH_DURATION, LATENCY_BUCKETS),
                (BATCH_SIZE, batch_buckets(max_batch)),
            )
        }
        # Increments not yet sent; every known label value starts at 0 so each series
        # exists (and rates are 0, not absent) before the first error.
        self.increments: dict[tuple[str, str, str], float] = {
            (REQUESTS.name, "status_class", status): 0.0 for status in STATUS_CLASSES
        } | {(REQUEST_ERRORS.name, "error_type", kind): 0.0 for kind in error_types}
        self.started = time.time()
        self.changed = set(self.histograms)
        self.start_sent = False
        self.lock = threading.Lock()

    def observe(self, outcomes: Sequence[Outcome], began: float, ended: float) -> None:
        """One batch: ``outcomes`` per request; ``began``/``ended`` as Unix times."""
        with self.lock:
            self._histogram(BATCH_SIZE).observe(len(outcomes))
            self._histogram(BATCH_DURATION).observe(ended - began)
            for outcome in outcomes:
                status = f"{outcome.status // 100}xx"
                key = (REQUESTS.name, "status_class", status)
                self.increments[key] = self.increments.get(key, 0.0) + 1
                if outcome.error_type:
                    key = (REQUEST_ERRORS.name, "error_type", outcome.error_type)
                    self.increments[key] = self.increments.get(key, 0.0) + 1
                if outcome.start is not None:
                    self._histogram(QUEUE_WAIT).observe(max(0.0, began - outcome.start))
                    self._histogram(REQUEST_DURATION).observe(max(0.0, ended - outcome.start))

    def _histogram(self, spec: Spec) -> Histogram:
        self.changed.add(spec.name)
        return self.histograms[spec.name]

    @property
    def pending(self) -> bool:
        return bool(self.changed) or any(self.increments.values()) or not self.start_sent

    def drain(self) -> list[Sample]:
        """What changed since the last drain: whole histograms, counter increments."""
        with self.lock:
            # Sent every time: TorchServe 0.12 drops a metric's first line when two workers
            # register it at once (WorkerLifeCycle, no lock), and this one is never resent.
            start = (WORKER_START.name, "GAUGE", self.worker_labels, round(self.started, 3))
            samples: list[Sample] = [start]
            # The first drain sends every counter, zeros included: they register the series
            # with the frontend before any traffic.
            zeros = dict(self.increments) if not self.start_sent else {}
            for name in sorted(self.changed):
                samples += self.histograms[name].samples(self.worker_labels)
            for (name, label, value), increment in self.increments.items():
                if increment or (name, label, value) in zeros:
                    samples.append((name, "COUNTER", self.labels | {label: value}, increment))
            self.increments = dict.fromkeys(self.increments, 0.0)
            self.changed.clear()
            self.start_sent = True
            return samples


def door_start(header: Any, now: float) -> float | None:
    """The door's receipt time (Unix seconds) from ``X-Request-Start: t=<number>``.

    The number is microseconds since the epoch (HAProxy's ``%[date(0,us)]``); milliseconds
    and seconds (``t=1700000000.123``) are read too, by magnitude, as other proxies send
    them. A missing, malformed or implausible stamp gives None.
    """
    if not isinstance(header, str):
        return None
    text = header.strip().removeprefix("t=")
    try:
        value = float(text)
    except ValueError:
        return None
    if value > 1e14:
        value /= 1e6
    elif value > 1e11:
        value /= 1e3
    if not now - MAX_AGE <= value <= now + SKEW:
        return None
    return value


def log_lines(recorder: Recorder, outcomes: Sequence[Outcome], began: float, ended: float) -> str:
    """One JSON line per request of a batch: never its body, headers or key."""
    stamp = (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ended)) + f".{int(ended % 1 * 1000):03d}Z"
    )
    lines = []
    for outcome in outcomes:
        entry: dict[str, Any] = {
            "event": "request",
            "time": stamp,
            "request_id": outcome.request_id,
            "model": recorder.labels["model_name"],
            "version": recorder.labels["model_version"],
            "worker": recorder.worker_labels["worker"],
            "status": outcome.status,
            "handler_ms": round((ended - began) * 1000, 3),
            "batch_size": len(outcomes),
        }
        if outcome.start is not None:
            entry["latency_ms"] = round((ended - outcome.start) * 1000, 3)
            entry["queue_ms"] = round(max(0.0, began - outcome.start) * 1000, 3)
        if outcome.error_type:
            entry["error_type"] = outcome.error_type
        lines.append(json.dumps(entry, separators=(",", ":")))
    return "\n".join(lines)
