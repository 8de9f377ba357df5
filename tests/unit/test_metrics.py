"""The handlers' metrics (handlers/metrics.py), the management exporter's text, the request
log line, and docs/metrics.md's table against the code."""

from __future__ import annotations

import json
import time

import pytest

from handlers import metrics
from handlers.metrics import Outcome, Recorder, door_start, log_lines
from monitor import exporter, queries

ERRORS = ("InputError", "InternalError")


def recorder(max_batch: int = 4) -> Recorder:
    return Recorder("cancer", "1.0", "9000", max_batch, ERRORS)


def values(samples: list[metrics.Sample], name: str) -> dict[str, float]:
    """``name``'s samples by their distinguishing label (le, status_class, error_type)."""
    found = {}
    for sample_name, _kind, labels, value in samples:
        if sample_name == name:
            extra = set(labels) - {"model_name", "model_version", "worker"}
            found[labels[extra.pop()] if extra else ""] = value
    return found


def test_a_batch_fills_cumulative_buckets_up_to_the_configured_size() -> None:
    rec = recorder(max_batch=4)
    rec.drain()
    outcomes = [Outcome("a", 200), Outcome("b", 200), Outcome("c", 400, "InputError")]
    rec.observe(outcomes, began=100.0, ended=100.003)
    samples = rec.drain()
    assert values(samples, "ts_handler_batch_size_bucket") == {
        "1.0": 0,
        "2.0": 0,
        "3.0": 1,
        "4.0": 1,
        "+Inf": 1,
    }
    buckets = values(samples, "ts_handler_batch_duration_seconds_bucket")
    assert buckets["0.001"] == 0 and buckets["0.005"] == 1 and buckets["+Inf"] == 1
    assert values(samples, "ts_handler_requests_total") == {"2xx": 2, "4xx": 1}
    assert values(samples, "ts_handler_request_errors_total") == {"InputError": 1}
    kinds = {name: kind for name, kind, _, _ in samples}
    assert kinds["ts_handler_batch_size_bucket"] == "GAUGE"
    assert kinds["ts_handler_requests_total"] == "COUNTER"


def test_first_drain_registers_every_series_at_zero_then_only_changes() -> None:
    rec = recorder()
    first = rec.drain()
    assert values(first, "ts_handler_requests_total") == {"2xx": 0, "4xx": 0, "5xx": 0}
    assert values(first, "ts_handler_request_errors_total") == dict.fromkeys(ERRORS, 0)
    assert values(first, "ts_handler_queue_wait_seconds_count") == {"": 0}
    again = rec.drain()
    assert [name for name, *_ in again] == ["ts_handler_worker_start_time_seconds"]


def test_counters_are_sent_as_increments_and_histograms_as_totals() -> None:
    rec = recorder()
    rec.drain()
    for _ in range(2):
        rec.observe([Outcome("a", 200)], 10.0, 10.0005)
        samples = rec.drain()
        assert values(samples, "ts_handler_requests_total") == {"2xx": 1}
    assert values(samples, "ts_handler_batch_size_count") == {"": 2}


def test_queue_wait_and_duration_come_from_the_door_stamp() -> None:
    rec = recorder()
    rec.drain()
    rec.observe([Outcome("a", 200, start=99.99), Outcome("b", 200)], began=100.0, ended=100.02)
    samples = rec.drain()
    assert values(samples, "ts_handler_queue_wait_seconds_count") == {"": 1}
    assert values(samples, "ts_handler_queue_wait_seconds_sum") == {"": pytest.approx(0.01)}
    assert values(samples, "ts_handler_request_duration_seconds_sum") == {"": pytest.approx(0.03)}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("t=1700000000123456", 1700000000.123456),  # HAProxy: %[date(0,us)]
        ("t=1700000000123", 1700000000.123),  # milliseconds
        ("t=1700000000.5", 1700000000.5),  # seconds
        ("1700000000.5", 1700000000.5),
        ("t=abc", None),
        ("t=1600000000", None),  # far older than any request
        ("t=1800000000", None),  # in the future
        (None, None),
    ],
)
def test_door_start(header: str | None, expected: float | None) -> None:
    found = door_start(header, now=1700000001.0)
    assert found == (pytest.approx(expected) if expected else None)


def test_log_line_per_request_names_what_happened_and_never_the_body() -> None:
    rec = recorder()
    outcomes = [Outcome("id-1", 200, start=99.0), Outcome("id-2", 413, "PayloadTooLarge")]
    lines = [json.loads(line) for line in log_lines(rec, outcomes, 100.0, 100.5).splitlines()]
    assert lines[0] == {
        "event": "request",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S.500Z", time.gmtime(100.5)),
        "request_id": "id-1",
        "model": "cancer",
        "version": "1.0",
        "worker": "9000",
        "status": 200,
        "handler_ms": 500.0,
        "batch_size": 2,
        "latency_ms": 1500.0,
        "queue_ms": 1000.0,
    }
    assert lines[1]["error_type"] == "PayloadTooLarge" and "latency_ms" not in lines[1]
    assert set(lines[1]) <= set(lines[0]) | {"error_type"}, "no other field, no body"


DESCRIBED = [
    {
        "modelName": "digits",
        "modelVersion": "1.0",
        "minWorkers": 2,
        "maxWorkers": 3,
        "batchSize": 32,
        "maxBatchDelay": 2,
        "workers": [{"status": "READY"}, {"status": "LOADING"}],
        "jobQueueStatus": {"remainingCapacity": 497, "pendingRequests": 3},
    }
]


def test_exporter_renders_workers_by_status_and_the_queue() -> None:
    text = exporter.render(DESCRIBED)
    model = 'model_name="digits",model_version="1.0"'
    for line in [
        "ts_management_up 1",
        f'ts_model_workers{{{model},status="READY"}} 1',
        f'ts_model_workers{{{model},status="LOADING"}} 1',
        f'ts_model_workers{{{model},status="UNLOADING"}} 0',
        f"ts_model_workers_min{{{model}}} 2",
        f"ts_model_workers_max{{{model}}} 3",
        f"ts_model_batch_size_max{{{model}}} 32",
        f"ts_model_batch_delay_seconds{{{model}}} 0.002",
        f"ts_model_queue_pending_requests{{{model}}} 3",
        f"ts_model_queue_remaining_capacity{{{model}}} 497",
        "# TYPE ts_model_workers gauge",
    ]:
        assert line in text.splitlines(), line
    assert exporter.render(None).splitlines()[2] == "ts_management_up 0"


def test_metric_names_are_read_out_of_promql() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (model_name, le) (rate(a_bucket{x="y"}[5m])))'
        " / on (model_name) group_left b_total * 1e6 or vector(0) > bool c"
    )
    assert queries.metric_names(expr) == {"a_bucket", "b_total", "c"}


def test_docs_metrics_table_is_the_catalog() -> None:
    documented = queries.documented_table(queries.DOC.read_text())
    assert documented == queries.table(), "docs/metrics.md is stale: python -m monitor.queries"


def test_every_metric_queried_is_documented() -> None:
    known = {spec.name for _, spec in queries.CATALOG}
    histograms = {spec.name for _, spec in queries.CATALOG if spec.kind == "histogram"}
    known |= {f"{name}_{part}" for name in histograms for part in ("bucket", "sum", "count")}
    used = set().union(*map(queries.metric_names, queries.expressions())) - {"up"}
    assert used <= known, used - known
