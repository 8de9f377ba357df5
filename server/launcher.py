"""The one supervisor of a TorchServe process tree: start it, know when it is ready, stop it.

``TorchServe`` owns the process from construction to reaping: `make serve` (``python -m
server``), the container's entrypoint (``foreground``), the tests' fixtures, the benchmark,
the fuzzer and the chaos and soak runs all start and stop servers through it, and it is the
only code that knows the process tree (``frontend``, ``processes``). Management calls go
through the project's client (``client()``).

Every server has its front door (server/door.py, HAProxy): clients reach the inference and
metrics ports through it, with the door's API keys (server/api_keys.py); TorchServe's own
inference and metrics ports are private loopback ports behind it, and its management API
stays on loopback for this machine's tools. ``/ping`` says Healthy while workers still load
or crash-loop, so readiness is the door's ``/health/ready``: its health checks read
``GET /models/<name>`` and want every worker READY (``ready`` here says the same for tools
that read worker statuses themselves).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import psutil
import requests

from client import Client, TokenSource, TServeError
from client.tokens import read_key_file
from server.api_keys import ApiKeyError, configured_keys, keys_for
from server.door import Door, DoorError
from server.java import find_java_home
from server.settings import (
    CONFIG,
    HEALTH_READY_PATH,
    HOST,
    KEY_FILE,
    LOG_CONFIG,
    MODEL_STORE,
    ROOT,
    RUN_DIR_ENV,
    SERVER_FILE,
    free_ports,
)

READY_TIMEOUT = 300.0  # s to wait for READY: minilm's workers load a transformer each
SOCKET_FOLDER_LIMIT = 80  # characters; a Unix socket's path fits 107 bytes
KEY_FILE_TIMEOUT = 60.0  # s for TorchServe's frontend to write its key file at start
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


def port_overrides(host: str, inference: int, management: int, metrics: int) -> dict[str, str]:
    """Settings that move every public port (the door's two and TorchServe's management
    API), so two instances can run side by side; the private ones are always free ports."""
    ports = (inference, management, metrics)
    return {key: f"http://{host}:{port}" for key, port in zip(ADDRESS_KEYS, ports, strict=True)}


def listening(props: dict[str, str]) -> dict[str, tuple[str, int]]:
    """Each setting that makes TorchServe listen, with its (host, port)."""
    found = {}
    for key in ADDRESS_KEYS:
        if key in props:
            parts = urlsplit(props[key])
            found[key] = (parts.hostname or HOST, parts.port or 80)
    for kind in ("inference", "management"):
        if f"grpc_{kind}_port" in props:
            host = props.get(f"grpc_{kind}_address", HOST)
            found[f"grpc_{kind}_port"] = (host, int(props[f"grpc_{kind}_port"]))
    return found


def store_models(model_store: Path) -> list[str]:
    """The models to serve: every archive in the store, but a version copy that a client
    left behind (``cancer-2.0.mar`` beside ``cancer.mar``: client/archives.py registers
    from such copies) is not a model of its own."""
    stems = sorted(path.stem for path in model_store.glob("*.mar"))
    return [
        stem
        for stem in stems
        if not any(re.fullmatch(rf"{re.escape(other)}-\d+(\.\d+)*", stem) for other in stems)
    ]


def short_path(folder: Path) -> Path:
    """``folder``, or a short symlink to it in the system's temp folder when its path is too
    long for the workers' Unix sockets (``<folder>/.ts.sock.9000`` must fit 107 bytes: a
    test's run folder under /tmp/pytest-of-root/... can be longer)."""
    if len(str(folder)) <= SOCKET_FOLDER_LIMIT:
        return folder
    digest = hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    link = Path(tempfile.gettempdir()) / f"tsk-{digest}"
    if not (link.is_symlink() and link.resolve() == folder.resolve()):
        link.unlink(missing_ok=True)
        link.symlink_to(folder)
    return link


def host_port(url: str, loopback: bool = False) -> str:
    """``http://0.0.0.0:8080/`` -> ``0.0.0.0:8080`` (``127.0.0.1:8080`` with ``loopback``)."""
    parts = urlsplit(url)
    host = parts.hostname or HOST
    if loopback and host == "0.0.0.0":
        host = HOST
    return f"{host}:{parts.port or 80}"


def local_url(url: str) -> str:
    """``url`` as a client on this machine reaches it (``0.0.0.0`` binds every interface)."""
    return url.rstrip("/").replace("//0.0.0.0:", f"//{HOST}:")


def taken(address: tuple[str, int]) -> bool:
    """Whether something already listens at ``address`` (so TorchServe could not bind it)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Netty binds
        try:
            sock.bind(address)
        except OSError:
            return True
    return False


def loopback_ports() -> dict[str, str]:
    """``port_overrides`` on free loopback ports: a private server beside any other."""
    inference, management, metrics = free_ports(3)
    return port_overrides(HOST, inference, management, metrics)


def ready(statuses: Sequence[str], at_least: int | None = None) -> bool:
    """Whether a model's workers (their ``status`` in ``GET /models/<name>``) are ready.

    By default every worker must be READY, and there must be one: a benchmark or a test
    that starts while a second worker still loads would measure (or see) half a model.
    With ``at_least``, that many READY workers are enough whatever the others do (the
    container's health check: one READY worker serves while another restarts).
    """
    count = sum(status == "READY" for status in statuses)
    if at_least is not None:
        return count >= at_least
    return count > 0 and count == len(statuses)


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
    environment: dict[str, str] = field(default_factory=dict)  # set over the caller's own

    def __post_init__(self) -> None:
        self.run_dir = self.run_dir.resolve()
        if not self.models:
            self.models = store_models(self.model_store)
        # The configured inference and metrics addresses are the door's; TorchServe gets
        # private loopback ports behind it.
        self.backend: dict[str, str] = {}
        public = read_properties(self.rendered_config())
        self.inference_url = public["inference_address"].rstrip("/")
        self.management_url = public["management_address"].rstrip("/")
        self.metrics_url = public["metrics_address"].rstrip("/")
        # gRPC (always started by TorchServe 0.12, unused here) on private ports too, so
        # one port setting (`--port`) moves a whole server.
        inference, metrics, grpc_inference, grpc_management, exporter = free_ports(5)
        self.exporter_port = exporter
        self.backend = {
            "inference_address": f"http://{HOST}:{inference}",
            "metrics_address": f"http://{HOST}:{metrics}",
            "grpc_inference_address": HOST,
            "grpc_management_address": HOST,
            "grpc_inference_port": str(grpc_inference),
            "grpc_management_port": str(grpc_management),
        }
        self.backend_url = self.backend["inference_address"]  # TorchServe itself, no door
        self.properties = read_properties(self.rendered_config())  # what TorchServe reads
        self.door = Door(
            self.run_dir,
            bind=host_port(self.inference_url),
            metrics_bind=host_port(self.metrics_url),
            inference=host_port(self.backend["inference_address"]),
            management=host_port(self.management_url, loopback=True),
            metrics=host_port(self.backend["metrics_address"]),
            exporter=f"{HOST}:{exporter}",
            models=self.models,
            model_store=self.model_store,
            max_body=int(self.properties.get("max_request_size", "6553500")),
        )
        self._process: subprocess.Popen[bytes] | None = None
        self._door: subprocess.Popen[bytes] | None = None
        self._exporter: subprocess.Popen[bytes] | None = None

    def rendered_config(self) -> str:
        """config.properties with the overrides, ``allowed_urls`` limited to this server's
        own model store unless the overrides set it, and the private ports behind the door."""
        settings = {"allowed_urls": properties_value(own_store_urls(self.model_store))}
        return render_properties(self.config.read_text(), settings | self.overrides | self.backend)

    @property
    def env(self) -> dict[str, str]:
        """The environment the server's settings are read from (the caller's, then ours)."""
        return dict(os.environ) | self.environment

    def api_keys(self) -> list[str]:
        """The keys the door accepts (server/api_keys.py); ApiKeyError names a bad one."""
        return keys_for(self.run_dir, self.env)

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "server.pid"

    @property
    def key_file(self) -> Path:
        return self.run_dir / KEY_FILE  # TorchServe writes it in its working folder

    @property
    def log_file(self) -> Path:
        return self.run_dir / "logs" / "console.log"

    def start(self, access_log: BinaryIO | None = None) -> int:
        """Start TorchServe in its own process group, then its front door; return
        TorchServe's group leader pid. The door's access log goes to ``access_log``
        (default: ``logs/access.log`` in the run folder)."""
        if not self.models:
            raise ServerError(f"no .mar archives in {self.model_store}: run `make archive`")
        try:
            keys = self.api_keys() if self.token_auth else []
        except ApiKeyError as error:
            raise ServerError(str(error)) from None
        # Java would bury "Address already in use" in a stack trace without naming the port.
        door = {
            "front door": _address(self.inference_url),
            "front door metrics": _address(self.metrics_url),
        }
        addresses = (listening(self.properties) | door).items()
        busy = [f"{key} {host}:{port}" for key, (host, port) in addresses if taken((host, port))]
        if busy:
            raise ServerError(
                f"already in use: {', '.join(busy)}; stop what listens there (`make stop` "
                "if it is this checkout's server) or move it with --set KEY=VALUE"
            )
        (self.run_dir / "tmp").mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        rotate_log(self.log_file, CONSOLE_LOG_LIMIT)
        self.key_file.unlink(missing_ok=True)
        config = self.run_dir / "config.properties"
        config.write_text(self.rendered_config())
        # TorchServe keeps its pid file in TMPDIR and the workers' sockets and unpacked
        # models in TEMP (java.io.tmpdir): a private folder lets instances run side by side.
        tmp = str(short_path(self.run_dir / "tmp"))
        env = self.worker_env | dict(os.environ) | self.environment | {"TMPDIR": tmp, "TEMP": tmp}
        java_home = find_java_home()
        if java_home:
            env["JAVA_HOME"] = str(java_home)
            env["PATH"] = f"{java_home / 'bin'}{os.pathsep}{env['PATH']}"
        command = [
            str(Path(sys.executable).with_name("torchserve")),
            "--start",
            "--foreground",
            "--ncs",  # no config snapshots: a restart must not resurrect an old config
            "--ts-config",
            str(config),
            "--model-store",
            str(self.model_store),
            "--models",
            *(f"{name}={name}.mar" for name in self.models),
        ]
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
        self._start_door(keys, access_log)
        return process.pid

    def _start_door(self, keys: list[str], access_log: BinaryIO | None) -> None:
        """The door, once TorchServe has written its keys; ``server.json`` for clients."""
        rotate_log(self.door.log_file)  # like console.log: one old file kept, at start
        try:
            ts_keys = self._wait_key_file() if self.token_auth else {}
            self._door = self.door.start(keys, self.token_auth, ts_keys, self.env, access_log)
        except (ServerError, DoorError) as error:
            self.stop()
            raise ServerError(str(error)) from None
        self.write_server_file()
        self._start_exporter()

    def _start_exporter(self) -> None:
        """The management exporter (monitor/exporter.py: workers and queue depth, which
        TorchServe's /metrics lacks), served by the door at ``/workers/metrics``. It finds
        this server from the run folder; if it dies, only that path answers 503."""
        log = self.run_dir / "logs" / "exporter.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "monitor.exporter", "--port", str(self.exporter_port)],
                cwd=ROOT,
                env=dict(os.environ) | {RUN_DIR_ENV: str(self.run_dir)},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        (self.run_dir / "exporter.pid").write_text(str(process.pid))
        self._exporter = process

    def _stop_exporter(self) -> None:
        try:
            pid = int((self.run_dir / "exporter.pid").read_text())
        except (FileNotFoundError, ValueError):
            return
        with contextlib.suppress(psutil.NoSuchProcess):
            exporter = psutil.Process(pid)
            exporter.terminate()
            try:
                exporter.wait(timeout=10)
            except psutil.TimeoutExpired:
                exporter.kill()
        (self.run_dir / "exporter.pid").unlink(missing_ok=True)

    def _wait_key_file(self) -> dict[str, str]:
        """TorchServe's keys, once its frontend has written them (the door needs them)."""
        deadline = time.monotonic() + KEY_FILE_TIMEOUT
        while time.monotonic() < deadline:
            if not self.is_running():
                raise ServerError(f"TorchServe exited during start-up:\n{self.log_tail()}")
            with contextlib.suppress(FileNotFoundError, TServeError):
                return self.keys()
            time.sleep(0.1)  # polling interval for a file TorchServe writes at start
        raise ServerError(f"TorchServe wrote no {KEY_FILE} in {KEY_FILE_TIMEOUT:.0f}s")

    def write_server_file(self) -> None:
        """``server.json`` in the run folder: where clients reach this server (client.api)."""
        urls = {
            "inference_url": local_url(self.inference_url),
            "management_url": local_url(self.management_url),
            "metrics_url": local_url(self.metrics_url),
        }
        (self.run_dir / SERVER_FILE).write_text(json.dumps(urls, indent=2) + "\n")

    @contextlib.contextmanager
    def running(self, timeout: float = READY_TIMEOUT) -> Iterator[TorchServe]:
        """Started and READY for the ``with`` block, stopped and reaped after it, whatever
        happened (a failed start included)."""
        self.start()
        try:
            self.wait_ready(timeout=timeout)
            yield self
        finally:
            self.stop()

    def keys(self) -> dict[str, str]:
        """The current keys (inference, management, API) from TorchServe's key file."""
        return read_key_file(self.key_file)

    @property
    def token_auth(self) -> bool:
        return self.properties.get("disable_token_authorization", "false").lower() != "true"

    def api_key(self) -> str:
        """A key the door accepts ("" when credentials are off)."""
        return self.api_keys()[0] if self.token_auth else ""

    def headers(self, kind: str = "inference") -> dict[str, str]:
        """The Authorization header for ``kind`` calls (none when token auth is off):
        ``inference`` through the door (its API key), ``management`` and ``backend``
        (TorchServe's inference port, behind the door) with TorchServe's own keys."""
        if not self.token_auth:  # TorchServe then writes no key file
            return {}
        if kind == "inference":
            return {"Authorization": f"Bearer {self.api_key()}"}
        key = self.keys()["inference" if kind == "backend" else kind]
        return {"Authorization": f"Bearer {key}"}

    def client(self, **options: Any) -> Client:
        """The project's client aimed at this server through its door; the management token
        follows the run folder's key file (none when token auth is off), so it keeps
        working after a restart."""
        configured = configured_keys(self.env) if self.token_auth else None
        return Client(
            local_url(self.inference_url),
            local_url(self.management_url),
            local_url(self.metrics_url),
            tokens=TokenSource(
                inference=configured[0] if configured else None,
                env={RUN_DIR_ENV: str(self.run_dir)},
            ),
            env={},
            **options,
        )

    def is_running(self) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        if self._process is not None:
            return self._process.poll() is None
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

    def frontend(self) -> psutil.Process | None:
        """The Java frontend: the child of the ``torchserve`` command (None before it runs)."""
        pid = self.pid()
        if pid is None:
            return None
        try:
            children = psutil.Process(pid).children()
        except psutil.NoSuchProcess:
            return None
        return children[0] if children else None

    def processes(self) -> list[psutil.Process]:
        """The ``torchserve`` command and every descendant (frontend, workers) alive now."""
        pid = self.pid()
        if pid is None:
            return []
        try:
            leader = psutil.Process(pid)
            return [leader, *leader.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def model_status(self, name: str, admin: Client | None = None) -> list[str]:
        """Worker statuses of the default version of ``name`` (empty if not reachable)."""
        admin = admin or self.client(retries=0, timeout=5)
        try:
            described = admin.describe(name)
        except TServeError:  # not up yet, no key file yet, or an error status
            return []
        return [worker.get("status", "") for worker in described[0].get("workers", [])]

    def readiness(self, timeout: float = 5.0) -> tuple[bool, str]:
        """The door's ``/health/ready``: whether every model is READY, and its answer."""
        try:
            answer = requests.get(
                f"{local_url(self.inference_url)}{HEALTH_READY_PATH}", timeout=timeout
            )
        except requests.RequestException as error:
            return False, f"{type(error).__name__}: {error}"
        return answer.status_code == 200, answer.text

    def wait_ready(self, timeout: float = READY_TIMEOUT, poll: float = 0.5) -> None:
        """Block until the door says every model is READY; fail fast if TorchServe or the
        door dies."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.is_running():
                raise ServerError(f"TorchServe exited during start-up:\n{self.log_tail()}")
            if not self.door.is_running():
                raise ServerError(f"the front door (HAProxy) exited:\n{self.door_log_tail()}")
            ready_now, answer = self.readiness()
            if ready_now:
                return
            if time.monotonic() > deadline:
                raise ServerError(f"not READY after {timeout:.0f}s ({answer}):\n{self.log_tail()}")
            time.sleep(poll)  # polling interval of the readiness check, not a wait for it

    def terminate(self) -> None:
        """Ask TorchServe to shut down (SIGTERM to the Java frontend); returns at once.

        Only Java gets the SIGTERM: its shutdown hook stops the workers. Signalling the
        whole group kills the workers under a live frontend, which restarts them, and the
        orphans keep the group alive. Before the frontend runs, the leader gets it.
        """
        pid = self.pid()
        if pid is None:
            return
        with contextlib.suppress(psutil.NoSuchProcess):
            (self.frontend() or psutil.Process(pid)).terminate()

    def stop(self, timeout: float = 60.0) -> None:
        """Drain and stop the door (requests in flight are answered), then TorchServe:
        terminate, wait for its whole process group, SIGKILL it after ``timeout``."""
        self.door.stop()
        if self._door is not None:
            self._door.poll()  # reap it
        self._stop_exporter()
        pid = self.pid()
        if pid is None:
            return
        self.terminate()
        process = self._process
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
        (self.run_dir / SERVER_FILE).unlink(missing_ok=True)

    def foreground(
        self,
        when_ready: Callable[[], None] = lambda: None,
        ready_timeout: float = READY_TIMEOUT,
        stop_timeout: float = 60.0,
        name: str = "server",
    ) -> int:
        """Be a container's main process: the exit status once the server is gone.

        Starts TorchServe and its door (the door's JSON access log on stdout), copies
        TorchServe's console log to stdout (``docker logs``), waits until every model is
        READY, runs ``when_ready`` (ServerError: it failed), then lives as long as both
        TorchServe and the door. On SIGTERM or SIGINT it drains the door (requests in
        flight are answered, new connections refused), stops TorchServe and returns 0; if
        either dies on its own, it stops the other and returns non-zero, so the platform
        restarts the container. Lines of its own go to stdout (errors to stderr), prefixed
        ``name:``. Main thread only.
        """
        stopping = threading.Event()
        ended = threading.Event()  # a signal came, or a process ended

        def on_signal(_signum: int, _frame: FrameType | None) -> None:
            # Only flag it here; the code below stops everything in order.
            stopping.set()
            ended.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        rotate_log(self.log_file)  # now, not in start(): the offset below must stay valid
        offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        sys.stdout.flush()
        try:
            self.start(access_log=sys.stdout.buffer if _has_fd(sys.stdout) else None)
        except ServerError as error:
            print(f"{name}: {error}", file=sys.stderr, flush=True)
            return 1
        for process in (self._process, self._door):
            threading.Thread(target=_watch, args=(process, ended), daemon=True).start()
        copied = threading.Event()
        tail = threading.Thread(
            target=_follow, args=(self.log_file, offset, sys.stdout.buffer, copied), daemon=True
        )
        tail.start()
        try:
            return self._live(when_ready, ready_timeout, stop_timeout, stopping, ended, name)
        finally:
            copied.set()
            tail.join(timeout=5)

    def _live(
        self,
        when_ready: Callable[[], None],
        ready_timeout: float,
        stop_timeout: float,
        stopping: threading.Event,
        ended: threading.Event,
        name: str,
    ) -> int:
        """``foreground`` once started: READY, ``when_ready``, then the processes' lifetime."""
        try:
            self._ready_unless(ended, ready_timeout)
            when_ready()
        except ServerError as error:
            self.stop(timeout=stop_timeout)
            if stopping.is_set():
                return 0
            print(f"{name}: {error}", file=sys.stderr, flush=True)
            return 1
        print(
            f"{name}: ready, models {', '.join(self.models)}; front door on "
            f"{self.inference_url}, TorchServe behind it on {self.backend_url}",
            flush=True,
        )
        ended.wait()
        which = self._which_died()
        self.stop(timeout=stop_timeout)
        if stopping.is_set():
            print(f"{name}: stopped on request", flush=True)
            return 0
        print(f"{name}: {which} exited on its own", file=sys.stderr, flush=True)
        return 1

    def _which_died(self) -> str:
        if not self.door.is_running() and self.is_running():
            return "the front door (HAProxy)"
        return "TorchServe"

    def _ready_unless(self, ended: threading.Event, timeout: float) -> None:
        """``wait_ready``, given up (ServerError) once ``ended`` is set."""
        deadline = time.monotonic() + timeout
        while not ended.is_set():
            if self.readiness()[0]:
                return
            if time.monotonic() > deadline:
                raise ServerError(f"not READY after {timeout:.0f}s:\n{self.log_tail()}")
            ended.wait(0.5)  # polling interval of the readiness check
        raise ServerError(f"{self._which_died()} exited before READY:\n{self.log_tail()}")

    def door_log_tail(self, lines: int = 20) -> str:
        path = self.run_dir / "logs" / "door.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def _follow(path: Path, offset: int, out: BinaryIO, done: threading.Event) -> None:
    """Copy what is appended to ``path`` (from ``offset``) to ``out`` until ``done``."""
    while True:
        finished = done.is_set()  # read once more after it is set: the last lines count
        try:
            with path.open("rb") as log:
                log.seek(offset)
                while chunk := log.read(1 << 16):
                    out.write(chunk)
                    out.flush()
                    offset += len(chunk)
        except FileNotFoundError:
            pass
        if finished:
            return
        done.wait(0.5)  # polling interval of a log tail


def _watch(process: subprocess.Popen[bytes] | None, ended: threading.Event) -> None:
    """Set ``ended`` when ``process`` exits."""
    if process is not None:
        process.wait()
    ended.set()


def _has_fd(stream: Any) -> bool:
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or HOST, parts.port or 80
