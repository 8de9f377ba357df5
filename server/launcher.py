"""Run TorchServe with this project's config and know when it is really ready.

``/ping`` says Healthy while workers are still loading or crash-looping, so readiness here
means: every model answers ``GET /models/<name>`` with a READY worker.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

from server.java import find_java_home

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "config.properties"
LOG_CONFIG = ROOT / "config" / "log4j2.xml"  # one file per line, INFO (upstream: DEBUG, x3)
MODEL_STORE = ROOT / "model_store"
ADDRESS_KEYS = ("inference_address", "management_address", "metrics_address")
# console.log gets TorchServe's stdout (warnings and errors: config/log4j2.xml) and is not
# rotated by log4j; start() moves it to console.log.1 once it is over this size.
CONSOLE_LOG_LIMIT = 10 * 1024 * 1024  # bytes
# Idle OpenMP (torch) and OpenBLAS (numpy) threads busy-wait for work by default: on a
# small machine shared with the Java frontend and other workers they take the cores those
# need (minilm's mixed-load p95 1-2 s -> 40-120 ms; docs/load-and-bench.md). Read when a
# worker loads the libraries, so it is set here; the caller's environment wins.
WORKER_ENV = {"OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_NUM_THREADS": "1"}


class ServerError(RuntimeError):
    """TorchServe did not start, died, or did not become ready in time."""


def read_properties(text: str) -> dict[str, str]:
    """``key=value`` lines of a Java properties file (comments and blanks skipped)."""
    pairs = (line.split("=", 1) for line in text.splitlines())
    return {
        key.strip(): value.strip()
        for key, value, *_ in ([*pair, ""] for pair in pairs if len(pair) == 2)
        if key.strip() and not key.lstrip().startswith(("#", "!"))
    }


def render_properties(text: str, overrides: dict[str, str]) -> str:
    """``text`` with each key in ``overrides`` set to its value (appended if absent)."""
    lines, seen = [], set()
    for line in text.splitlines():
        key = line.split("=", 1)[0].strip()
        if "=" in line and key in overrides:
            seen.add(key)
            line = f"{key}={overrides[key]}"
        lines.append(line)
    lines += [f"{key}={value}" for key, value in overrides.items() if key not in seen]
    return "\n".join(lines) + "\n"


def own_store_urls(model_store: Path) -> str:
    """The ``allowed_urls`` regex for archives directly in ``model_store`` (file:// only).

    TorchServe matches the whole URL (Java's ``Pattern.matches``) against each
    comma-separated regex. The store is its ``file://`` URI as ``Path.as_uri()`` writes it
    (percent-encoded: ASCII, no comma), escaped; ``(?-i)`` undoes TorchServe's
    case-insensitive flag, as paths are not. Any other folder, even one also named
    model_store, does not match. Archive names have no ``%``: TorchServe refuses a literal
    ``..`` but opens a file:// URL percent-decoded, so ``<store>/%2e%2e%2f...%2fx.mar`` would
    load an archive from anywhere (seen with 0.12; tests/integration/management).
    """
    store = re.escape(model_store.resolve().as_uri())
    return f"(?-i){store}/[A-Za-z0-9_.-]+[.]mar"


def properties_value(text: str) -> str:
    """``text`` as a Java properties value: ``Properties.load`` drops a lone backslash."""
    return text.replace("\\", "\\\\")


def rotate_log(path: Path, limit: int = CONSOLE_LOG_LIMIT) -> None:
    """Move ``path`` to ``<path>.1`` (replacing an older one) once it is over ``limit`` bytes."""
    with contextlib.suppress(FileNotFoundError):
        if path.stat().st_size > limit:
            path.replace(path.with_name(f"{path.name}.1"))


def port_overrides(
    host: str, inference: int, management: int, metrics: int, grpc: tuple[int, int]
) -> dict[str, str]:
    """Settings that move every listening port, so two instances can run side by side.

    TorchServe 0.12 always starts its gRPC servers (no switch turns them off), so they
    get ports of their own too; they listen on loopback like the rest.
    """
    ports = (inference, management, metrics)
    addresses = {
        key: f"http://{host}:{port}" for key, port in zip(ADDRESS_KEYS, ports, strict=True)
    }
    return addresses | {
        "grpc_inference_address": host,
        "grpc_management_address": host,
        "grpc_inference_port": str(grpc[0]),
        "grpc_management_port": str(grpc[1]),
    }


@dataclass
class TorchServe:
    """One TorchServe process tree, its run folder (config, logs, keys) and its models."""

    run_dir: Path
    models: list[str] = field(default_factory=list)  # names of .mar files in model_store
    model_store: Path = MODEL_STORE
    config: Path = CONFIG
    log_config: Path | None = LOG_CONFIG  # None: TorchServe's built-in logging
    overrides: dict[str, str] = field(default_factory=dict)
    worker_env: dict[str, str] = field(default_factory=lambda: dict(WORKER_ENV))  # {}: none

    def __post_init__(self) -> None:
        self.run_dir = self.run_dir.resolve()
        if not self.models:
            self.models = sorted(path.stem for path in self.model_store.glob("*.mar"))
        props = read_properties(self.rendered_config())
        self.properties = props
        self.inference_url = props["inference_address"].rstrip("/")
        self.management_url = props["management_address"].rstrip("/")
        self.metrics_url = props["metrics_address"].rstrip("/")

    def rendered_config(self) -> str:
        """config.properties with the overrides, and ``allowed_urls`` limited to this
        server's own model store unless the overrides set it."""
        settings = {"allowed_urls": properties_value(own_store_urls(self.model_store))}
        return render_properties(self.config.read_text(), settings | self.overrides)

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "server.pid"

    @property
    def key_file(self) -> Path:
        return self.run_dir / "key_file.json"  # TorchServe writes it in its working folder

    @property
    def log_file(self) -> Path:
        return self.run_dir / "logs" / "console.log"

    def start(self) -> int:
        """Start TorchServe in its own process group; return the group's leader pid."""
        if not self.models:
            raise ServerError(f"no .mar archives in {self.model_store}: run `make archive`")
        (self.run_dir / "tmp").mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        rotate_log(self.log_file, CONSOLE_LOG_LIMIT)
        self.key_file.unlink(missing_ok=True)
        config = self.run_dir / "config.properties"
        config.write_text(self.rendered_config())
        # TorchServe keeps its pid file in TMPDIR and the workers' sockets and unpacked
        # models in TEMP (java.io.tmpdir): a private folder lets instances run side by side.
        tmp = str(self.run_dir / "tmp")
        env = self.worker_env | dict(os.environ, TMPDIR=tmp, TEMP=tmp)
        java_home = find_java_home()
        if java_home:
            env["JAVA_HOME"] = str(java_home)
            env["PATH"] = f"{java_home / 'bin'}{os.pathsep}{env['PATH']}"
        command = [
            str(Path(sys.executable).with_name("torchserve")),
            "--start", "--foreground",
            "--ncs",  # no config snapshots: a restart must not resurrect an old config
            "--ts-config", str(config),
            "--model-store", str(self.model_store),
            "--models", *(f"{name}={name}.mar" for name in self.models),
        ]  # fmt: skip
        if self.log_config is not None:
            command += ["--log-config", str(self.log_config)]
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(
                command,
                cwd=self.run_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group, so stop() ends Java and workers too
            )
        self.pid_file.write_text(str(process.pid))
        self._process = process
        return process.pid

    def keys(self) -> dict[str, str]:
        """The current inference, management and API keys from TorchServe's key file."""
        data = json.loads(self.key_file.read_text())
        return {kind: data[kind]["key"] for kind in ("inference", "management", "API")}

    @property
    def token_auth(self) -> bool:
        return self.properties.get("disable_token_authorization", "false").lower() != "true"

    def headers(self, kind: str = "inference") -> dict[str, str]:
        """The Authorization header for ``kind`` calls (none when token auth is off)."""
        if not self.token_auth:  # TorchServe then writes no key file
            return {}
        return {"Authorization": f"Bearer {self.keys()[kind]}"}

    def is_running(self) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        process = getattr(self, "_process", None)
        if process is not None:
            return process.poll() is None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    def pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text())
        except (FileNotFoundError, ValueError):
            return None

    def model_status(self, name: str) -> list[str]:
        """Worker statuses of the default version of ``name`` (empty if not reachable)."""
        try:
            response = requests.get(
                f"{self.management_url}/models/{name}",
                headers=self.headers("management"),
                timeout=5,
            )
        except (requests.RequestException, FileNotFoundError, json.JSONDecodeError, KeyError):
            return []
        if response.status_code != 200:
            return []
        return [worker.get("status", "") for worker in response.json()[0].get("workers", [])]

    def wait_ready(self, timeout: float = 180.0, poll: float = 0.5) -> None:
        """Block until every worker of every model is READY; fail fast if the server dies.

        All of them, not one: a benchmark or a test that starts while a model's second
        worker still loads would measure (or see) half a model.
        """
        deadline = time.monotonic() + timeout
        pending = list(self.models)
        while pending:
            if not self.is_running():
                raise ServerError(f"TorchServe exited during start-up:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise ServerError(
                    f"models {pending} not all READY after {timeout:.0f}s:\n{self.log_tail()}"
                )
            pending = [name for name in pending if not all_ready(self.model_status(name))]
            if pending:
                time.sleep(poll)  # polling interval of the readiness check, not a wait for it

    def terminate(self) -> None:
        """Ask TorchServe to shut down (SIGTERM to the Java frontend); returns at once.

        Only Java gets the SIGTERM: signalling the whole group kills the workers under a
        live frontend, which restarts them, and the orphans keep the group alive.
        """
        pid = self.pid()
        if pid is None:
            return
        try:
            frontends = psutil.Process(pid).children() or [psutil.Process(pid)]
        except psutil.NoSuchProcess:
            return
        for process in frontends:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.terminate()

    def stop(self, timeout: float = 60.0) -> None:
        """Terminate, wait for the whole process group to end, SIGKILL it after ``timeout``."""
        pid = self.pid()
        if pid is None:
            return
        self.terminate()
        process = getattr(self, "_process", None)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _group_alive(pid):
            if process is not None:
                process.poll()  # reap our child: a zombie still counts as in the group
            time.sleep(0.2)
        if _group_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        if process is not None:
            process.wait(timeout=10)
        self.pid_file.unlink(missing_ok=True)

    def wait(self) -> int:
        """Block until the TorchServe started by this object exits; return its exit code."""
        return self._process.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def all_ready(statuses: list[str]) -> bool:
    """Whether a model has workers and every one of them is READY."""
    return bool(statuses) and all(status == "READY" for status in statuses)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
