"""Point the project's client (and its CLI) at a test server through the environment."""

from __future__ import annotations

from typing import Any

from client import Client
from server.launcher import TorchServe


def client_env(server: TorchServe) -> dict[str, str]:
    """The variables that aim ``client.Client`` and ``tserve`` at ``server``; the tokens come
    from the server's own key file, as a user's would."""
    return {
        "TSERVE_INFERENCE_URL": server.inference_url,
        "TSERVE_MANAGEMENT_URL": server.management_url,
        "TSERVE_METRICS_URL": server.metrics_url,
        "TSERVE_RUN_DIR": str(server.run_dir),
    }


def client_for(server: TorchServe, **kwargs: Any) -> Client:
    return Client(env=client_env(server), **kwargs)
