"""What a cluster puts around the pods, on this machine's loopback.

- ``Balancer``: a second HAProxy (Debian's) in front of the replicas, like a Service or an
  ingress: health checks on the readiness probe's path at its period, timeout and
  thresholds (the endpoints follow readiness), and ``drain`` for a pod being deleted
  (its endpoint is removed). A connection refused, or a request the server dropped
  without an answer, is sent to another replica (``retry-on conn-failure empty-response``,
  ``redispatch``): safe for inference, which changes nothing on the server.
- ``Prometheus``: Debian's, scraping each replica's metrics port at the PodMonitor's
  interval, timeout and path, with the labels Prometheus Operator gives a PodMonitor's
  targets (``namespace``, ``pod``, ``container``, ``endpoint``, ``job``).
- ``locust``: the project's locustfile (loadtests/) as the clients, one key for all.
"""

from __future__ import annotations

import csv
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml

from deploy.rehearsal.pod import POLL_S, Doc, Probe, Replica
from server.settings import ROOT, free_ports


def haproxy() -> str:
    found = shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
    )
    if found is None:
        raise FileNotFoundError("no haproxy: make install-haproxy")
    return found


def balancer_config(port: int, sock: Path, servers: dict[str, int], probe: Probe) -> str:
    """HAProxy's config: ``servers`` (name: port on 127.0.0.1) checked like ``probe``."""
    lines = "\n".join(f"    server {name} 127.0.0.1:{p} check" for name, p in servers.items())
    return f"""global
    maxconn 4096
    stats socket {sock} mode 600 level admin
defaults
    mode http
    timeout connect 2s
    timeout client 90s
    timeout server 90s
    timeout check {probe.timeout:g}s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response
frontend service
    bind 127.0.0.1:{port}
    default_backend {Balancer.BACKEND}
backend {Balancer.BACKEND}
    balance leastconn
    option httpchk GET {probe.path}
    http-check expect status 200
    default-server inter {probe.period:g}s fall {probe.failures} rise {probe.successes}
{lines}
"""


class Balancer:
    """HAProxy as the Service in front of ``replicas``, health-checking ``probe``'s path."""

    BACKEND = "pods"

    def __init__(self, folder: Path, replicas: list[Replica], probe: Probe) -> None:
        (self.port,) = free_ports(1)
        self.url = f"http://127.0.0.1:{self.port}"
        self.socket = folder / "balancer.sock"
        self.config = folder / "balancer.cfg"
        servers = {r.name: r.ports["http"] for r in replicas}
        self.config.write_text(balancer_config(self.port, self.socket, servers, probe))
        run = subprocess.run(
            [haproxy(), "-c", "-q", "-f", str(self.config)], capture_output=True, text=True
        )
        if run.returncode != 0:
            raise RuntimeError(f"balancer config: {run.stderr}")
        self.process = subprocess.Popen(
            [haproxy(), "-db", "-f", str(self.config)],
            stdout=(folder / "balancer.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def command(self, line: str) -> str:
        with socket.socket(socket.AF_UNIX) as conn:
            conn.settimeout(5)
            conn.connect(str(self.socket))
            conn.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := conn.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def stats(self) -> dict[str, dict[str, str]]:
        """``show stat`` rows of the backend's servers by name (status, wretr, wredis, ...)."""
        lines = self.command("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        rows = [dict(zip(header, line.split(","), strict=False)) for line in lines[1:] if line]
        return {r["svname"]: r for r in rows if r.get("pxname") == self.BACKEND}

    def up(self, name: str) -> bool:
        return self.stats()[name]["status"].startswith("UP")

    def wait(self, name: str, up: bool, budget: float) -> float:
        """Seconds until the balancer's checks see ``name`` up (or down)."""
        began = time.monotonic()
        while True:
            if not self.socket.exists() or self.process.poll() is not None:
                if self.process.poll() is not None:
                    raise RuntimeError("the balancer exited")
            else:
                try:
                    if self.up(name) == up:
                        return round(time.monotonic() - began, 1)
                except OSError:
                    pass
            if time.monotonic() - began > budget:
                raise RuntimeError(
                    f"balancer: {name} not {'UP' if up else 'DOWN'} in {budget:.0f}s"
                )
            time.sleep(POLL_S)  # polling interval

    def drain(self, name: str) -> None:
        """The pod's endpoint removed: no new requests to it, those in flight finish."""
        self.command(f"set server {self.BACKEND}/{name} state drain")

    def retried(self) -> int:
        return sum(
            int(r.get("wretr") or 0) + int(r.get("wredis") or 0) for r in self.stats().values()
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


class Prometheus:
    """Debian's Prometheus scraping ``replicas`` as the rendered PodMonitor says."""

    def __init__(
        self, folder: Path, monitor: Doc, deployment: Doc, replicas: list[Replica]
    ) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            raise FileNotFoundError("no prometheus: make install-monitor")
        namespace, name = monitor["metadata"]["namespace"], monitor["metadata"]["name"]
        container = deployment["spec"]["template"]["spec"]["containers"][0]["name"]
        jobs = []
        # One scrape job per podMetricsEndpoint, named and labelled as the operator does.
        for index, endpoint in enumerate(monitor["spec"]["podMetricsEndpoints"]):
            targets = [
                {
                    "targets": [f"127.0.0.1:{r.ports[endpoint['port']]}"],
                    "labels": {
                        "namespace": namespace,
                        "pod": f"{deployment['metadata']['name']}-{r.name}",
                        "container": container,
                        "endpoint": endpoint["port"],
                    },
                }
                for r in replicas
            ]
            jobs.append(
                {
                    "job_name": f"podMonitor/{namespace}/{name}/{index}",
                    "metrics_path": endpoint.get("path", "/metrics"),
                    "scrape_interval": endpoint["interval"],
                    "scrape_timeout": endpoint["scrapeTimeout"],
                    "static_configs": targets,
                    # The operator's job label: <namespace>/<PodMonitor name>.
                    "relabel_configs": [
                        {"target_label": "job", "replacement": f"{namespace}/{name}"}
                    ],
                }
            )
        config = {"global": {"evaluation_interval": "15s"}, "scrape_configs": jobs}
        (folder / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        (port,) = free_ports(1)
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={folder / 'prometheus.yml'}",
                f"--storage.tsdb.path={folder / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=2h",
            ],
            stdout=(folder / "prometheus.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while not self._ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"prometheus did not start: see {folder / 'prometheus.log'}")
            time.sleep(POLL_S)  # polling interval

    def _ready(self) -> bool:
        try:
            return requests.get(f"{self.url}/-/ready", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def query(self, expr: str) -> list[dict[str, Any]]:
        answer = requests.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        answer.raise_for_status()
        return list(answer.json()["data"]["result"])

    def value(self, expr: str) -> float:
        """The single value of a query that KEDA reads (it requires exactly one)."""
        result = self.query(expr)
        if len(result) != 1:
            raise ValueError(f"{expr} returned {len(result)} elements; KEDA needs one")
        return float(result[0]["value"][1])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


@dataclass
class LoadResult:
    requests: int
    failures: int
    errors: dict[str, int]
    rps: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "failed": self.failures,
            "errors": self.errors,
            "req_per_s": self.rps,
        }


class Load:
    """A headless Locust run of the project's locustfile (its inference users, not the
    management one: a cluster's clients cannot reach the management API)."""

    USERS = ("DigitsUser", "CancerUser", "MinilmUser")

    def __init__(
        self, folder: Path, name: str, url: str, token: str, users: int, pace: float, seconds: float
    ) -> None:
        self.prefix = folder / name
        locust = Path(os.environ.get("LOCUST") or ROOT / ".venv" / "bin" / "locust")
        self.process = subprocess.Popen(
            [
                str(locust),
                "-f",
                str(ROOT / "loadtests" / "locustfile.py"),
                "--headless",
                "--only-summary",
                "--host",
                url,
                # Never called (no ManagementUser); the locustfile wants it named for a host
                # that is not the default server's.
                "--management-host",
                url,
                "--users",
                str(users),
                "--spawn-rate",
                str(users),
                "--pace",
                str(pace),
                "--run-time",
                f"{seconds:g}s",
                "--stop-timeout",
                "30",
                "--csv",
                str(self.prefix),
                *self.USERS,
            ],
            env=os.environ | {"TSERVE_TOKEN": token},
            cwd=ROOT,
            stdout=(folder / f"{name}.locust.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started = time.monotonic()

    def result(self, timeout: float = 180) -> LoadResult:
        self.process.wait(timeout=timeout)
        with Path(f"{self.prefix}_stats.csv").open() as file:
            total = next(row for row in csv.DictReader(file) if row["Name"] == "Aggregated")
        errors: dict[str, int] = {}
        with Path(f"{self.prefix}_failures.csv").open() as file:
            for row in csv.DictReader(file):
                key = f"{row['Name']}: {row['Error']}"[:160]
                errors[key] = errors.get(key, 0) + int(row["Occurrences"])
        return LoadResult(
            int(total["Request Count"]),
            int(total["Failure Count"]),
            errors,
            round(float(total["Requests/s"]), 1),
        )
