"""`make chaos` in small: the tool against cancer and minilm with a tiny load, run once.

The run's own TorchServe (free ports) gets the worker-death probe, a ``kill -9`` of one
worker per model, then of the frontend. The tests check the report's structure, that
everything recovered, what TorchServe answered the probe's requests, and that the
retrying client lost no request. Recovery-time goals are not asserted here: on a busy
machine a model can take longer than 10 s to load; `make chaos` judges them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from resilience import chaos

MODELS = ["cancer", "minilm"]
DIED = "InternalServerException: Worker died."


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any]]:
    results = tmp_path_factory.mktemp("chaos")
    args = ["--models", *MODELS, "--rate", "5", "--threads", "2", "--retrying-threads", "1"]
    code = chaos.main([*args, "--settle", "1", "--results", str(results)])
    (path,) = results.glob("chaos-*/report.json")
    return code, json.loads(Path(path).read_text())


def test_the_exit_status_follows_the_goals(run: tuple[int, dict[str, Any]]) -> None:
    code, report = run
    assert report["goals"], "goals were judged"
    assert code == (0 if report["passed"] else 1), report["goals"]
    assert report["passed"] == all(goal["met"] for goal in report["goals"])


def test_every_worker_and_the_frontend_came_back(run: tuple[int, dict[str, Any]]) -> None:
    _, report = run
    events = report["events"]
    assert [(e["event"], e.get("model")) for e in events] == [
        ("kill -9 worker", "cancer"),
        ("kill -9 worker", "minilm"),
        ("kill -9 frontend", None),
    ]
    for event in events[:2]:
        assert event["ready_after_s"] is not None, event
        assert event["next_200_after_s"] is not None, event
        assert set(event["raw"]) == set(MODELS), "every model's requests are summed up"
    frontend = events[2]
    assert frontend["ready_after_s"] >= frontend["restart_to_ready_s"] > 0, frontend
    assert all(frontend["next_200_after_s"][model] is not None for model in MODELS), frontend


def test_a_killed_workers_requests_get_worker_died_and_queued_ones_an_answer(
    run: tuple[int, dict[str, Any]],
) -> None:
    raw, _ = run[1]["probe"]
    assert raw["retries"] == 0
    in_flight = [answer for answer in raw["answers"] if answer["role"] == "in flight"]
    queued = [answer for answer in raw["answers"] if answer["role"] == "queued"]
    assert len(in_flight) == 2 and len(queued) == 2, raw  # a request per worker; two queued
    for answer in in_flight:
        assert answer["status"] in (500, 507) and answer["body"] == DIED, answer
    for answer in queued:
        assert (answer["status"], answer["body"]) == (200, "ok"), answer


def test_the_retrying_client_loses_no_request_to_a_killed_worker(
    run: tuple[int, dict[str, Any]],
) -> None:
    _, retrying = run[1]["probe"]
    assert retrying["retries"] > 0
    assert [a["status"] for a in retrying["answers"]] == [200] * len(retrying["answers"])
    in_flight = [a for a in retrying["answers"] if a["role"] == "in flight"]
    assert all(a["resent"] >= 1 for a in in_flight), "each was answered 'Worker died.' first"
    for model, seen in run[1]["worker_phase"]["retrying"].items():
        assert seen["failed"] == 0, (model, seen["errors"])
