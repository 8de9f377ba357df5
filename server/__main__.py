"""``python -m server start|stop|status|token``: the verbs behind `make serve`/`make stop`.

``start`` returns once every model is READY and leaves TorchServe running in the background.
A container runs TorchServe in the foreground through ``python -m container.entrypoint``
(``TorchServe.foreground``), which reads its settings from the environment; there is no
foreground verb here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from server.launcher import READY_TIMEOUT, ServerError, TorchServe
from server.settings import CONFIG, RUN_DIR, add_set_option


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
    print(f"TorchServe is ready with models: {', '.join(server.models)}")
    print(f"  inference   {server.inference_url}/predictions/<model>")
    print(f"  management  {server.management_url}/models")
    print(f"  metrics     {server.metrics_url}/metrics  (Prometheus, no token)")
    print(f"  tokens      {server.key_file}  (send 'Authorization: Bearer <inference key>')")
    print(f"  logs        {server.log_file.parent}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server", description=__doc__)
    parser.add_argument("verb", choices=["start", "stop", "status", "token"])
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR)
    parser.add_argument("--config", type=Path, default=CONFIG)
    add_set_option(parser)
    parser.add_argument(
        "--timeout", type=float, default=READY_TIMEOUT, help="seconds to wait for READY"
    )
    parser.add_argument("--management", action="store_true", help="token: the management key")
    args = parser.parse_args(argv)
    server = TorchServe(args.run_dir, config=args.config, overrides=dict(args.set))
    if args.verb == "start":
        return start(server, args.timeout)
    if args.verb == "token":  # for shells: TOKEN=$(python -m server token)
        print(server.keys()["management" if args.management else "inference"])
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
