"""Locust load test of the served models: a realistic mix of wire formats, answers checked.

One user class per model, each task one wire format, weighted like ordinary traffic; one
management user describes the models and re-asserts their worker counts. Every answer's
body is validated (count, labels, embedding length), not only its status. Settings are in
locust.conf; objectives in slo.toml. Run with `make load` (headless, gated) or
`make load-ui`.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from functools import partial
from itertools import count
from pathlib import Path
from typing import Any

import requests
from locust import FastHttpUser, constant, events, task
from locust.env import Environment

from client import Client
from client.tokens import Kind, TokenSource
from contracts import image
from contracts.wire import JSON, TEXT
from loadtests import checks, endpoints, payloads, slo
from server.settings import INFERENCE_URL, MANAGEMENT_URL

logger = logging.getLogger(__name__)
Check = Callable[[Any], str | None]  # None if the answer is right, else what is wrong


@events.init_command_line_parser.add_listener
def _arguments(parser: Any) -> None:
    parser.add_argument(
        "--management-host",
        default=MANAGEMENT_URL,
        help="TorchServe's management API (describe, scale)",
    )
    parser.add_argument(
        "--pace",
        type=float,
        default=1.0,
        help="mean calls/s of an inference user (exponential waits)",
    )
    parser.add_argument("--slo-file", default=str(slo.SLO_FILE), help="the SLO file (TOML)")
    parser.add_argument("--slo-profile", default="local", help="the SLO file's profile")


@events.init.add_listener
def _preflight(environment: Environment, **_: Any) -> None:
    """Before any load: read the SLO profile and, headless, check the server answers, so a
    typo or a stopped server ends the run at once with a clear message (exit code 2)."""
    options = environment.parsed_options
    if options is None:
        return
    try:
        slo.load_profile(Path(options.slo_file), options.slo_profile)
    except (OSError, ValueError) as error:  # SloError, or a TOML syntax error
        logger.error("SLO file: %s", error)
        raise SystemExit(2) from None
    if options.headless and (problem := _server_problem(options.host)):
        logger.error("%s", problem)
        raise SystemExit(2)
    if (problem := _hosts_problem(options.host, options.management_host)) is not None:
        logger.error("%s", problem)
        raise SystemExit(2)


def _hosts_problem(host: str, management_host: str) -> str | None:
    """An inference host of another server with the default management host would send the
    management calls (and that server's token) to whatever listens on the default port."""
    if host.rstrip("/") != INFERENCE_URL and management_host.rstrip("/") == MANAGEMENT_URL:
        return (
            f"--host {host} is not the default server: give its management API too "
            f"(--management-host URL; the default {MANAGEMENT_URL} belongs to `make serve`)"
        )
    return None


def _server_problem(host: str) -> str | None:
    """Why the inference API at ``host`` cannot take the load test, or None."""
    try:
        response = requests.get(f"{host}/ping", headers=_bearer("inference"), timeout=10)
    except requests.RequestException as error:
        return f"no TorchServe answers at {host} (start one with `make serve`): {error}"
    if response.status_code != 200:
        return f"{host}/ping answered {response.status_code}: {response.text[:200]}"
    return None


@events.quitting.add_listener
def _slo_gate(environment: Environment, **_: Any) -> None:
    """Fail the (headless) run with exit code 1 when any endpoint missed its SLO."""
    options = environment.parsed_options
    if options is None or not options.headless:
        return
    path = Path(options.slo_file)
    objectives = slo.load_profile(path, options.slo_profile)
    total = environment.stats.total
    seconds = max(0.0, (total.last_request_timestamp or total.start_time) - total.start_time)
    run = slo.Load(options.num_users, options.pace, seconds)
    unjudged = slo.rates_unjudged(slo.profile_load(path, options.slo_profile), run)
    if unjudged:
        logger.info("%s", unjudged)
    measured = slo.from_locust(environment.stats.entries.values())
    found = slo.breaches(objectives, measured, judge_rates=unjudged is None)
    for line in found:
        logger.error("SLO breach: %s", line)
    if found:
        environment.process_exit_code = 1
    else:
        logger.info("every endpoint met its SLOs (profile %s)", options.slo_profile)


def _bearer(kind: Kind) -> dict[str, str]:
    """The header for ``kind`` calls, the token found as the client finds it (env, key file)."""
    token = TokenSource().get(kind)
    return {"Authorization": f"Bearer {token}"} if token else {}


class ServedUser(FastHttpUser):
    """Inference traffic for one model: each user waits on average 1/``--pace`` s between calls."""

    abstract = True

    def wait_time(self) -> float:
        # Exponential think time: users' requests arrive independently (Poisson-like), not
        # in the lockstep bursts that a fixed pace gives users spawned together.
        return random.expovariate(self.environment.parsed_options.pace)

    def on_start(self) -> None:
        self.auth = _bearer("inference")
        self.turn = count()

    def post(
        self,
        model: str,
        name: str,
        body: bytes,
        content_type: str,
        problem_of: Check,
    ) -> None:
        headers = self.auth | {"Content-Type": content_type}
        with self.client.post(
            f"/predictions/{model}",
            data=body,  # type: ignore[arg-type]  # hinted str; bytes are sent as they are
            headers=headers,
            name=name,
            catch_response=True,
        ) as response:
            _judge(response, problem_of)


def _judge(response: Any, problem_of: Check) -> None:
    """Mark the request failed unless it is a 200 whose JSON body passes ``problem_of``."""
    if response.status_code != 200:
        response.failure(f"HTTP {response.status_code}: {(response.text or '')[:200]}")
        return
    answer, problem = checks.parsed(response.content)
    problem = problem or problem_of(answer)
    if problem:
        response.failure(problem)
    else:
        response.success()


SEVEN = partial(checks.digit, expected=payloads.DIGIT_LABEL)  # the example image is a 7


PNG = image.content_type(payloads.digit_png())


class DigitsUser(ServedUser):
    weight = 3

    @task(3)
    def raw_png(self) -> None:
        self.post("digits", endpoints.DIGITS_RAW, payloads.digit_png(), PNG, SEVEN)

    @task(1)
    def multipart(self) -> None:
        body, content_type = payloads.digit_multipart()
        self.post("digits", endpoints.DIGITS_MULTIPART, body, content_type, SEVEN)

    @task(1)
    def base64_json(self) -> None:
        body = payloads.digit_base64_json()
        self.post("digits", endpoints.DIGITS_BASE64, body, JSON, SEVEN)


class CancerUser(ServedUser):
    weight = 3

    @task(3)
    def one_row(self) -> None:
        body = payloads.cancer_row_json(next(self.turn))
        self.post("cancer", endpoints.CANCER_ROW, body, JSON, partial(checks.cancer, rows=1))

    @task(1)
    def many_rows(self) -> None:
        check = partial(checks.cancer, rows=len(payloads.cancer_rows()))
        self.post("cancer", endpoints.CANCER_ROWS, payloads.cancer_rows_json(), JSON, check)


class MinilmUser(ServedUser):
    weight = 2
    texts_per_json = 4

    @task(2)
    def plain(self) -> None:
        text = payloads.TEXTS[next(self.turn) % len(payloads.TEXTS)].encode()
        check = partial(checks.embeddings, texts=1)
        self.post("minilm", endpoints.MINILM_PLAIN, text, TEXT, check)

    @task(1)
    def json_inputs(self) -> None:
        body = payloads.texts_json(next(self.turn), self.texts_per_json)
        check = partial(checks.embeddings, texts=self.texts_per_json)
        self.post("minilm", endpoints.MINILM_JSON, body, JSON, check)


class ManagementUser(FastHttpUser):
    """An operator: describes the models in turn and, every few turns, scales one.

    Each scale re-asserts the worker counts the server had when the run began: it exercises
    the scale API while leaving the server as it was found, however the run is cut off.
    The order is fixed, so even a short run makes both calls.
    """

    fixed_count = 1
    wait_time = constant(2)
    scale_every = 3  # turns

    def on_start(self) -> None:
        self.url = self.environment.parsed_options.management_host.rstrip("/")
        self.auth = _bearer("management")
        self.workers = _worker_counts(self.url)
        self.turn = count()

    @task
    def operate(self) -> None:
        turn = next(self.turn)
        model = sorted(self.workers)[turn % len(self.workers)]
        self._call(
            "GET", f"/models/{model}", endpoints.DESCRIBE, partial(checks.described, model=model)
        )
        if turn % self.scale_every == 0:
            low, high = self.workers[model]
            path = f"/models/{model}?min_worker={low}&max_worker={high}&synchronous=true"
            self._call("PUT", path, endpoints.SCALE, checks.scaled)

    def _call(self, method: str, path: str, name: str, problem_of: Check) -> None:
        with self.client.request(
            method, f"{self.url}{path}", headers=self.auth, name=name, catch_response=True
        ) as response:
            _judge(response, problem_of)


def _worker_counts(url: str) -> dict[str, tuple[int, int]]:
    """(minWorkers, maxWorkers) of each registered model, read outside Locust's stats
    through the project's client (its tokens found as ``_bearer`` finds them)."""
    admin = Client(management_url=url, timeout=30, retries=0)
    counts = {}
    for model in admin.list_models():
        name = model["modelName"]
        entry = admin.describe(name)[0]
        counts[name] = (int(entry["minWorkers"]), int(entry["maxWorkers"]))
    return counts
