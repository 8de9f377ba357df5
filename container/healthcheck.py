"""The image's HEALTHCHECK: healthy when the front door says every model is READY.

    python -m container.healthcheck        exit 0 healthy, 1 not

It asks the door's ``/health/ready`` on the container's loopback (no key needed), the same
answer a Kubernetes readiness probe or a PaaS router gets: 200 once every worker of every
model is READY (the door's health checks read TorchServe's management API).
"""

from __future__ import annotations

import os
import sys

import requests

from container.entrypoint import DEFAULT_PORTS
from server.settings import HEALTH_READY_PATH, HOST, PORT_ENV

TIMEOUT = 4.0  # s; the image's HEALTHCHECK allows 10 s in all


def main() -> int:
    port = os.environ.get(PORT_ENV, "").strip() or str(DEFAULT_PORTS[PORT_ENV])
    try:
        answer = requests.get(f"http://{HOST}:{port}{HEALTH_READY_PATH}", timeout=TIMEOUT)
    except requests.RequestException as error:
        print(f"unhealthy: {type(error).__name__}: {error}")
        return 1
    healthy = answer.status_code == 200
    print(f"{'healthy' if healthy else 'unhealthy'}: {answer.status_code} {answer.text.strip()}")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
