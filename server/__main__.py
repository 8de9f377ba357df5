"""``python -m server start|stop|status|token``: the verbs behind `make serve`/`make stop`.

``start`` returns once every model is READY and leaves TorchServe and its front door running
in the background (``--port N``: the door on N, management N+1, metrics N+2).
A container runs TorchServe in the foreground through ``python -m container.entrypoint``
(``TorchServe.foreground``), which reads its settings from the environment; there is no
foreground verb here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from server.api_keys import configured_keys
from server.launcher import READY_TIMEOUT, ServerError, TorchServe
from server.settings import (
    API_KEYS_ENV,
    API_KEYS_FILE_ENV,
    CONFIG,
    HOST,
    INFERENCE_PORT,
    LOCAL_KEY_FILE,
    RUN_DIR,
    add_set_option,
)


def start(server: TorchServe, timeout: float) -> int:
    if server.is_running():
        print(f"TorchServe is already running (pid {server.pid()}); `make stop` first")
        return 1
    try:
        server.start()
    except ServerError as error:  # nothing started: no archives, or a port in use
        print(error, file=sys.stderr)
        return 1
    try:
        server.wait_ready(timeout=timeout)
    except ServerError as error:
        server.stop()
        print(error, file=sys.stderr)
        return 1
    own = server.run_dir / LOCAL_KEY_FILE
    key = f"${API_KEYS_ENV} / ${API_KEYS_FILE_ENV}" if configured_keys(server.env) else own
    print(f"TorchServe is ready with models: {', '.join(server.models)}")
    print(f"  inference   {server.inference_url}/predictions/<model>  (through the front door)")
    print(f"  health      {server.inference_url}/health/ready  (no key)")
    print(f"  management  {server.management_url}/models  (this machine only)")
    print(f"  metrics     {server.metrics_url}/metrics  (Prometheus, no key)")
    print(f"  API key     {key}  (send 'Authorization: Bearer <key>')")
    print(f"  logs        {server.log_file.parent}")
    return 0


def port_settings(port: int) -> dict[str, str]:
    """``--port N``: the door on N, management on N+1, metrics on N+2, all on loopback."""
    if not 1 <= port <= 65533:
        raise argparse.ArgumentTypeError(f"--port must be 1-65533, got {port}")
    names = ("inference_address", "management_address", "metrics_address")
    return {name: f"http://{HOST}:{port + offset}" for offset, name in enumerate(names)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server", description=__doc__)
    parser.add_argument("verb", choices=["start", "stop", "status", "token"])
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR)
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument(
        "--port",
        type=int,
        help=f"the front door's port (default {INFERENCE_PORT}); management and metrics "
        "take the next two",
    )
    add_set_option(parser)
    parser.add_argument(
        "--timeout", type=float, default=READY_TIMEOUT, help="seconds to wait for READY"
    )
    parser.add_argument("--management", action="store_true", help="token: the management key")
    args = parser.parse_args(argv)
    try:
        ports = port_settings(args.port) if args.port is not None else {}
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    server = TorchServe(args.run_dir, config=args.config, overrides=ports | dict(args.set))
    if args.verb == "start":
        return start(server, args.timeout)
    if args.verb == "token":  # for shells: TOKEN=$(python -m server token)
        print(server.keys()["management"] if args.management else server.api_key())
        return 0
    if args.verb == "stop":
        running = server.is_running()
        server.stop()
        print("TorchServe stopped" if running else "TorchServe was not running")
        return 0
    print(f"running (pid {server.pid()})" if server.is_running() else "not running")
    return 0 if server.is_running() else 3


if __name__ == "__main__":
    sys.exit(main())
