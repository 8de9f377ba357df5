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

This process stays the main process (PID 1 in a container): it starts TorchServe, waits
until every model has a READY worker, copies TorchServe's console output to stdout
(``docker logs``: its warnings and errors, see config/log4j2.xml; every frontend line is in
logs/ts_log.log under TS_RUN_DIR), and on SIGTERM or SIGINT stops TorchServe and exits 0.
If TorchServe dies on its own, it exits non-zero so the platform restarts the container.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

import requests

from server.__main__ import parse_overrides
from server.launcher import ROOT, ServerError, TorchServe, rotate_log

RUN_DIR = ROOT / "run"
READY_TIMEOUT = 300.0  # s; the text model takes the longest to load
STOP_TIMEOUT = 5.0  # s for leftovers once the frontend is gone (`docker stop` allows 10 s)
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
DEFAULT_PORTS = {"PORT": 8080, "MANAGEMENT_PORT": 8081, "METRICS_PORT": 8082}


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
    value = env.get("TS_WORKERS", "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"TS_WORKERS must be a whole number of workers >= 1, got {value!r}")
    return int(value)


def overrides(env: Mapping[str, str]) -> dict[str, str]:
    """The config.properties settings the environment asks for; ValueError names a bad one."""
    ports = {name: _port(env, name, default) for name, default in DEFAULT_PORTS.items()}
    if len(set(ports.values())) < len(ports):
        raise ValueError(f"PORT, MANAGEMENT_PORT and METRICS_PORT must differ, got {ports}")
    settings = {
        # Inside a container the API must listen on every interface (0.0.0.0): loopback there
        # is the container's own, which neither a published port (-p) nor a PaaS router can
        # reach. Who can connect is decided outside: `-p 127.0.0.1:8080:8080`, the platform.
        "inference_address": f"http://0.0.0.0:{ports['PORT']}",
        "metrics_address": f"http://0.0.0.0:{ports['METRICS_PORT']}",
        # Management (scale, describe, token refresh) stays on the container's loopback: only
        # the health check and `docker exec` use it, and it is not EXPOSEd.
        "management_address": f"http://127.0.0.1:{ports['MANAGEMENT_PORT']}",
        "disable_token_authorization": str(_flag(env, "TS_DISABLE_TOKEN_AUTHORIZATION")).lower(),
    }
    expiration = env.get("TS_TOKEN_EXPIRATION_MIN", "").strip()
    if expiration:
        try:
            if float(expiration) <= 0:
                raise ValueError
        except ValueError:
            raise ValueError(
                f"TS_TOKEN_EXPIRATION_MIN must be a number of minutes > 0, got {expiration!r}"
            ) from None
        settings["token_expiration_min"] = expiration
    return settings


class ContainerServer(TorchServe):
    """TorchServe whose readiness check also works with token auth off.

    With ``disable_token_authorization=true`` TorchServe writes no key_file.json, and the
    launcher's readiness poll (which always reads it) would never see a READY worker.
    """

    def headers(self, kind: str = "inference") -> dict[str, str]:
        if self.properties.get("disable_token_authorization") == "true":
            return {}
        return super().headers(kind)

    def frontend_pid(self) -> int | None:
        """TorchServe's Java frontend: the child of the ``torchserve`` command."""
        pid = self.pid()
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return None
        return int(children[0]) if children else None

    def scale(self, count: int, timeout: float) -> None:
        """Give every model exactly ``count`` workers; return once they are started."""
        for name in self.models:
            try:
                response = requests.put(
                    f"{self.management_url}/models/{name}",
                    params={"min_worker": str(count), "max_worker": str(count),
                            "synchronous": "true"},
                    headers=self.headers("management"),
                    timeout=timeout,
                )  # fmt: skip
            except requests.RequestException as error:
                raise ServerError(f"scaling {name} to {count} workers: {error}") from error
            if response.status_code != 200:
                raise ServerError(
                    f"scaling {name} to {count} workers: HTTP {response.status_code} "
                    f"{response.text.strip()}"
                )


def follow(path: Path, offset: int, done: threading.Event, poll: float = 0.5) -> None:
    """Copy what is appended to ``path`` (from ``offset``) to stdout until ``done``."""
    while True:
        finished = done.is_set()  # read once more after it is set: the last lines count
        try:
            with path.open("rb") as log:
                log.seek(offset)
                while chunk := log.read(1 << 16):
                    sys.stdout.buffer.write(chunk)
                    sys.stdout.buffer.flush()
                    offset += len(chunk)
        except FileNotFoundError:
            pass
        if finished:
            return
        done.wait(poll)  # polling interval of a log tail


def serve(server: ContainerServer, count: int | None) -> int:
    stopping = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        # Only signal here; the main thread reaps TorchServe and cleans up once it exits.
        # SIGTERM goes to the Java frontend alone: its shutdown hook stops the workers. A
        # signal to the whole process group kills the workers under it, and it starts new
        # ones mid-shutdown that outlive it.
        stopping.set()
        frontend, group = server.frontend_pid(), server.pid()
        with contextlib.suppress(ProcessLookupError):
            if frontend is not None:
                os.kill(frontend, signal.SIGTERM)
            elif group is not None:
                os.killpg(group, signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    rotate_log(server.log_file)  # now, not in start(): the offset below must stay valid
    log_start = server.log_file.stat().st_size if server.log_file.exists() else 0
    server.start()
    if stopping.is_set():  # a signal that came before TorchServe had a pid
        on_signal(signal.SIGTERM, None)
    log_done = threading.Event()
    tail = threading.Thread(target=follow, args=(server.log_file, log_start, log_done), daemon=True)
    tail.start()
    try:
        return run(server, count, stopping)
    finally:
        log_done.set()
        tail.join(timeout=5)


def run(server: ContainerServer, count: int | None, stopping: threading.Event) -> int:
    """Wait for READY, scale, then live as long as TorchServe; the exit status."""
    try:
        server.wait_ready(timeout=READY_TIMEOUT)
        if count is not None:
            server.scale(count, timeout=READY_TIMEOUT)
    except ServerError as error:
        server.stop(timeout=STOP_TIMEOUT)
        if stopping.is_set():
            return 0
        print(f"entrypoint: {error}", file=sys.stderr, flush=True)
        return 1
    print(
        f"entrypoint: ready, models {', '.join(server.models)}; inference on "
        f"{server.inference_url}, keys in {server.key_file}",
        flush=True,
    )
    code = server.wait()
    server.stop(timeout=STOP_TIMEOUT)  # whatever outlived the frontend
    if stopping.is_set():
        print("entrypoint: stopped on request", flush=True)
        return 0
    print(f"entrypoint: TorchServe exited on its own (status {code})", file=sys.stderr, flush=True)
    return code or 1


def main(argv: list[str] | None = None, env: Mapping[str, str] = os.environ) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m container.entrypoint",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config.properties setting")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        settings = overrides(env) | parse_overrides(args.set)
        count = workers(env)
    except ValueError as error:
        print(f"entrypoint: {error}", file=sys.stderr)
        return 2
    run_dir = Path(env.get("TS_RUN_DIR", "").strip() or RUN_DIR)
    return serve(ContainerServer(run_dir, overrides=settings), count)


if __name__ == "__main__":
    sys.exit(main())
