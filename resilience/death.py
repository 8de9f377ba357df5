"""What a request gets when the worker holding it is killed, measured on a real TorchServe.

One slow request per worker of the model (minilm, long texts: seconds of work for a
single-thread worker) is sent and seen running: each worker in turn has spent CPU on one.
More requests are then sent and seen received by the frontend (its request counter): with
every worker busy they wait in the model's queue. Then every worker gets ``kill -9``.
Each request's answer is recorded with its role, ``in flight`` or ``queued``.

Run with a client that does not retry, this is the measurement behind docs/client.md; with
the retrying client, every request must come back 200.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import psutil

from client import Client, HTTPError, TServeError
from contracts import text
from contracts.wire import JSON
from loadtests import checks, payloads
from resilience import serving
from server.launcher import ServerError, TorchServe

MODEL = "minilm"
# Past the model's 256-token limit, so each text costs the most a text can cost; 8 of them
# are the handler's budget of 2,048 tokens per request (handlers/text_handler.py), about
# a second of work for a single-thread worker here.
LONG_TEXT = " ".join(payloads.TEXTS * 2)
TEXTS = 8
BUSY_CPU = 0.02  # seconds of CPU a worker has spent once it is working on a request
POLL = 0.01  # seconds between looks: the kill must come well within a request's second


@dataclass
class Answer:
    role: str  # "in flight" or "queued"
    status: int = 0  # 0: no HTTP answer
    body: str = ""  # what the client saw: the error's type and message, or "ok"
    answered_at: float = 0.0  # time.monotonic() when the answer came
    resent: int = 0  # resends by a retrying client

    def report(self, killed_at: float) -> dict[str, Any]:
        seconds = round(self.answered_at - killed_at, 2) if self.answered_at else None
        return {
            "role": self.role,
            "status": self.status,
            "body": self.body,
            "after_kill_s": seconds,
            "resent": self.resent,
        }


def slow_body(texts: int) -> bytes:
    return text.request([LONG_TEXT] * texts).body


def requests_received(client: Client, model: str) -> float:
    """The frontend's ``ts_inference_requests_total`` for ``model``: counted as a request
    arrives, right before it is queued for a worker."""
    name = "ts_inference_requests_total"
    pattern = re.compile(name + r'\{[^}]*model_name="' + re.escape(model) + r'"[^}]*\} (\S+)')
    found = (pattern.match(line) for line in client.metrics([name]).splitlines())
    return sum(float(match.group(1)) for match in found if match)


def probe(
    server: TorchServe, retries: int, queued: int = 2, texts: int = TEXTS, timeout: float = 120.0
) -> dict[str, Any]:
    """Kill every worker of ``MODEL`` with requests in flight and queued; what each got."""
    admin = serving.client_for(server)
    pids = serving.worker_pids(admin, MODEL)
    processes = {pid: psutil.Process(pid) for pid in pids}
    spent = {pid: serving.cpu_seconds([processes[pid]]) for pid in pids}

    def busy() -> int:
        """How many workers have started working since ``spent`` was read."""
        _unanswered(answers)
        return sum(serving.cpu_seconds([processes[p]]) - spent[p] >= BUSY_CPU for p in pids)

    answers: list[Answer] = []
    threads: list[threading.Thread] = []
    body = slow_body(texts)
    for _ in pids:  # one at a time, so no two share a worker's batch
        threads.append(_send(server, retries, body, Answer("in flight"), answers))
        wanted = f"{len(threads)} workers are busy"
        serving.wait_until(lambda: busy() >= len(threads), timeout, wanted, POLL)
    before = requests_received(admin, MODEL)
    for _ in range(queued):
        threads.append(_send(server, retries, body, Answer("queued"), answers))
    serving.wait_until(
        lambda: _unanswered(answers) and requests_received(admin, MODEL) >= before + queued,
        timeout,
        f"the frontend received the {queued} queued requests",
        POLL,
    )
    killed_at = time.monotonic()
    for pid in pids:
        serving.kill(pid)
    for thread in threads:
        thread.join(timeout)
    _unanswered([answer for answer in answers if answer.answered_at < killed_at])
    recovered = serving.wait_recovered(server, admin, MODEL, len(pids), set(pids), timeout)
    ready = None if recovered is None else time.monotonic() - killed_at
    return {
        "model": MODEL,
        "retries": retries,
        "killed_pids": pids,
        "answers": [answer.report(killed_at) for answer in sorted(answers, key=lambda a: a.role)],
        "ready_after_s": None if ready is None else round(ready, 2),
    }


def _unanswered(answers: list[Answer]) -> bool:
    """True while no request has its answer yet: one that came before the kill (refused,
    or faster than the probe) would not be an answer to a worker's death."""
    if answers:
        first = answers[0]
        raise ServerError(f"a probe request got {first.status} {first.body} before the kill")
    return True


def _send(
    server: TorchServe, retries: int, body: bytes, answer: Answer, answers: list[Answer]
) -> threading.Thread:
    """Send ``body`` on a thread of its own; ``answer`` is filled in and appended."""
    texts = len(json.loads(body)["inputs"])
    headers = {"Content-Type": JSON}

    def run() -> None:
        client = serving.client_for(server, retries, timeout=120.0)
        url = f"{client.inference_url}/predictions/{MODEL}"
        try:
            response = client.request("POST", url, "inference", data=body, headers=headers)
            answer.status = response.status_code
            answer.body = checks.embeddings(response.json(), texts) or "ok"
        except HTTPError as error:
            answer.status, answer.body = error.status, f"{error.type}: {error.message}"
        except TServeError as error:
            answer.body = str(error)
        answer.answered_at = time.monotonic()
        answer.resent = client.retried.total()
        answers.append(answer)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread
