"""The container's main process: TorchServe configured from the environment, in the foreground.

    python -m container.entrypoint [--set KEY=VALUE ...]

Environment (every variable optional):

    PORT                            inference API port (default 8080); PaaS platforms set it
    METRICS_PORT                    Prometheus metrics port (default 8082); needs no token
    MANAGEMENT_PORT                 management API port (default 8081); loopback only
    TS_WORKERS                      workers per model (default: each archive's own, see below)
    TS_DISABLE_TOKEN_AUTHORIZATION  true: no token needed (default false: token auth on)
    TS_TOKEN_EXPIRATION_MIN         minutes before the inference/management keys expire
    TS_RUN_DIR                      rendered config, logs and key_file.json (default /app/run)

``--set KEY=VALUE`` overrides any config.properties key and wins over the environment.

Workers: every archive pins its own (config/models/<name>.yaml: workers x threads = two
cores) and TorchServe lets an archive's minWorkers/maxWorkers beat
``default_workers_per_model``, so that key cannot change them. ``TS_WORKERS=N`` instead
scales every model to exactly N workers through the management API once it is READY. Each
worker runs the archive's ``torch_threads``: keep N x threads within the container's CPUs.

This process stays the main process (PID 1 in a container), through the project's one
supervisor (``server.launcher.TorchServe.foreground``): it starts TorchServe, waits until
every worker of every model is READY, scales (``TS_WORKERS``) through the project's client,
copies TorchServe's console output to stdout (``docker logs``: its warnings and errors, see
config/log4j2.xml; every frontend line is in logs/ts_log.log under TS_RUN_DIR), and on
SIGTERM or SIGINT stops TorchServe and exits 0. If TorchServe dies on its own, it exits
non-zero so the platform restarts the container. Bad settings exit 2 before anything starts.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from client import TServeError
from server.launcher import READY_TIMEOUT, ServerError, TorchServe
from server.settings import (
    CONTAINER_RUN_DIR,
    CONTAINER_RUN_DIR_ENV,
    DISABLE_TOKEN_AUTH_ENV,
    INFERENCE_PORT,
    MANAGEMENT_PORT,
    MANAGEMENT_PORT_ENV,
    METRICS_PORT,
    METRICS_PORT_ENV,
    PORT_ENV,
    TOKEN_EXPIRATION_ENV,
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
    settings = {
        # Inside a container the API must listen on every interface (0.0.0.0): loopback there
        # is the container's own, which neither a published port (-p) nor a PaaS router can
        # reach. Who can connect is decided outside: `-p 127.0.0.1:8080:8080`, the platform.
        "inference_address": f"http://0.0.0.0:{ports[PORT_ENV]}",
        "metrics_address": f"http://0.0.0.0:{ports[METRICS_PORT_ENV]}",
        # Management (scale, describe, token refresh) stays on the container's loopback: only
        # the health check and `docker exec` use it, and it is not EXPOSEd.
        "management_address": f"http://127.0.0.1:{ports[MANAGEMENT_PORT_ENV]}",
        "disable_token_authorization": str(_flag(env, DISABLE_TOKEN_AUTH_ENV)).lower(),
    }
    expiration = env.get(TOKEN_EXPIRATION_ENV, "").strip()
    if expiration:
        try:
            if float(expiration) <= 0:
                raise ValueError
        except ValueError:
            raise ValueError(
                f"{TOKEN_EXPIRATION_ENV} must be a number of minutes > 0, got {expiration!r}"
            ) from None
        settings["token_expiration_min"] = expiration
    return settings


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
    except ValueError as error:
        print(f"entrypoint: {error}", file=sys.stderr)
        return 2
    run_dir = Path(env.get(CONTAINER_RUN_DIR_ENV, "").strip() or CONTAINER_RUN_DIR)
    server = TorchServe(run_dir, overrides=settings)
    when_ready = (lambda: scale(server, count)) if count is not None else (lambda: None)
    return server.foreground(when_ready, READY_TIMEOUT, STOP_TIMEOUT, name="entrypoint")


if __name__ == "__main__":
    sys.exit(main())
