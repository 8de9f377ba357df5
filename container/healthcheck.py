"""The image's HEALTHCHECK: healthy when the front door says every model is READY.

    python -m container.healthcheck        exit 0 healthy, 1 not

It asks the door's ``/health/ready`` (no key needed) at the address the running server
wrote to ``server.json`` in its run folder (``TS_RUN_DIR``): the same answer a Kubernetes
readiness probe or a PaaS router gets, 200 once every worker of every model is READY (the
door's health checks read TorchServe's management API). The address comes from the run
folder, not ``PORT``: a health check may run without the container's environment.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import requests

from server.settings import CONTAINER_RUN_DIR, CONTAINER_RUN_DIR_ENV, HEALTH_READY_PATH, SERVER_FILE

TIMEOUT = 4.0  # s; the image's HEALTHCHECK allows 10 s in all


def main() -> int:
    run_dir = Path(os.environ.get(CONTAINER_RUN_DIR_ENV, "").strip() or CONTAINER_RUN_DIR)
    try:
        url = json.loads((run_dir / SERVER_FILE).read_text())["inference_url"]
        answer = requests.get(f"{url}{HEALTH_READY_PATH}", timeout=TIMEOUT)
    except FileNotFoundError:
        print(f"unhealthy: not started ({run_dir / SERVER_FILE} is not there yet)")
        return 1
    except (ValueError, KeyError, requests.RequestException) as error:
        print(f"unhealthy: {type(error).__name__}: {error}")
        return 1
    healthy = answer.status_code == 200
    print(f"{'healthy' if healthy else 'unhealthy'}: {answer.status_code} {answer.text.strip()}")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
