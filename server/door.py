"""The front door: HAProxy in front of TorchServe, configured and run for one run folder.

HAProxy (Debian's 2.6), not nginx or Envoy: it parses HTTP/1.1 strictly and answers in
order; it compares keys, limits each key and answers health from its own configuration,
with no module or sidecar (nginx would need njs or an auth subrequest for digests and per-
key concurrency; Envoy is not packaged by Debian); it checks a backend's health itself,
which is how readiness is judged; and it exports Prometheus metrics natively.

config/haproxy.cfg is the whole policy; it reads its settings from the environment this
module gives it (``environment``). This module writes the two things that vary per run into
``<run dir>/door/`` (0700): the accepted keys' digests, and ``readiness.cfg``, one backend
per model whose health check is ``GET /models/<name>`` on the management API: up while
every listed worker is READY (and there is one). ``/health/ready`` is 200 only when every
model's backend is up, the truth `make serve` waits for. The same checks answer the Open
Inference Protocol's health (``/v2/health/*``, ``/v2/models/<m>/ready``: ``protocol_config``),
and ``files/`` holds what the door serves itself through config/door-files.lua: each model's
v2 metadata and OpenAPI document and the page to try it (contracts/openapi.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import BinaryIO

import psutil

from contracts import openapi
from contracts.metadata import Metadata, MetadataError, read_metadata
from server.api_keys import digest
from server.settings import (
    DOOR_CONFIG,
    EXAMPLES,
    KEY_MAX_INFLIGHT_ENV,
    KEY_RATE_LIMIT_ENV,
    MODEL_STORE,
)

KEY_MAX_INFLIGHT = 256  # concurrent requests per key (429 beyond)
MAXCONN = 4096  # client connections at once (fewer if the open-files limit is low)
# One event loop: the door's per-request work (~30-50 us here) is a small share of a core even
# at 10,000 req/s, and a second thread would compete with TorchServe for the same cores.
THREADS = 1
BACKEND_MAXCONN = 256  # connections to TorchServe; more requests queue in the door (10 s)
SERVER_TIMEOUT = "90s"  # TorchServe answers within default_response_timeout (60 s)
DRAIN_TIMEOUT = "30s"  # a soft stop waits this long for requests in flight
CHECK_INTERVAL = "1s"  # readiness checks: a model turns ready at most this late
# HAProxy counts a checked server as up until its first check says otherwise: readiness is
# false for this many seconds after the door starts, by when every model has been checked.
CHECK_GRACE = 3
# HAProxy's own answers (config/haproxy.cfg's errorfile lines): the request it could not
# parse, a slow client, a full queue, TorchServe down.
ERRORS = {
    400: ("BadRequest", "malformed HTTP request"),
    403: ("Forbidden", "forbidden"),
    405: ("MethodNotAllowed", "method not allowed"),
    408: ("RequestTimeout", "the request did not arrive in time (10 s)"),
    500: ("InternalServerError", "the front door failed"),
    502: ("BadGateway", "the model server is not answering"),
    # The type the client reads as "never queued, safe to resend" (client.errors.BUSY_TYPE).
    503: ("ServiceUnavailableException", "overloaded: retry after 1 s"),
    504: ("GatewayTimeout", "the model server did not answer in time"),
}


class DoorError(RuntimeError):
    """HAProxy is missing, refused its configuration, or died at start."""


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or next(
        (path for path in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if Path(path).exists()),
        None,
    )
    if not found:
        raise DoorError("haproxy is not installed: `make install` (apt-get install haproxy)")
    return found


def error_file(status: int, type_: str, message: str) -> bytes:
    """A whole HTTP response for HAProxy's ``errorfile``: JSON like every other answer."""
    body = json.dumps({"code": status, "type": type_, "message": message}).encode()
    reason = HTTPStatus(status).phrase
    retry = "Retry-After: 1\r\n" if status == 503 else ""
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{retry}Cache-Control: no-cache\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


def readiness_config(models: Sequence[str]) -> str:
    """``backend health_ready`` and one health-checked backend per model."""
    checked = f'{{ date,sub("${{DOOR_STARTED}}") ge {CHECK_GRACE} }}'
    up = " ".join([checked, *(f"{{ nbsrv(ready_{name}) ge 1 }}" for name in models)])
    states = ", ".join(f'\\"{name}\\": %[nbsrv(ready_{name})]' for name in models)
    lines = [
        "backend health_ready",
        f"    http-request return status 200 content-type application/json lf-string "
        f'"{{\\"status\\": \\"ready\\", \\"models\\": {{{states}}}}}" if {up}',
        f"    http-request return status 503 content-type application/json lf-string "
        f'"{{\\"status\\": \\"not ready\\", \\"models\\": {{{states}}}}}"',
    ]
    for name in models:
        lines += [
            "",
            f"backend ready_{name}",
            "    option httpchk",
            "    http-check connect linger",
            f"    http-check send meth GET uri /models/{name} "
            'hdr Authorization "Bearer ${TS_MANAGEMENT_KEY}"',
            "    http-check expect status 200",
            '    http-check expect rstring "\\"status\\": \\"READY\\""',
            '    http-check expect ! rstring "\\"status\\": \\"(?!READY\\")"',
            f'    server ts "${{TS_MANAGEMENT_ADDRESS}}" check inter {CHECK_INTERVAL} '
            "fall 1 rise 1",
        ]
    return "\n".join(lines) + "\n"


def protocol_config(models: Sequence[str]) -> str:
    """``backend door_answers``: the Open Inference Protocol's health and per-model readiness
    from the readiness backends (the truth ``/health/*`` tells), then the door's files
    (``/v2/models/<m>`` metadata, ``/openapi/``, ``/docs/``) from config/door-files.lua."""
    checked = f'{{ date,sub("${{DOOR_STARTED}}") ge {CHECK_GRACE} }}'
    every = " ".join([checked, *(f"{{ nbsrv(ready_{name}) ge 1 }}" for name in models)])
    json_return = "http-request return content-type application/json status"
    lines = [
        "backend door_answers",
        f"    {json_return} 200 string '{{\"live\": true}}' "
        "if { path /v2/health/live } { nbsrv(torchserve_live) ge 1 }",
        f"    {json_return} 503 string '{{\"live\": false}}' if {{ path /v2/health/live }}",
        f"    {json_return} 200 string '{{\"ready\": true}}' "
        f"if {{ path /v2/health/ready }} {every}",
        f"    {json_return} 503 string '{{\"ready\": false}}' if {{ path /v2/health/ready }}",
    ]
    for name in models:
        ready = f'\\"name\\": \\"{name}\\", \\"ready\\"'
        lines += [
            f'    {json_return} 200 string "{{{ready}: true}}" '
            f"if {{ path /v2/models/{name}/ready }} {checked} {{ nbsrv(ready_{name}) ge 1 }}",
            f'    {json_return} 503 string "{{{ready}: false}}" '
            f"if {{ path /v2/models/{name}/ready }}",
        ]
    lines.append("    http-request use-service lua.door_files")
    return "\n".join(lines) + "\n"


def connection_limit() -> int:
    """Client connections the door takes at once: ``MAXCONN``, or what the open-files limit
    allows (HAProxy needs two descriptors a connection), after raising the soft limit to the
    hard one (a container's may be 1,024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    return max(64, min(MAXCONN, (soft - 64) // 2))


def _limit(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip() or str(default)
    if not value.isdigit():
        raise DoorError(f"{name} must be a whole number >= 0, got {value!r}")
    return int(value)


@dataclass
class Door:
    """HAProxy for one run folder: its files, its environment, its process."""

    run_dir: Path
    bind: str  # host:port for clients
    metrics_bind: str  # host:port for Prometheus
    inference: str  # TorchServe's inference host:port (loopback)
    management: str  # its management host:port
    metrics: str  # its metrics host:port
    exporter: str  # the management exporter's host:port (workers, queues)
    models: Sequence[str]
    max_body: int  # bytes, TorchServe's max_request_size
    model_store: Path = MODEL_STORE  # the archives whose metadata the door's files describe

    @property
    def state_dir(self) -> Path:
        return self.run_dir / "door"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "door.pid"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "logs" / "access.log"

    def write_files(self, keys: Sequence[str]) -> None:
        """The accepted keys' digests and the readiness backends, readable by this user only."""
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.state_dir.chmod(0o700)
        digests = self.state_dir / "keys.lst"
        digests.unlink(missing_ok=True)
        descriptor = os.open(digests, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.writelines(f"{digest(key)}\n" for key in keys)
        (self.state_dir / "readiness.cfg").write_text(
            readiness_config(self.models) + "\n" + protocol_config(self.models)
        )
        openapi.write_door_files(
            self.state_dir / "files", self.documents(), openapi.readme_examples(EXAMPLES)
        )
        errors = self.state_dir / "errors"
        errors.mkdir(exist_ok=True)
        for status, (type_, message) in ERRORS.items():
            (errors / f"{status}.http").write_bytes(error_file(status, type_, message))

    def documents(self) -> dict[str, Metadata]:
        """Each served model's archive metadata (a model without any gets no documents)."""
        found = {}
        for name in self.models:
            try:
                found[name] = read_metadata(self.model_store / f"{name}.mar")
            except (OSError, MetadataError, KeyError, ValueError):
                continue
        return found

    def environment(
        self, auth: bool, ts_keys: Mapping[str, str], env: Mapping[str, str]
    ) -> dict[str, str]:
        """What config/haproxy.cfg reads: addresses, limits, and TorchServe's own keys
        (passed in the environment, never written to the configuration)."""
        return {
            "DOOR_BIND": self.bind,
            "DOOR_METRICS_BIND": self.metrics_bind,
            "DOOR_STATE_DIR": str(self.state_dir),
            "DOOR_LUA": str(DOOR_CONFIG.parent / "door-files.lua"),
            "DOOR_AUTH": "on" if auth else "off",
            "DOOR_MAXCONN": str(connection_limit()),
            "DOOR_THREADS": str(THREADS),
            "DOOR_BACKEND_MAXCONN": str(BACKEND_MAXCONN),
            "DOOR_SERVER_TIMEOUT": SERVER_TIMEOUT,
            "DOOR_DRAIN_TIMEOUT": DRAIN_TIMEOUT,
            "DOOR_STARTED": str(int(time.time())),
            "DOOR_MAX_BODY": str(self.max_body),
            "DOOR_KEY_MAX_INFLIGHT": str(_limit(env, KEY_MAX_INFLIGHT_ENV, KEY_MAX_INFLIGHT)),
            "DOOR_KEY_RATE_LIMIT": str(_limit(env, KEY_RATE_LIMIT_ENV, 0)),
            "TS_INFERENCE_ADDRESS": self.inference,
            "TS_MANAGEMENT_ADDRESS": self.management,
            "TS_METRICS_ADDRESS": self.metrics,
            "DOOR_EXPORTER_ADDRESS": self.exporter,
            "TS_INFERENCE_KEY": ts_keys.get("inference", ""),
            "TS_MANAGEMENT_KEY": ts_keys.get("management", ""),
        }

    def command(self) -> list[str]:
        return [
            haproxy_binary(),
            "-db",  # stay in the foreground: the supervisor owns the process
            "-f",
            str(DOOR_CONFIG),
            "-f",
            str(self.state_dir / "readiness.cfg"),
        ]

    def start(
        self,
        keys: Sequence[str],
        auth: bool,
        ts_keys: Mapping[str, str],
        env: Mapping[str, str],
        access_log: BinaryIO | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start HAProxy in its own session; access log lines to ``access_log`` (default:
        ``logs/access.log``), its own warnings to ``logs/door.log``."""
        self.write_files(keys)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        settings = self.environment(auth, ts_keys, env)
        errors = self.run_dir / "logs" / "door.log"
        with contextlib.ExitStack() as files:
            out = access_log or files.enter_context(self.log_file.open("ab"))
            err = files.enter_context(errors.open("ab"))
            process = subprocess.Popen(
                self.command(),
                env={"PATH": os.environ.get("PATH", "")} | settings,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.5)  # a bad configuration or a taken port ends it at once
        if process.poll() is not None:
            tail = errors.read_text(errors="replace").splitlines()[-10:]
            raise DoorError("the front door (HAProxy) did not start:\n" + "\n".join(tail))
        self.pid_file.write_text(str(process.pid))
        return process

    def pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text())
        except (FileNotFoundError, ValueError):
            return None

    def is_running(self) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    def drain(self) -> None:
        """Soft stop: HAProxy closes its listeners at once, finishes the requests in
        flight (up to ``DRAIN_TIMEOUT``), then exits."""
        pid = self.pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGUSR1)

    def stop(self, timeout: float = 35.0) -> None:
        """Drain, wait for HAProxy to exit, kill it after ``timeout``."""
        pid = self.pid()
        if pid is None:
            return
        self.drain()
        with contextlib.suppress(psutil.NoSuchProcess):
            process = psutil.Process(pid)
            try:
                process.wait(timeout=timeout)
            except psutil.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        self.pid_file.unlink(missing_ok=True)
