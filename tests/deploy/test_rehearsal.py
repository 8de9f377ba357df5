"""The rehearsal's reading of the manifests (deploy/rehearsal), without buildah: the pod it
would run is the rendered Deployment's, its probes behave as the kubelet's, and the load
balancer's checks are the readiness probe's. The rehearsal itself: `make deploy-rehearse`."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from deploy.rehearsal.pod import PodSpec, Probe, Prober, quantity_bytes, resolve_in, run_flags
from deploy.rehearsal.stack import balancer_config
from tests.deploy.manifests import Doc, find

IMAGE_CONFIG = {"Entrypoint": ["python", "-m", "container.entrypoint"], "Cmd": []}


@pytest.fixture
def spec(rendered: dict[str, list[Doc]]) -> PodSpec:
    return PodSpec(find(rendered["overlays/keda"], "Deployment"))


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    """An image's root with Debian's /var/run -> /run."""
    (tmp_path / "run").mkdir()
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "run").symlink_to("/run")
    return tmp_path


def flags_of(spec: PodSpec, rootfs: Path) -> tuple[list[str], list[str], list[str]]:
    ports = {"http": 18080, "metrics": 18082, "management": 18081}
    volumes = {name: Path(f"/vol/{name}") for name in ("run", "tmp", "api-keys")}
    return run_flags(spec, IMAGE_CONFIG, ports, volumes, rootfs)


def test_the_container_runs_as_the_manifest_says(spec: PodSpec, rootfs: Path) -> None:
    flags, argv, prefix = flags_of(spec, rootfs)
    assert argv == IMAGE_CONFIG["Entrypoint"], "no command/args in the manifest: the image's"
    assert prefix == ["setpriv", "--no-new-privs"], "allowPrivilegeEscalation: false"
    assert "--user=10001:10001" in flags
    assert "--cap-drop=ALL" in flags
    env = dict(f.removeprefix("--env=").split("=", 1) for f in flags if f.startswith("--env="))
    manifest_env = spec.env()
    assert env["PORT"] == "18080" and env["METRICS_PORT"] == "18082", "ports mapped here"
    assert env["MANAGEMENT_PORT"] == "18081"
    for key in ("METRICS_HOST", "TS_RUN_DIR", "TSERVE_API_KEYS_FILE", "TSERVE_KEY_MAX_INFLIGHT"):
        assert env[key] == manifest_env[key], f"{key} as the manifest sets it"
    volumes = sorted(f for f in flags if f.startswith("--volume="))
    assert volumes == [
        "--volume=/vol/api-keys:/run/secrets/torchserve-kit:ro",  # /var/run resolved
        "--volume=/vol/run:/app/run",
        "--volume=/vol/tmp:/tmp",
    ]


def test_the_keys_file_env_names_the_secret_mount(spec: PodSpec) -> None:
    mounts = {m["name"]: m["mountPath"] for m in spec.container["volumeMounts"]}
    item = next(v for v in spec.pod["volumes"] if v["name"] == "api-keys")["secret"]["items"][0]
    assert spec.env()["TSERVE_API_KEYS_FILE"] == f"{mounts['api-keys']}/{item['path']}"


def test_probes_and_stop_are_read_from_the_manifest(spec: PodSpec) -> None:
    container = spec.container
    for kind, probe in spec.probes().items():
        manifest = container[f"{kind}Probe"]
        assert probe.period == manifest["periodSeconds"], kind
        assert probe.timeout == manifest["timeoutSeconds"], kind
        assert probe.failures == manifest["failureThreshold"], kind
        assert probe.path == manifest["httpGet"]["path"], kind
    assert spec.pre_stop() == container["lifecycle"]["preStop"]["exec"]["command"]
    assert spec.grace() == spec.pod["terminationGracePeriodSeconds"]
    assert spec.memory_limit() == quantity_bytes(container["resources"]["limits"]["memory"])


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [("2560Mi", 2560 * 2**20), ("1Gi", 2**30), ("256Mi", 256 * 2**20), ("500M", 500 * 10**6)],
)
def test_quantity_bytes(quantity: str, expected: int) -> None:
    assert quantity_bytes(quantity) == expected


def test_mount_paths_resolve_symlinks_inside_the_image(rootfs: Path) -> None:
    assert resolve_in(rootfs, "/var/run/secrets/x") == "/run/secrets/x"
    assert resolve_in(rootfs, "/app/run") == "/app/run"
    (rootfs / "loop").symlink_to("/loop")
    with pytest.raises(ValueError, match="too many symlinks"):
        resolve_in(rootfs, "/loop/x")


class Health:
    """A /health/ready that answers ``status`` (changed by the test)."""

    def __init__(self) -> None:
        self.status = 503
        health = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(health.status)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def health() -> Iterator[Health]:
    server = Health()
    yield server
    server.server.shutdown()


def probes(period: float = 0.05, failures: int = 2) -> dict[str, Probe]:
    return {
        kind: Probe(kind, "/health/ready", "http", period, 1.0, failures, 1)
        for kind in ("startup", "readiness", "liveness")
    }


def wait_for(condition: Any, seconds: float = 10.0) -> None:
    event = threading.Event()
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        event.wait(0.02)  # polling interval
    raise AssertionError("condition not met in time")


def test_prober_ready_after_startup_then_not_ready_after_failures(health: Health) -> None:
    prober = Prober(probes(), health.url, time.monotonic())
    prober.start()
    try:
        wait_for(lambda: prober.checks >= 1)
        assert not prober.ready, "503: not Ready"
        health.status = 200
        wait_for(lambda: prober.ready)
        assert [e for _, e in prober.events][:2] == ["startup probe passed", "Ready"]
        health.status = 503
        wait_for(lambda: not prober.ready)
        assert prober.restart_wanted, "the liveness probe on the same path failed too"
    finally:
        prober.stop()


def test_prober_gives_up_after_the_startup_budget(health: Health) -> None:
    prober = Prober(probes(failures=3), health.url, time.monotonic())
    prober.start()
    prober.join(timeout=10)
    assert prober.restart_wanted and prober.ready_at is None
    assert prober.checks == 3, "startup failureThreshold probes, then the kubelet restarts"


def test_balancer_checks_as_the_readiness_probe(spec: PodSpec, tmp_path: Path) -> None:
    readiness = spec.probes()["readiness"]
    config = balancer_config(18000, tmp_path / "s.sock", {"r1": 18080, "r2": 18090}, readiness)
    assert f"option httpchk GET {readiness.path}" in config
    assert (
        f"inter {readiness.period:g}s fall {readiness.failures} rise {readiness.successes}"
        in config
    )
    assert "server r2 127.0.0.1:18090 check" in config
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(haproxy).exists():
        pytest.skip("no haproxy (make install-haproxy)")
    (tmp_path / "lb.cfg").write_text(config)
    check = subprocess.run([haproxy, "-c", "-f", str(tmp_path / "lb.cfg")], capture_output=True)
    assert check.returncode == 0, check.stderr.decode()
