"""The fuzz driver: malformed requests from a pool of threads while other threads send
valid ones to every model, and the workers' pids compared before and after."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from fuzz.cases import build, cycle
from fuzz.report import Outcome, Report
from fuzz.target import Target
from fuzz.valid import MODELS, VALID, Valid
from server.launcher import TorchServe

TIMEOUT = 30.0  # s per request: longer is a hang
PROGRESS_EVERY = 1_000  # cases between progress lines on stderr


def outcome_of(response: requests.Response) -> Outcome:
    """Status and error type of an answer (the type from a ``{"code", "type", ...}`` body)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return Outcome(response.status_code, "", response.text[:200])
    return Outcome(response.status_code, str(body.get("type", "")), str(body.get("message", "")))


def outcome_of_body(status: int, body: bytes) -> Outcome:
    """``outcome_of`` for an answer read off a socket."""
    try:
        document = json.loads(body)
    except ValueError:
        return Outcome(status, "", body[:200].decode("latin-1"))
    if not isinstance(document, dict):
        return Outcome(status, "", body[:200].decode("latin-1"))
    return Outcome(status, str(document.get("type", "")), str(document.get("message", "")))


def ask(
    target: Target, session: requests.Session, request: Any, timeout: float
) -> tuple[Outcome, requests.Response | None]:
    """Send one request; no answer within ``timeout`` (or a dropped connection) is an outcome."""
    if getattr(request, "raw", None) is not None:
        try:
            status, body = target.send_raw(request, timeout)
        except TimeoutError:
            return Outcome(None, "Timeout", f"no answer within {timeout:.0f} s"), None
        except OSError as exc:
            return Outcome(None, type(exc).__name__, str(exc)[:200]), None
        return outcome_of_body(status, body), None
    try:
        response = target.send(session, request, timeout)
    except requests.Timeout:
        return Outcome(None, "Timeout", f"no answer within {timeout:.0f} s"), None
    except requests.RequestException as exc:
        return Outcome(None, type(exc).__name__, str(exc)[:200]), None
    return outcome_of(response), response


def check_valid(valid: Valid, outcome: Outcome, response: requests.Response | None) -> str | None:
    """What is wrong with a valid request's answer, or None."""
    if response is None or outcome.status != 200:
        return f"got {outcome.bucket} {outcome.kind}: {outcome.message[:120]}"
    try:
        return valid.check(response.json())
    except (ValueError, AttributeError, TypeError) as exc:
        return f"answer is not the expected JSON: {exc!r}"


class Sessions(threading.local):
    """One keep-alive HTTP session per thread (requests' Session is not thread-safe)."""

    def get(self) -> requests.Session:
        if not hasattr(self, "session"):
            self.session = requests.Session()
        return self.session


def send_valid(
    target: Target, model: str, report: Report, stop: threading.Event, timeout: float
) -> None:
    """Send ``model``'s valid requests in turn until ``stop``; each round is sent whole."""
    requests_ = VALID[model]()
    session = requests.Session()
    while True:
        for valid in requests_:
            outcome, response = ask(target, session, valid.request, timeout)
            report.add_valid(model, valid.name, check_valid(valid, outcome, response))
        if stop.is_set():
            return


def run(
    server: TorchServe | Target,
    count: int = 10_000,
    seed: int = 0,
    threads: int = 4,
    valid_threads: int = 1,
    models: Sequence[str] = MODELS,
    timeout: float = TIMEOUT,
    indices: Iterable[int] | None = None,
    progress: bool = False,
) -> Report:
    """Send cases ``0..count-1`` (or just ``indices``) of ``seed`` to ``models`` with
    ``threads`` threads, while ``valid_threads`` threads per model send valid requests."""
    target = server if isinstance(server, Target) else Target.of(server)
    chosen = list(range(count) if indices is None else indices)
    report = Report(seed=seed, count=len(chosen), models=tuple(models))
    slots = cycle(seed, models)
    sessions = Sessions()
    done = iter(range(1, len(chosen) + 1))

    def send_case(index: int) -> None:
        case = build(seed, index, slots)
        outcome, _ = ask(target, sessions.get(), case.request, timeout)
        report.add_case(case, outcome)
        sent = next(done)
        if progress and sent % PROGRESS_EVERY == 0:
            print(f"  {sent:,}/{len(chosen):,} sent", file=sys.stderr, flush=True)

    before = {model: target.worker_pids(model) for model in models}
    stop = threading.Event()
    background = [
        threading.Thread(target=send_valid, args=(target, model, report, stop, timeout))
        for model in models
        for _ in range(valid_threads)
    ]
    started = time.monotonic()
    for thread in background:
        thread.start()
    try:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(send_case, chosen))
    finally:
        stop.set()
        for thread in background:
            thread.join()
    report.seconds = time.monotonic() - started
    report.compare_workers(before, {model: target.worker_pids(model) for model in models})
    return report
