"""`make chaos`: ``kill -9`` one worker of each model, then the frontend, under load.

A TorchServe of its own (the project's launcher, free loopback ports) serves every model;
a few client threads per model send valid requests at a steady rate, some with a client
that never retries (what TorchServe answers) and some with the project's retrying client.
First the worker-death probe (resilience.death) measures what in-flight and queued requests
get. Then, one model at a time, one worker is killed and the tool waits until the model
has all its workers READY again (the dead pid gone); then the Java frontend is killed, and
the launcher starts TorchServe again (nothing in the launcher restarts it on its own).

Each event reports the errors the clients saw while it lasted (status and body), the time
to the next 200 for a request sent after the kill and the time until every worker was
READY. Goals (exit status 1 when one is missed): each model READY again within
``--max-recovery`` s (10), at most ``--max-failed`` (1%) of the non-retrying clients'
requests failed while workers were killed, and none of the retrying clients' requests.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from resilience import death, serving
from resilience.load import Load, ModelLoad, Outcome
from resilience.stats import between, first_ok_after, summary, write_json
from server.launcher import TorchServe
from server.settings import MODEL_STORE, ROOT

RESULTS = ROOT / "build" / "resilience"


def options(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m resilience.chaos",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    default_models = sorted(path.stem for path in MODEL_STORE.glob("*.mar"))
    parser.add_argument("--models", nargs="+", default=default_models)
    parser.add_argument("--rate", type=float, default=20.0, help="requests/s per model")
    parser.add_argument("--threads", type=int, default=4, help="client threads per model")
    parser.add_argument(
        "--retrying-threads",
        type=int,
        default=2,
        help="of --threads, how many use the retrying client",
    )
    parser.add_argument(
        "--settle", type=float, default=3.0, help="seconds of load observed after each recovery"
    )
    parser.add_argument("--max-recovery", type=float, default=10.0, help="goal, seconds")
    parser.add_argument("--max-failed", type=float, default=0.01, help="goal, failed ratio")
    parser.add_argument("--recovery-timeout", type=float, default=120.0)
    parser.add_argument(
        "--no-probe",
        dest="probe",
        action="store_false",
        help="skip the worker-death probe (it needs minilm)",
    )
    parser.add_argument(
        "--no-frontend", dest="frontend", action="store_false", help="do not kill the frontend"
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder for the report")
    return parser.parse_args(argv)


def kill_worker(
    server: TorchServe, load: Load, model: str, args: argparse.Namespace
) -> dict[str, Any]:
    """``kill -9`` the first worker of ``model``; wait until it is replaced and READY."""
    admin = serving.client_for(server)
    expected = serving.minimum_workers(admin, model)
    pid = serving.worker_pids(admin, model)[0]
    killed_at = time.monotonic()
    serving.kill(pid)
    ready = serving.wait_recovered(server, admin, model, expected, {pid}, args.recovery_timeout)
    time.sleep(args.settle)  # an observation window after recovery, not a readiness wait
    return {
        "event": "kill -9 worker",
        "model": model,
        "pid": pid,
        "at_s": round(killed_at - load.started, 2),
        "ready_after_s": None if ready is None else round(ready, 2),
        "next_200_after_s": _next_200(load, model, killed_at),
        **_window(load.outcomes, killed_at, time.monotonic()),
    }


def kill_frontend(server: TorchServe, load: Load, args: argparse.Namespace) -> dict[str, Any]:
    """``kill -9`` the Java frontend; the launcher starts TorchServe again, until READY."""
    java = serving.frontend(server)
    killed_at = time.monotonic()
    java.kill()
    exited = serving.wait_exited(server, timeout=30.0)
    restarting_at = time.monotonic()
    serving.restart(server, args.recovery_timeout)
    ready = time.monotonic()
    time.sleep(args.settle)  # an observation window after recovery, not a readiness wait
    return {
        "event": "kill -9 frontend",
        "pid": java.pid,
        "at_s": round(killed_at - load.started, 2),
        "launcher_exited_after_s": round(exited, 2),
        "restart_to_ready_s": round(ready - restarting_at, 2),
        "ready_after_s": round(ready - killed_at, 2),
        "next_200_after_s": {model: _next_200(load, model, killed_at) for model in args.models},
        **_window(load.outcomes, killed_at, time.monotonic()),
    }


def _window(outcomes: list[Outcome], start: float, end: float) -> dict[str, Any]:
    """What each model's clients saw from ``start`` to ``end``: not retrying, retrying."""
    seen = between(outcomes, start, end)
    models = sorted({o.model for o in seen})
    return {
        "seconds": round(end - start, 2),
        "raw": {m: summary(o for o in seen if o.model == m and not o.retrying) for m in models},
        "retrying": {m: summary(o for o in seen if o.model == m and o.retrying) for m in models},
    }


def _next_200(load: Load, model: str, killed_at: float) -> float | None:
    seconds = first_ok_after([o for o in load.outcomes if o.model == model], killed_at)
    return None if seconds is None else round(seconds, 2)


def goals(report: dict[str, Any], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Each goal with whether it was met and the figure it was judged on."""
    found = []
    for event in report["events"]:
        if event["event"] == "kill -9 worker":
            ready = event["ready_after_s"]
            name = f"{event['model']} READY again within {args.max_recovery:g} s"
            found.append(_goal(name, ready, ready is not None and ready <= args.max_recovery))
    for model, seen in report["worker_phase"]["raw"].items():
        name = f"{model}: at most {args.max_failed:.0%} failed, no retries"
        found.append(_goal(name, seen["failed_ratio"], seen["failed_ratio"] <= args.max_failed))
    for model, seen in report["worker_phase"]["retrying"].items():
        name = f"{model}: none failed with retries"
        found.append(_goal(name, seen["failed"], seen["failed"] == 0))
    for result in report["probe"]:
        if result["retries"]:
            failed = sum(answer["status"] != 200 for answer in result["answers"])
            found.append(_goal("probe: none failed with retries", failed, failed == 0))
    return found


def _goal(name: str, value: Any, met: bool) -> dict[str, Any]:
    return {"goal": name, "value": value, "met": met}


def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """The whole chaos run against a TorchServe of its own; the report."""
    plan = [ModelLoad(m, args.rate, args.threads, args.retrying_threads) for m in args.models]
    report: dict[str, Any] = {"models": args.models, "rate_per_model": args.rate, "probe": []}
    with serving.own_server(folder / "server", args.models) as server:
        if args.probe and death.MODEL in args.models:
            report["probe"] = [death.probe(server, retries=0), death.probe(server, retries=3)]
        load = Load(server, plan)
        load.start()
        try:
            answered = partial(_all_answered, load, args.models)
            serving.wait_until(answered, 120.0, "every model has answered")
            phase_start = time.monotonic()
            report["events"] = [kill_worker(server, load, model, args) for model in args.models]
            report["worker_phase"] = _window(load.outcomes, phase_start, time.monotonic())
            if args.frontend:
                report["events"].append(kill_frontend(server, load, args))
        finally:
            load.stop()
        report["whole_run"] = _window(load.outcomes, load.started, time.monotonic())
        report["retried"] = dict(load.retried)
    report["goals"] = goals(report, args)
    report["passed"] = all(goal["met"] for goal in report["goals"])
    return report


def _all_answered(load: Load, models: Sequence[str]) -> bool:
    return {o.model for o in load.outcomes if o.ok} >= set(models)


def print_report(report: dict[str, Any], path: Path) -> None:
    for result in report["probe"]:
        print(f"probe: kill -9 every {result['model']} worker, client retries={result['retries']}")
        for answer in result["answers"]:
            when = f"after {answer['after_kill_s']} s, resent {answer['resent']}"
            print(f"  {answer['role']:9}  {answer['status']}  {answer['body']}  {when}")
    for event in report["events"]:
        name = event.get("model", "")
        print(f"{event['event']} {name} (pid {event['pid']}) at {event['at_s']} s:")
        print(f"  READY after {event['ready_after_s']} s, next 200 {event['next_200_after_s']}")
        for kind in ("raw", "retrying"):
            for model, seen in event[kind].items():
                if seen["failed"] or model == name:
                    counts = f"{seen['requests']:5} requests, {seen['failed']} failed"
                    print(f"  {kind:8} {model:7} {counts} {seen['errors']}")
    for goal in report["goals"]:
        print(f"{'ok  ' if goal['met'] else 'MISS'} {goal['goal']}: {goal['value']}")
    print(f"report: {path}")


def main(argv: Sequence[str] | None = None) -> int:
    args = options(argv)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = args.results / f"chaos-{stamp}"
    report = run(args, folder)
    path = write_json(report, folder, "report")
    print_report(report, path)
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
