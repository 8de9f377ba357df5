"""``python -m server start|run|stop|status|token``: the verbs behind `make serve`/`make stop`.

``start`` returns once every model is READY and leaves TorchServe running in the background;
``run`` stays in the foreground until TorchServe exits (a container's main process).
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from server.launcher import ROOT, ServerError, TorchServe

RUN_DIR = ROOT / ".run"


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set expects KEY=VALUE, got {pair!r}")
        overrides[key.strip()] = value.strip()
    return overrides


def start(server: TorchServe, timeout: float) -> int:
    if server.is_running():
        print(f"TorchServe is already running (pid {server.pid()}); `make stop` first")
        return 1
    server.start()
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


def run(server: TorchServe, timeout: float) -> int:
    """Foreground mode (containers): start, report readiness, then live as long as TorchServe."""
    # The handlers only signal: waiting here would contend with the wait() below.
    signal.signal(signal.SIGTERM, lambda *_: server.terminate())
    signal.signal(signal.SIGINT, lambda *_: server.terminate())
    if start(server, timeout) != 0:
        return 1
    code = server.wait()
    server.stop()  # reap anything the frontend left behind
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server", description=__doc__)
    parser.add_argument("verb", choices=["start", "run", "stop", "status", "token"])
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR)
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "config.properties")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config.properties setting")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for READY")
    parser.add_argument("--management", action="store_true", help="token: the management key")
    args = parser.parse_args(argv)
    server = TorchServe(args.run_dir, config=args.config, overrides=parse_overrides(args.set))
    if args.verb == "start":
        return start(server, args.timeout)
    if args.verb == "run":
        return run(server, args.timeout)
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
