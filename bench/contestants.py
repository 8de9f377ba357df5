"""Start and stop the servers the benchmark compares, each on free loopback ports.

- TorchServe with this project's archives (their packed config/models/*.yaml settings);
- TorchServe with the same archives re-packed with other settings: TorchServe's stock
  ones (batch 1, one worker per core, torch's default of all cores per worker), or a
  sweep's variant;
- the Flask app under gunicorn (bench/flask_app.py, bench/gunicorn_conf.py);
- the peers a user would pick instead, each from its own venv (make bench-peers): LitServe
  (bench/litserve_app.py), BentoML (bench/bento_service.py), Ray Serve (bench/rayserve_app.py).
A TorchServe is reached through its front door or, on the same server, directly
(``Endpoint.direct``): the benchmark measures both, which is the door's cost.
Every server is stopped on the way out (context managers), whatever happened.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

from server.launcher import WORKER_ENV, ServerError, TorchServe, loopback_ports
from server.settings import FLASK_BIND_ENV, HOST, LOG_CONFIG, MODEL_STORE, ROOT, free_ports

CORES = os.cpu_count() or 1


@dataclass(frozen=True)
class Endpoint:
    """Where a running contestant answers, and the headers every call needs."""

    url: str  # base URL; models at {url}/predictions/<model>
    headers: dict[str, str] = field(default_factory=dict)
    pid: int | None = None  # the server's main process, for its CPU time
    direct: Endpoint | None = None  # a TorchServe behind its door: TorchServe itself
    json_only: bool = False  # reads JSON bodies only: sent the inputs' JSON form
    session: bool = False  # the server leads its own process group (pid = group id)


@dataclass(frozen=True)
class Peer:
    """A peer server: a module run by its venv's Python with ``--port``, ready when
    ``ready_path`` answers 200."""

    venv: Path
    module: str
    ready_path: str
    settings: str  # as the report states them
    json_only: bool = False

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


PEER_VENVS = ROOT / "build"
PEERS = {
    "litserve": Peer(
        PEER_VENVS / "venv-litserve",
        "bench.litserve_app",
        "/health",
        "LitServe 0.2.19: a LitAPI per model, workers_per_device = cores, 1 torch thread each, "
        "max_batch_size and batch_timeout = the model's batchSize and maxBatchDelay, "
        "fast_queue (ZeroMQ), an API server per worker; JSON bodies (bench/litserve_app.py)",
        json_only=True,
    ),
    "bentoml": Peer(
        PEER_VENVS / "venv-bentoml",
        "bench.bento_service",
        "/readyz",
        "BentoML 1.4.40: a service per model, workers = cores, 1 torch thread each, adaptive "
        "batching (max_batch_size = the model's batchSize, max_latency_ms) "
        "(bench/bento_service.py)",
    ),
}


def stock_settings() -> dict[str, Any]:
    """TorchServe's defaults written out: no batching, a worker per core, and in each
    worker torch's own default of one thread per core (nothing caps it)."""
    return {
        "minWorkers": CORES,
        "maxWorkers": CORES,
        "batchSize": 1,
        "maxBatchDelay": 100,
        "handler": {"torch_threads": CORES},
    }


def merged(config: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """A model config with ``settings`` applied, its ``handler`` table merged key by key."""
    handler = config.get("handler", {}) | settings.get("handler", {})
    return (
        config
        | {key: value for key, value in settings.items() if key != "handler"}
        | {"handler": handler}
    )


def repacked(source: Path, target: Path, settings: dict[str, Any]) -> Path:
    """Copy the archive ``source`` to ``target`` with ``settings`` merged into its model
    config (``handler`` merged key by key); everything else, weights included, unchanged."""
    with zipfile.ZipFile(source) as archive:
        manifest = yaml.safe_load(archive.read("MAR-INF/MANIFEST.json"))
        config_name = manifest["model"]["configFile"]
        config = merged(yaml.safe_load(archive.read(config_name)) or {}, settings)
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as copy:
            for item in archive.infolist():
                data = archive.read(item)
                if item.filename == config_name:
                    data = yaml.safe_dump(config, sort_keys=False).encode()
                copy.writestr(item, data)
    return target


def model_settings(name: str, store: Path = MODEL_STORE) -> dict[str, Any]:
    """The model config packed in ``store/<name>.mar``."""
    with zipfile.ZipFile(store / f"{name}.mar") as archive:
        manifest = yaml.safe_load(archive.read("MAR-INF/MANIFEST.json"))
        return yaml.safe_load(archive.read(manifest["model"]["configFile"])) or {}


@contextlib.contextmanager
def torchserve(
    run_dir: Path,
    models: list[str],
    settings: dict[str, dict[str, Any]] | None = None,
    env: dict[str, str] | None = None,
    store: Path = MODEL_STORE,
    overrides: dict[str, str] | None = None,
    upstream: bool = False,
) -> Iterator[Endpoint]:
    """TorchServe serving ``models`` from ``store``; ``settings`` per model re-pack their
    archives; ``env`` is added to the environment TorchServe and its workers start with;
    ``overrides`` are config.properties keys beside the ports. ``upstream``: without this
    project's worker environment and logging (TorchServe's own log4j2 setup, sync)."""
    if settings:
        source, store = store, run_dir / "model_store"
        for name in models:
            archive = source / f"{name}.mar"
            if name in settings:
                repacked(archive, store / archive.name, settings[name])
            else:
                store.mkdir(parents=True, exist_ok=True)
                shutil.copy2(archive, store / archive.name)
    if upstream:
        overrides = (overrides or {}) | {"async_logging": "false"}
    server = TorchServe(
        run_dir / "server",
        models=models,
        model_store=store,
        overrides=loopback_ports() | (overrides or {}),
        log_config=None if upstream else LOG_CONFIG,
        worker_env={} if upstream else dict(WORKER_ENV),
        environment=env or {},
    )
    with server.running(timeout=300 + 30 * len(models)):  # workers start side by side
        direct = Endpoint(server.backend_url, server.headers("backend"), server.pid())
        yield Endpoint(server.inference_url, server.headers("inference"), server.pid(), direct)


@contextlib.contextmanager
def flask_gunicorn(run_dir: Path, timeout: float = 300.0) -> Iterator[Endpoint]:
    """The Flask app under gunicorn; ready once every worker has answered /ping."""
    (port,) = free_ports(1)
    url = f"http://{HOST}:{port}"
    env = os.environ | {FLASK_BIND_ENV: f"{HOST}:{port}"}
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "-c",
        "bench/gunicorn_conf.py",
        "bench.flask_app:app",
    ]
    run_dir.mkdir(parents=True, exist_ok=True)
    with (run_dir / "gunicorn.log").open("ab") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_workers(process, url, CORES, timeout, run_dir / "gunicorn.log")
        yield Endpoint(url, {}, process.pid)
    finally:
        process.terminate()  # gunicorn's master stops its workers on SIGTERM
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_for_workers(
    process: subprocess.Popen[bytes], url: str, workers: int, timeout: float, log: Path
) -> None:
    """Poll /ping until ``workers`` distinct worker pids have answered (models loaded)."""
    deadline = time.monotonic() + timeout
    seen: set[int] = set()
    session = requests.Session()
    while len(seen) < workers:
        if process.poll() is not None:
            raise ServerError(
                f"gunicorn exited with {process.returncode}:\n{log.read_text()[-3000:]}"
            )
        if time.monotonic() > deadline:
            raise ServerError(
                f"only {len(seen)} of {workers} gunicorn workers ready after {timeout:.0f}s"
            )
        # Whichever idle worker accepts first answers: over a few polls, all of them do.
        with contextlib.suppress(requests.RequestException, ValueError, KeyError):
            seen.add(int(session.get(f"{url}/ping", timeout=5).json()["pid"]))
        time.sleep(0.2)  # polling interval, not a wait standing in for readiness


@contextlib.contextmanager
def peer(name: str, run_dir: Path, models: list[str], timeout: float = 300.0) -> Iterator[Endpoint]:
    """The peer ``name`` serving ``models`` on a free port, in a session of its own so that
    every process it starts (workers, API servers) is stopped with it."""
    spec = PEERS[name]
    if not spec.python.exists():
        raise ServerError(f"{spec.python} is missing: run `make bench-peers` first")
    (port,) = free_ports(1)
    url = f"http://{HOST}:{port}"
    command = [str(spec.python), "-m", spec.module, "--port", str(port), "--models", *models]
    run_dir.mkdir(parents=True, exist_ok=True)
    log_path = run_dir / f"{name}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=os.environ | {"PYTHONPATH": str(ROOT)},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_ready(process, url + spec.ready_path, timeout, log_path)
        yield Endpoint(url, {}, process.pid, json_only=spec.json_only, session=True)
    finally:
        _stop_session(process)


def _wait_ready(process: subprocess.Popen[bytes], url: str, timeout: float, log: Path) -> None:
    """Poll ``url`` until it answers 200; give up at once if the server exited."""
    deadline = time.monotonic() + timeout
    session = requests.Session()
    while True:
        if process.poll() is not None:
            raise ServerError(
                f"{url}: exited with {process.returncode}:\n{log.read_text()[-3000:]}"
            )
        with contextlib.suppress(requests.RequestException):
            if session.get(url, timeout=5).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise ServerError(f"{url}: not ready after {timeout:.0f}s:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)  # polling interval, not a wait standing in for readiness


def _stop_session(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's session (its process group), SIGKILL what is left after 30 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGCONT)  # were it paused, it could not stop
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # workers the main process left behind
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def pause(endpoint: Endpoint, paused: bool) -> None:
    """Stop (SIGSTOP) or continue (SIGCONT) every process of a peer's session: a peer that
    polls its queues takes CPU while idle, which must not fall on the contestant measured
    meanwhile."""
    if endpoint.session and endpoint.pid is not None:
        os.killpg(endpoint.pid, signal.SIGSTOP if paused else signal.SIGCONT)
