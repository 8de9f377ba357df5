"""The project's defaults in one place: paths, ports and URLs, environment variable names.

Every entry point reads them from here: ``server`` (`make serve`), ``client`` and ``tserve``,
``batch``, ``bench``, ``loadtests``, ``resilience``, ``fuzz``, ``container`` and the tests.
It imports nothing of the project and no third-party package, so the client can use it
without TorchServe installed. ``handlers/`` must not import it: an archive packs the
handlers alone, and they run in TorchServe's workers, far from this checkout.

A plain typed module, not pydantic-settings: these are constants, not a configuration
object. Each entry point reads its few variables where it starts, with its own checks and
messages (the container's are part of its interface: docs/container.md), and tests pass
their own ``env`` mappings; a settings class read from the environment at import would add
pydantic and pydantic-settings to the client and the image to hold a dozen strings.

TorchServe reads its addresses from config/config.properties and Locust from
loadtests/locust.conf; tests/unit/test_settings.py checks that both agree with the defaults
here. ``free_ports`` (a private server's ports) and ``assignment`` (the one parser of
``KEY=VALUE`` options) live here too, beside the defaults they stand in for.
"""

from __future__ import annotations

import argparse
import socket
from contextlib import ExitStack
from pathlib import Path
from typing import Final

# -- Paths (this checkout; /app in the container image)
ROOT: Final = Path(__file__).resolve().parent.parent
CONFIG: Final = ROOT / "config" / "config.properties"  # TorchServe's settings
LOG_CONFIG: Final = ROOT / "config" / "log4j2.xml"  # its logging: one file per line, INFO
DOOR_CONFIG: Final = ROOT / "config" / "haproxy.cfg"  # the front door (server/door.py)
MODEL_STORE: Final = ROOT / "model_store"  # the .mar archives `make archive` builds
EXAMPLES: Final = ROOT / "examples"  # the README's input files
RUN_DIR: Final = ROOT / ".run"  # `make serve`: rendered config, logs, the key file
CONTAINER_RUN_DIR: Final = ROOT / "run"  # the same inside the image (/app/run)
KEY_FILE: Final = "key_file.json"  # TorchServe writes the tokens there, in its run folder
LOCAL_KEY_FILE: Final = "api-key"  # the front door's own key when none is configured (0600)
SERVER_FILE: Final = "server.json"  # the running server's public URLs, for its clients

# -- Where `make serve` listens: the front door on the inference and metrics ports,
# TorchServe's management API on its own (config/config.properties says the same)
HOST: Final = "127.0.0.1"
INFERENCE_PORT: Final = 8080
MANAGEMENT_PORT: Final = 8081
METRICS_PORT: Final = 8082
INFERENCE_URL: Final = f"http://{HOST}:{INFERENCE_PORT}"
# The front door's health, on the inference port, without a key (config/haproxy.cfg).
HEALTH_LIVE_PATH: Final = "/health/live"
HEALTH_READY_PATH: Final = "/health/ready"
API_KEYS_SECRET: Final = "torchserve-kit-api-keys"  # the platforms' secret name (deploy/)
MANAGEMENT_URL: Final = f"http://{HOST}:{MANAGEMENT_PORT}"
METRICS_URL: Final = f"http://{HOST}:{METRICS_PORT}"

# -- Environment variables
# Where a client finds the server: client.Client, tserve, batch's server engine, the load
# tests, fuzz --reuse, the notebook (docs/client.md).
INFERENCE_URL_ENV: Final = "TSERVE_INFERENCE_URL"
MANAGEMENT_URL_ENV: Final = "TSERVE_MANAGEMENT_URL"
METRICS_URL_ENV: Final = "TSERVE_METRICS_URL"
INFERENCE_TOKEN_ENV: Final = "TSERVE_TOKEN"
MANAGEMENT_TOKEN_ENV: Final = "TSERVE_MANAGEMENT_TOKEN"
RUN_DIR_ENV: Final = "TSERVE_RUN_DIR"  # the folder holding the server's key file
# The front door (docs/front-door.md): its API keys and per-key limits.
API_KEYS_ENV: Final = "TSERVE_API_KEYS"  # comma-separated keys
API_KEYS_FILE_ENV: Final = "TSERVE_API_KEYS_FILE"  # a file of keys, one per line
KEY_MAX_INFLIGHT_ENV: Final = "TSERVE_KEY_MAX_INFLIGHT"  # concurrent requests per key
KEY_RATE_LIMIT_ENV: Final = "TSERVE_KEY_RATE_LIMIT"  # requests per second per key; 0: none
# batch: the database (docs/batch.md).
DATABASE_URL_ENV: Final = "BATCH_DATABASE_URL"
# The container's entrypoint and health check (docs/container.md).
PORT_ENV: Final = "PORT"  # inference; PaaS platforms set it
MANAGEMENT_PORT_ENV: Final = "MANAGEMENT_PORT"
METRICS_PORT_ENV: Final = "METRICS_PORT"
METRICS_HOST_ENV: Final = "METRICS_HOST"  # 127.0.0.1 unless a scraper outside must reach it
WORKERS_ENV: Final = "TS_WORKERS"
DISABLE_TOKEN_AUTH_ENV: Final = "TS_DISABLE_TOKEN_AUTHORIZATION"
CONTAINER_RUN_DIR_ENV: Final = "TS_RUN_DIR"
# bench: where gunicorn binds the Flask contestant (bench/gunicorn_conf.py).
FLASK_BIND_ENV: Final = "BENCH_FLASK_BIND"


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on 127.0.0.1 right now (held together, then released),
    so a private server (a test's, the benchmark's, the fuzzer's) runs beside any other."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in sockets]


def add_set_option(parser: argparse.ArgumentParser) -> None:
    """``--set KEY=VALUE`` (repeatable): a config.properties override, for every command
    that starts a TorchServe (`python -m server start`, the container's entrypoint)."""
    parser.add_argument(
        "--set",
        action="append",
        type=assignment,
        default=[],
        metavar="KEY=VALUE",
        help="override a config.properties setting",
    )


def assignment(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` from the command line as ``(KEY, VALUE)``, stripped: argparse's ``type``
    for every such option (``--set``, ``--env``, ``--rates``); ``dict()`` of the list is
    the mapping, the last value of a key winning."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()
