"""Settings from the environment: the entrypoint's mapping, then a container started with
token auth off and TS_WORKERS=2, the way a platform would set them."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from container.entrypoint import main, overrides, workers
from tests.container.conftest import Server, run_container


def test_defaults_the_door_everywhere_metrics_inside_keys_on() -> None:
    assert overrides({}) == {
        "inference_address": "http://0.0.0.0:8080",
        "metrics_address": "http://127.0.0.1:8082",
        "management_address": "http://127.0.0.1:8081",
        "disable_token_authorization": "false",
    }
    assert workers({}) is None, "unset TS_WORKERS keeps each archive's own workers"


def test_platform_settings() -> None:
    env = {
        "PORT": "10000",
        "METRICS_PORT": "9100",
        "MANAGEMENT_PORT": "9101",
        "METRICS_HOST": "0.0.0.0",
        "TS_DISABLE_TOKEN_AUTHORIZATION": "True",
        "TS_WORKERS": "3",
    }
    assert overrides(env) == {
        "inference_address": "http://0.0.0.0:10000",
        "metrics_address": "http://0.0.0.0:9100",
        "management_address": "http://127.0.0.1:9101",
        "disable_token_authorization": "true",
    }
    assert workers(env) == 3


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORT": "http"}, "PORT must be a port number 1-65535, got 'http'"),
        ({"PORT": "70000"}, "PORT must be a port number 1-65535, got '70000'"),
        ({"TS_DISABLE_TOKEN_AUTHORIZATION": "maybe"}, "TS_DISABLE_TOKEN_AUTHORIZATION must be"),
        ({"METRICS_HOST": "10.0.0.1"}, "METRICS_HOST must be 127.0.0.1 or 0.0.0.0"),
        ({"PORT": "8082"}, "PORT, MANAGEMENT_PORT and METRICS_PORT must differ"),
    ],
)
def test_bad_settings_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        overrides(env)


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_bad_worker_counts_are_named(value: str) -> None:
    with pytest.raises(ValueError, match=f"TS_WORKERS must be .* got '{value}'"):
        workers({"TS_WORKERS": value})


def test_bad_settings_exit_2_before_starting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([], env={"PORT": "0"}) == 2
    assert capsys.readouterr().err == "entrypoint: PORT must be a port number 1-65535, got '0'\n"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TSERVE_API_KEYS": "short"}, "TSERVE_API_KEYS item 1: an API key must be 16-256"),
        ({"TSERVE_API_KEYS_FILE": "/nonexistent"}, "TSERVE_API_KEYS_FILE=/nonexistent: No such"),
    ],
)
def test_bad_keys_exit_2_naming_the_problem_not_the_key(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], message: str
) -> None:
    assert main([], env=env) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"entrypoint: {message}"), err
    assert "short" not in err.split(":", 2)[2] or "TSERVE_API_KEYS_FILE" in env


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {"TS_DISABLE_TOKEN_AUTHORIZATION": "true", "TS_WORKERS": "2"}
    yield from run_container(tmp_path_factory, "tsk-settings", env)


def test_token_auth_off_serves_without_a_token(open_server: Server) -> None:
    assert not open_server.container.has_key_file(), "no key file when tokens are off"
    response = open_server.predict("cancer", token=None, json={"inputs": [0.0] * 30})
    assert response.status_code == 200, response.text


def test_ts_workers_scales_every_model(open_server: Server) -> None:
    """The entrypoint scales after the first READY workers (healthy already), so poll."""
    deadline = time.monotonic() + 120
    statuses = {}
    while time.monotonic() < deadline:
        statuses = {model: open_server.workers(model) for model in ("cancer", "digits", "minilm")}
        if all(workers == ["READY", "READY"] for workers in statuses.values()):
            return
        time.sleep(0.5)  # polling interval, not a wait for the result
    raise AssertionError(f"not 2 READY workers per model after 120 s: {statuses}")


def test_healthcheck_passes_without_tokens(open_server: Server) -> None:
    result = open_server.container.healthcheck()
    assert result.returncode == 0, result.stdout + result.stderr
