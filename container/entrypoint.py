"""The container's main process: the front door and TorchServe, configured from the
environment, in the foreground.

    python -m container.entrypoint [--set KEY=VALUE ...]

Environment (every variable optional):

    PORT                            the front door's port (default 8080); PaaS platforms set it
    TSERVE_API_KEYS                 API keys, comma-separated (a platform's secret)
    TSERVE_API_KEYS_FILE            or a file of keys, one per line (a mounted secret);
                                    neither: one is generated in TS_RUN_DIR/api-key
    TSERVE_KEY_MAX_INFLIGHT         concurrent requests per key (default 256; 429 beyond)
    TSERVE_KEY_RATE_LIMIT           requests per second per key (default 0: no limit)
    METRICS_PORT                    Prometheus metrics port (default 8082); needs no key
    METRICS_HOST                    where metrics listen (default 127.0.0.1: inside only;
                                    0.0.0.0 for a scraper outside, e.g. a PodMonitor)
    MANAGEMENT_PORT                 TorchServe's management API port (default 8081); loopback
    TS_WORKERS                      workers per model (default: each archive's own, see below)
    TS_DISABLE_TOKEN_AUTHORIZATION  true: no key needed anywhere (default false: keys on)
    TS_RUN_DIR                      rendered config, logs and keys (default /app/run)

``--set KEY=VALUE`` overrides any config.properties key and wins over the environment.

Workers: every archive pins its own (config/models/<name>.yaml: workers x threads = two
cores) and TorchServe lets an archive's minWorkers/maxWorkers beat
``default_workers_per_model``, so that key cannot change them. ``TS_WORKERS=N`` instead
scales every model to exactly N workers through the management API once it is READY. Each
worker runs the archive's ``torch_threads``: keep N x threads within the container's CPUs.

This process stays the main process (PID 1 in a container), through the project's one
supervisor (``server.launcher.TorchServe.foreground``): it starts TorchServe on private
loopback ports and the front door (HAProxy) on ``PORT``, waits until every worker of every
model is READY, scales (``TS_WORKERS``) through the project's client, writes the door's JSON
access log and TorchServe's console output to stdout (``docker logs``: its warnings and
errors, see config/log4j2.xml; every frontend line is in logs/ts_log.log under TS_RUN_DIR),
and on SIGTERM or SIGINT drains the door (requests in flight are answered), stops
TorchServe and exits 0. If either dies on its own, it stops the other and exits non-zero so
the platform restarts the container. Bad settings exit 2 before anything starts.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from client import TServeError
from server.api_keys import ApiKeyError, configured_keys
from server.launcher import READY_TIMEOUT, ServerError, TorchServe
from server.settings import (
    CONTAINER_RUN_DIR,
    CONTAINER_RUN_DIR_ENV,
    DISABLE_TOKEN_AUTH_ENV,
    INFERENCE_PORT,
    MANAGEMENT_PORT,
    MANAGEMENT_PORT_ENV,
    METRICS_HOST_ENV,
    METRICS_PORT,
    METRICS_PORT_ENV,
    PORT_ENV,
    WORKERS_ENV,
    add_set_option,
)

STOP_TIMEOUT = 5.0  # s for leftovers once the frontend is gone (`docker stop` allows 10 s)
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
DEFAULT_PORTS = {
    PORT_ENV: INFERENCE_PORT,
    MANAGEMENT_PORT_ENV: MANAGEMENT_PORT,
    METRICS_PORT_ENV: METRICS_PORT,
}


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip() or str(default)
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise ValueError(f"{name} must be a port number 1-65535, got {value!r}")
    return int(value)


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value and value not in TRUE + FALSE:
        raise ValueError(f"{name} must be one of {', '.join(TRUE + FALSE)}, got {value!r}")
    return value in TRUE


def workers(env: Mapping[str, str]) -> int | None:
    """TS_WORKERS as a count, or None to keep each archive's own setting."""
    value = env.get(WORKERS_ENV, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{WORKERS_ENV} must be a whole number of workers >= 1, got {value!r}")
    return int(value)


def overrides(env: Mapping[str, str]) -> dict[str, str]:
    """The config.properties settings the environment asks for; ValueError names a bad one."""
    ports = {name: _port(env, name, default) for name, default in DEFAULT_PORTS.items()}
    if len(set(ports.values())) < len(ports):
        names = f"{PORT_ENV}, {MANAGEMENT_PORT_ENV} and {METRICS_PORT_ENV}"
        raise ValueError(f"{names} must differ, got {ports}")
    metrics_host = env.get(METRICS_HOST_ENV, "").strip() or "127.0.0.1"
    if metrics_host not in ("127.0.0.1", "0.0.0.0"):
        raise ValueError(f"{METRICS_HOST_ENV} must be 127.0.0.1 or 0.0.0.0, got {metrics_host!r}")
    return {
        # Inside a container the door must listen on every interface (0.0.0.0): loopback there
        # is the container's own, which neither a published port (-p) nor a PaaS router can
        # reach. Who can connect is decided outside: `-p 127.0.0.1:8080:8080`, the platform.
        "inference_address": f"http://0.0.0.0:{ports[PORT_ENV]}",
        # Metrics stay inside unless a scraper outside is named (METRICS_HOST=0.0.0.0).
        "metrics_address": f"http://{metrics_host}:{ports[METRICS_PORT_ENV]}",
        # Management (scale, describe) stays on the container's loopback: only `docker exec`
        # and the entrypoint's scaling use it, and it is not EXPOSEd.
        "management_address": f"http://127.0.0.1:{ports[MANAGEMENT_PORT_ENV]}",
        "disable_token_authorization": str(_flag(env, DISABLE_TOKEN_AUTH_ENV)).lower(),
    }


def scale(server: TorchServe, count: int) -> None:
    """Give every model exactly ``count`` workers; return once they are started."""
    admin = server.client(retries=0, timeout=READY_TIMEOUT)
    for name in server.models:
        try:
            admin.scale(name, count)
        except TServeError as error:
            raise ServerError(f"scaling {name} to {count} workers: {error}") from error


def main(argv: list[str] | None = None, env: Mapping[str, str] = os.environ) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m container.entrypoint",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    add_set_option(parser)
    args = parser.parse_args(argv)
    try:
        settings = overrides(env) | dict(args.set)
        count = workers(env)
        configured_keys(env)  # a bad key or an unreadable key file, named now
    except (ValueError, ApiKeyError) as error:
        print(f"entrypoint: {error}", file=sys.stderr)
        return 2
    run_dir = Path(env.get(CONTAINER_RUN_DIR_ENV, "").strip() or CONTAINER_RUN_DIR)
    server = TorchServe(run_dir, overrides=settings)
    when_ready = (lambda: scale(server, count)) if count is not None else (lambda: None)
    return server.foreground(when_ready, READY_TIMEOUT, STOP_TIMEOUT, name="entrypoint")


if __name__ == "__main__":
    sys.exit(main())
