"""Point the project's client (and its CLI) at a test server through the environment."""

from __future__ import annotations

from typing import Any

import pytest

from client import Client
from client.cli import main
from server import settings
from server.launcher import TorchServe

# The front door's answer to a missing or unknown API key (config/haproxy.cfg).
UNAUTHORIZED = "missing or unknown API key: send Authorization: Bearer <key>"


def client_env(server: TorchServe) -> dict[str, str]:
    """The variables that aim ``client.Client`` and ``tserve`` at ``server``; the tokens come
    from the server's own key file, as a user's would."""
    return {
        settings.INFERENCE_URL_ENV: server.inference_url,
        settings.MANAGEMENT_URL_ENV: server.management_url,
        settings.METRICS_URL_ENV: server.metrics_url,
        settings.RUN_DIR_ENV: str(server.run_dir),
    }


def client_for(server: TorchServe, **kwargs: Any) -> Client:
    return Client(env=client_env(server), **kwargs)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``tserve ARGS`` in this process: exit code, stdout, stderr (argparse exits included)."""
    try:
        code = main(list(args))
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def aim_cli(monkeypatch: pytest.MonkeyPatch, server: TorchServe) -> None:
    """Point the in-process CLI at ``server``; token variables of the outer shell are dropped."""
    for name in (settings.INFERENCE_TOKEN_ENV, settings.MANAGEMENT_TOKEN_ENV):
        monkeypatch.delenv(name, raising=False)
    for name, value in client_env(server).items():
        monkeypatch.setenv(name, value)
