"""The image's HEALTHCHECK: healthy when every model has a READY worker.

    python -m container.healthcheck        exit 0 healthy, 1 not

``/ping`` says Healthy while workers still load or crash-loop, so this asks the management
API (``GET /models/<name>``, through the project's client) about every archive in the model
store, with the management key from the key file the running server wrote. One READY
worker is enough (``server.launcher.ready`` with ``at_least=1``): it serves while another
restarts. Keys expire (``token_expiration_min``): when the management key is refused, a
fresh one is requested with the API key, which never expires, so a long-running container
does not turn unhealthy just because a day went by.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import requests

from client import AuthError, Client, HTTPError, TokenSource, TServeError
from client.tokens import read_key_file
from server.launcher import read_properties, ready
from server.settings import (
    CONTAINER_RUN_DIR,
    CONTAINER_RUN_DIR_ENV,
    KEY_FILE,
    MODEL_STORE,
    RUN_DIR_ENV,
)

TIMEOUT = 4.0  # s per request; the image's HEALTHCHECK allows 10 s in all


class Check:
    def __init__(self, run_dir: Path) -> None:
        props = read_properties((run_dir / "config.properties").read_text())
        # The server may listen on every interface; the check connects over loopback.
        self.url = props["management_address"].rstrip("/").replace("0.0.0.0", "127.0.0.1")
        self.key_file = run_dir / KEY_FILE
        # No key file (token auth off): no token is sent.
        tokens = TokenSource(env={RUN_DIR_ENV: str(run_dir)})
        self.admin = Client(management_url=self.url, tokens=tokens, timeout=TIMEOUT, retries=0)

    def refresh_management_key(self) -> bool:
        """Ask TorchServe for a new management key (it rewrites the key file)."""
        response = requests.post(
            f"{self.url}/token",
            params={"type": "management"},
            headers={"Authorization": f"Bearer {read_key_file(self.key_file)['API']}"},
            timeout=TIMEOUT,
        )
        return response.status_code == 200

    def model(self, name: str) -> str:
        """'' when ``name`` has a READY worker, else why not."""
        try:
            try:
                described = self.admin.describe(name)
            except AuthError:  # the key had expired (TorchServe answers 400)
                if not self.refresh_management_key():
                    raise
                described = self.admin.describe(name)
        except HTTPError as error:
            return f"HTTP {error}"
        statuses = [worker.get("status") for worker in described[0].get("workers", [])]
        return "" if ready(statuses, at_least=1) else f"no READY worker (workers: {statuses})"


def main() -> int:
    run_dir = Path(os.environ.get(CONTAINER_RUN_DIR_ENV, "").strip() or CONTAINER_RUN_DIR)
    models = sorted(path.stem for path in MODEL_STORE.glob("*.mar"))
    if not models:
        print(f"unhealthy: no archives in {MODEL_STORE}")
        return 1
    try:
        check = Check(run_dir)
        problems = {name: check.model(name) for name in models}
    except (OSError, ValueError, KeyError, requests.RequestException, TServeError) as error:
        print(f"unhealthy: {type(error).__name__}: {error}")
        return 1
    failing = {name: why for name, why in problems.items() if why}
    for name, why in failing.items():
        print(f"unhealthy: {name}: {why}")
    if not failing:
        print(f"healthy: {', '.join(models)} READY")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
