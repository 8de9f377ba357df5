"""The image's HEALTHCHECK: healthy when every model has a READY worker.

    python -m container.healthcheck        exit 0 healthy, 1 not

``/ping`` says Healthy while workers still load or crash-loop, so this asks the management
API (``GET /models/<name>``) about every archive in the model store, with the management key
from the key file the running server wrote. Keys expire (``token_expiration_min``): when the
management key is refused, a fresh one is requested with the API key, which never expires,
so a long-running container does not turn unhealthy just because a day went by.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import requests

from container.entrypoint import RUN_DIR
from server.launcher import MODEL_STORE, read_properties

TIMEOUT = 4.0  # s per request; the image's HEALTHCHECK allows 10 s in all


class Check:
    def __init__(self, run_dir: Path) -> None:
        props = read_properties((run_dir / "config.properties").read_text())
        # The server may listen on every interface; the check connects over loopback.
        self.url = props["management_address"].rstrip("/").replace("0.0.0.0", "127.0.0.1")
        self.token_auth = props.get("disable_token_authorization", "false") != "true"
        self.key_file = run_dir / "key_file.json"

    def key(self, kind: str) -> str:
        return str(json.loads(self.key_file.read_text())[kind]["key"])

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key('management')}"} if self.token_auth else {}

    def describe(self, name: str) -> requests.Response:
        return requests.get(f"{self.url}/models/{name}", headers=self.headers(), timeout=TIMEOUT)

    def refresh_management_key(self) -> bool:
        """Ask TorchServe for a new management key (it rewrites the key file)."""
        response = requests.post(
            f"{self.url}/token",
            params={"type": "management"},
            headers={"Authorization": f"Bearer {self.key('API')}"},
            timeout=TIMEOUT,
        )
        return response.status_code == 200

    def model(self, name: str) -> str:
        """'' when ``name`` has a READY worker, else why not."""
        response = self.describe(name)
        if response.status_code == 400 and self.token_auth and self.refresh_management_key():
            response = self.describe(name)  # the key had expired (TorchServe answers 400)
        if response.status_code != 200:
            return f"HTTP {response.status_code} {response.text.strip()[:200]}"
        statuses = [worker.get("status") for worker in response.json()[0].get("workers", [])]
        return "" if "READY" in statuses else f"no READY worker (workers: {statuses})"


def main() -> int:
    run_dir = Path(os.environ.get("TS_RUN_DIR", "").strip() or RUN_DIR)
    models = sorted(path.stem for path in MODEL_STORE.glob("*.mar"))
    if not models:
        print(f"unhealthy: no archives in {MODEL_STORE}")
        return 1
    try:
        check = Check(run_dir)
        problems = {name: check.model(name) for name in models}
    except (OSError, ValueError, KeyError, requests.RequestException) as error:
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
