"""The handlers' batch size histogram reaches /metrics and agrees with X-Batch-Size."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from server.launcher import TorchServe
from server.settings import ROOT

SEVEN = (ROOT / "examples" / "seven.png").read_bytes()
LINE = re.compile(r'^ts_handler_batch_size_(count|sum)\{model_name="digits",[^}]*\} (\S+)$', re.M)
REQUESTS = 48


def batch_metric(server: TorchServe) -> dict[str, float]:
    text = requests.get(f"{server.metrics_url}/metrics", timeout=10).text
    found = {"count": 0.0, "sum": 0.0}
    for kind, value in LINE.findall(text):  # one series per worker
        found[kind] += float(value)
    return found


def predict_seven(server: TorchServe) -> requests.Response:
    headers = server.headers("inference") | {"Content-Type": "image/png"}
    url = f"{server.inference_url}/predictions/digits"
    return requests.post(url, data=SEVEN, headers=headers, timeout=30)


def wait_for_metric(server: TorchServe, at_least: float) -> dict[str, float]:
    """/metrics once the frontend has ingested ``at_least`` observed requests, or at the
    deadline: it reads the workers' metric lines asynchronously."""
    deadline = time.monotonic() + 30
    seen = batch_metric(server)
    while seen["sum"] < at_least and time.monotonic() < deadline:
        time.sleep(0.2)  # polling interval of the deadline-bound poll
        seen = batch_metric(server)
    return seen


def test_every_batch_is_observed_with_its_size(server: TorchServe) -> None:
    # Each worker sends its cumulative counts at most once a second (handlers/metrics.py):
    # a dropped line is made good by the next one.
    primed = batch_metric(server)["sum"] + 1
    assert predict_seven(server).status_code == 200
    before = wait_for_metric(server, at_least=primed)
    with ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(lambda _: predict_seven(server), range(REQUESTS)))
    assert [reply.status_code for reply in replies] == [200] * REQUESTS
    after = wait_for_metric(server, at_least=before["sum"] + REQUESTS)
    assert after["sum"] - before["sum"] == REQUESTS, "each request counted once"
    # A batch of n answers n requests, each saying n: summing 1/n over replies counts batches.
    batches = round(sum(1 / int(reply.headers["X-Batch-Size"]) for reply in replies))
    assert after["count"] - before["count"] == batches, "/metrics and X-Batch-Size differ"
