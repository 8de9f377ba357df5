"""Against a real TorchServe: every metric the dashboard and the alert rules query is on its
/metrics or the management exporter's; the handlers' metrics count what was served; each
request has its JSON log line under the request id the server returned."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from monitor import queries
from server.launcher import TorchServe
from server.settings import ROOT
from tests.integration.conftest import Api

SEVEN = (ROOT / "examples" / "seven.png").read_bytes()
ROW = json.loads((ROOT / "examples" / "cancer_row.json").read_text())
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)", re.M)
DEADLINE = 30.0  # s: workers send their metrics at most once a second


def eventually(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + DEADLINE
    while not (found := check()):
        assert time.monotonic() < deadline, f"{what} not seen in {DEADLINE:.0f}s"
        time.sleep(0.2)  # polling interval, bounded by the deadline
    return found


def scrape(server: TorchServe) -> str:
    return requests.get(f"{server.metrics_url}/metrics", timeout=10).text


def value(text: str, name: str, **labels: str) -> float:
    """Sum of ``name``'s samples whose labels include ``labels``."""
    total = 0.0
    for sample, label_text, number in SAMPLE.findall(text):
        if sample == name and all(f'{k}="{v}"' in (label_text or "") for k, v in labels.items()):
            total += float(number)
    return total


def names(text: str) -> set[str]:
    """Every metric family declared (``# TYPE``) or sampled in Prometheus text."""
    declared = set(re.findall(r"^# TYPE (\S+)", text, re.M))
    return declared | {sample for sample, _, _ in SAMPLE.findall(text)}


def stamped(api: Api, model: str, **kwargs: Any) -> requests.Response:
    """A request as the front door forwards it: stamped with its receipt time."""
    door = {"X-Request-Start": f"t={int(time.time() * 1e6)}"}
    return api.predict(model, headers=door | kwargs.pop("headers", {}), **kwargs)


def test_every_metric_the_dashboard_and_rules_query_exists(server: TorchServe) -> None:
    # Everything the door's metrics port serves: TorchServe's and the exporter's.
    workers = requests.get(f"{server.metrics_url}/workers/metrics", timeout=30)
    assert workers.status_code == 200, workers.text
    text = scrape(server) + workers.text
    exported = names(text)
    for expr in queries.expressions():
        missing = queries.metric_names(expr) - exported - {"up"}  # up: Prometheus's own
        assert not missing, f"{sorted(missing)} of {expr!r} not exported"
    assert "ts_management_up 1" in text.splitlines()
    assert value(text, "ts_model_workers", model_name="digits", status="READY") == 2


def test_handler_metrics_count_what_was_served(server: TorchServe, api: Api) -> None:
    model = {"model_name": "cancer", "model_version": "1.0"}
    before = scrape(server)
    ok = [stamped(api, "cancer", json=ROW) for _ in range(5)]
    bad = stamped(api, "cancer", json={"inputs": [1.0, 2.0]})
    assert [reply.status_code for reply in ok] == [200] * 5 and bad.status_code == 400

    def counted() -> str | None:
        # Each worker sends on its own: wait until the last request's counts are in too.
        text = scrape(server)
        name = "ts_handler_request_duration_seconds_count"
        return text if value(text, name, **model) - value(before, name, **model) >= 6 else None

    after = eventually(counted, "5 answers in ts_handler_requests_total")

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **model, **labels) - value(before, name, **model, **labels)

    assert delta("ts_handler_requests_total", status_class="2xx") == 5
    assert delta("ts_handler_requests_total", status_class="4xx") == 1
    assert delta("ts_handler_request_errors_total", error_type="InputError") == 1
    assert delta("ts_handler_request_duration_seconds_count") == 6, "each stamped request"
    assert delta("ts_handler_queue_wait_seconds_count") == 6
    inf = delta("ts_handler_request_duration_seconds_bucket", le="+Inf")
    assert delta("ts_handler_request_duration_seconds_bucket", le="10.0") == inf == 6
    # Integer batch buckets up to the model's batchSize (32), cumulative.
    assert value(after, "ts_handler_batch_size_bucket", **model, le="32.0") == value(
        after, "ts_handler_batch_size_count", **model
    )
    assert 'le="33.0"' not in after and 'model_version="default"' not in "".join(
        line for line in after.splitlines() if line.startswith("ts_handler_")
    )


def test_each_request_has_a_json_log_line_under_the_returned_request_id(
    server: TorchServe, api: Api
) -> None:
    reply = stamped(api, "digits", data=SEVEN, headers={"Content-Type": "image/png"})
    refused = api.predict("cancer", json={"inputs": [1.0, 2.0], "secret": "do-not-log"})
    assert reply.status_code == 200 and refused.status_code == 400
    logs = Path(server.log_file.parent)
    wanted = {reply.headers["x-request-id"], refused.headers["x-request-id"]}

    def logged() -> dict[str, dict[str, Any]] | None:
        path = logs / "request_log.log"
        lines = path.read_text().splitlines() if path.exists() else []
        entries = {entry["request_id"]: entry for entry in map(json.loads, lines)}
        return entries if wanted <= set(entries) else None

    entries = eventually(logged, "both requests in request_log.log")
    served = entries[reply.headers["x-request-id"]]
    assert (served["model"], served["version"], served["status"]) == ("digits", "1.0", 200)
    assert served["latency_ms"] >= served["queue_ms"] >= 0 and served["handler_ms"] > 0
    failed = entries[refused.headers["x-request-id"]]
    assert (failed["status"], failed["error_type"]) == (400, "InputError")
    assert failed["latency_ms"] >= 0, "the door stamps every request (X-Request-Start)"
    text = (logs / "request_log.log").read_text()
    assert "do-not-log" not in text and "Bearer" not in text
    assert '{"event":"request"' not in (logs / "model_log.log").read_text(), "one place"
