"""Drive valid requests at the served models and record what each one got.

Per model: a pacer hands out send times at a fixed rate (open loop: a slow answer does not
delay the next request, and latency counts from the planned send time, so a stalled server
shows as latency, not as fewer requests), or, without a rate, as fast as the senders take
them (closed loop, to measure capacity). Sender threads take the times and send with the
project's client, one client per thread; some may retry (``retries``), some not. Bodies and
answer checks are the load tests' (loadtests.payloads, loadtests.checks).
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import count
from typing import Any

from client import Client, HTTPError, TServeError
from contracts import image
from contracts.wire import JSON, TEXT
from loadtests import checks, payloads
from resilience.serving import client_for
from server.launcher import TorchServe

Check = Callable[[Any], str | None]  # None if the answer is right, else what is wrong
NO_ANSWER = 0  # the status recorded when no HTTP answer came (refused, reset, timed out)


@dataclass(frozen=True)
class Shape:
    """One valid request for a model and the check of its answer."""

    body: bytes
    content_type: str
    check: Check


def shapes(model: str) -> list[Shape]:
    """Valid requests for ``model``, in the wire formats the load tests use."""
    seven = partial(checks.digit, expected=payloads.DIGIT_LABEL)
    if model == "digits":
        body, multipart = payloads.digit_multipart()
        return [
            Shape(payloads.digit_png(), image.content_type(payloads.digit_png()), seven),
            Shape(body, multipart, seven),
            Shape(payloads.digit_base64_json(), JSON, seven),
        ]
    if model == "cancer":
        rows = len(payloads.cancer_rows())
        one_row = partial(checks.cancer, rows=1)
        each_row = [Shape(payloads.cancer_row_json(i), JSON, one_row) for i in range(rows)]
        all_rows = Shape(payloads.cancer_rows_json(), JSON, partial(checks.cancer, rows=rows))
        return [*each_row, all_rows]
    if model == "minilm":
        one = partial(checks.embeddings, texts=1)
        plain = [Shape(text.encode(), TEXT, one) for text in payloads.TEXTS]
        return [*plain, Shape(payloads.texts_json(0, 4), JSON, partial(checks.embeddings, texts=4))]
    raise ValueError(f"no request shapes for model {model!r}: digits, cancer or minilm")


@dataclass(slots=True)
class Outcome:
    """What one request got. Times are ``time.monotonic()`` seconds."""

    model: str
    retrying: bool  # sent by a client that retries (client.errors.RETRYABLE)
    planned: float  # when the pacer wanted it sent
    started: float
    ended: float
    status: int  # NO_ANSWER when no HTTP answer came
    detail: str  # "" when right; else the error body, the transport error or what was wrong
    resent: int = 0  # times a retrying client sent it again after an answer it may resend

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.detail

    @property
    def latency(self) -> float:
        return self.ended - self.planned


@dataclass
class ModelLoad:
    """The load on one model: its rate (None: closed loop) and its sender threads."""

    model: str
    rate: float | None
    threads: int = 3
    retrying_threads: int = 0  # of ``threads``, how many send with a retrying client

    def __post_init__(self) -> None:
        if self.rate is not None and self.rate <= 0:
            raise ValueError(f"{self.model}: rate must be positive, got {self.rate}")
        if not 0 <= self.retrying_threads <= self.threads or self.threads < 1:
            raise ValueError(f"{self.model}: need 0 <= retrying <= threads and threads >= 1")


@dataclass
class Load:
    """Requests at several models at once until ``stop()``; ``outcomes`` grows meanwhile."""

    server: TorchServe
    plan: Sequence[ModelLoad]
    retries: int = 3  # of a retrying client
    timeout: float = 30.0  # seconds a request may take before it counts as unanswered
    outcomes: list[Outcome] = field(default_factory=list)
    retried: Counter[str] = field(default_factory=Counter)  # "status message": resends

    def __post_init__(self) -> None:
        self.started = time.monotonic()  # set again by start()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        """Per model, the retrying and the other threads each share a pacer, whose rate is
        their share of the model's: each kind of client sends its share of the requests."""
        for each in self.plan:
            kinds = {True: each.retrying_threads, False: each.threads - each.retrying_threads}
            for retrying, threads in kinds.items():
                tickets: queue.SimpleQueue[float] = queue.SimpleQueue()
                if each.rate is not None and threads:
                    self._spawn(self._pace, tickets, each.rate * threads / each.threads)
                for _ in range(threads):
                    self._spawn(self._send_loop, each, tickets, retrying, shapes(each.model))
        self.started = time.monotonic()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 5)

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _pace(self, tickets: queue.SimpleQueue[float], rate: float) -> None:
        """Put one planned send time per 1/``rate`` s; a backlog is left to grow, so a
        stalled server meets the requests it would have met, late."""
        planned = time.monotonic()
        while not self._stop.is_set():
            tickets.put(planned)
            planned += 1.0 / rate
            self._stop.wait(max(0.0, planned - time.monotonic()))  # the pace, not a readiness wait

    def _send_loop(
        self,
        each: ModelLoad,
        tickets: queue.SimpleQueue[float],
        retrying: bool,
        requests: list[Shape],
    ) -> None:
        client = client_for(self.server, self.retries if retrying else 0, self.timeout)
        turn = count()
        while not self._stop.is_set():
            if each.rate is None:
                planned = time.monotonic()
            else:
                try:
                    planned = tickets.get(timeout=0.1)
                except queue.Empty:
                    continue
            shape = requests[next(turn) % len(requests)]
            self.outcomes.append(self._send(client, each.model, shape, planned, retrying))
        with self._lock:
            self.retried.update(client.retried)
        client.session.close()

    def _send(
        self, client: Client, model: str, shape: Shape, planned: float, retrying: bool
    ) -> Outcome:
        started = time.monotonic()
        url = f"{client.inference_url}/predictions/{model}"
        headers = {"Content-Type": shape.content_type}
        status, detail = NO_ANSWER, ""
        resent_before = client.retried.total()
        try:
            response = client.request("POST", url, "inference", data=shape.body, headers=headers)
            status = response.status_code
            answer, problem = checks.parsed(response.content)
            detail = problem or shape.check(answer) or ""
        except HTTPError as error:
            status, detail = error.status, _body_text(error)
        except TServeError as error:
            detail = str(error)
        resent = client.retried.total() - resent_before
        ended = time.monotonic()
        return Outcome(model, retrying, planned, started, ended, status, detail, resent)


def _body_text(error: HTTPError) -> str:
    """The error as the client saw it: TorchServe's type and message (the body's fields)."""
    return f"{error.type}: {error.message}" if error.type else error.message
