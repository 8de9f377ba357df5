"""The image under test, run the way `docker run` would run it, and always torn down.

No Docker engine is needed: `buildah from` makes a working container of the image and
`buildah run --isolation chroot --network host` starts its ENTRYPOINT as its USER. With the
host's network the server's ports are this machine's, so each container gets free ones
(through the entrypoint's own settings) and is reached on 127.0.0.1. `make image-test`
builds the image and runs these tests; CONTAINER_IMAGE names the image.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
import requests

from client.tokens import read_key_file
from deploy.rehearsal.pod import chrooted_descendants
from server.settings import (
    CONTAINER_RUN_DIR_ENV,
    KEY_FILE,
    LOCAL_KEY_FILE,
    MANAGEMENT_PORT_ENV,
    METRICS_PORT_ENV,
    PORT_ENV,
    free_ports,
)

IMAGE = os.environ.get("CONTAINER_IMAGE", "localhost/torchserve-kit:test")
READY_TIMEOUT = 300.0  # s; TorchServe loads three models on a shared 2-core machine
STOP_TIMEOUT = 30.0  # s; `docker stop` waits 10 s by default, platforms 30 s
# `docker run`/`docker exec` as buildah does them: chroot isolation, the host's loopback network.
BUILDAH_RUN = ("buildah", "run", "--isolation", "chroot", "--network", "host")


def buildah(*args: str) -> str:
    result = subprocess.run(["buildah", *args], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"buildah {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def image_config(image: str = IMAGE) -> dict[str, Any]:
    """The image's Docker config: User, Env, Entrypoint, Healthcheck, ExposedPorts, ..."""
    return json.loads(buildah("inspect", "--type", "image", image))["Docker"]["config"]  # type: ignore[no-any-return,unused-ignore]


class Container:
    """One working container of the image with its ENTRYPOINT running in the background."""

    def __init__(self, name: str, log: Path) -> None:
        self.config = image_config()
        self.name = buildah("from", "--name", name, IMAGE)
        self.root = Path(buildah("mount", self.name))  # its filesystem, seen from here
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, env: dict[str, str], args: list[str]) -> None:
        """What `docker run -e K=V IMAGE ARGS` does: the ENTRYPOINT with ARGS, as USER."""
        flags = [f"--env={key}={value}" for key, value in env.items()]
        command = [*self.config["Entrypoint"], *args]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*BUILDAH_RUN, *flags, self.name, "--", *command],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def exec(self, *command: str) -> subprocess.CompletedProcess[str]:
        """What `docker exec` does: another process in the running container, as USER."""
        return subprocess.run(
            [*BUILDAH_RUN, self.name, "--", *command],
            capture_output=True,
            text=True,
            timeout=60,
        )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def pids(self) -> list[int]:
        """Processes inside the container: descendants of `buildah run` in its chroot."""
        return [] if self.process is None else chrooted_descendants(self.process.pid)

    def main_pid(self) -> int | None:
        """The ENTRYPOINT's process: the container's main process (PID 1 under docker)."""
        for pid in self.pids():
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
            except (FileNotFoundError, ProcessLookupError):
                continue
            if [arg.decode() for arg in argv[1:3]] == self.config["Entrypoint"][1:3]:
                return pid
        return None

    def read(self, path: str) -> str:
        return (self.root / path.lstrip("/")).read_text()

    def write(self, path: str, text: str) -> None:
        (self.root / path.lstrip("/")).write_text(text)  # in place: owner and mode stay

    def run_dir(self) -> Path:
        """The run folder, seen from here."""
        return self.root / self.env(CONTAINER_RUN_DIR_ENV).lstrip("/")

    def key_file(self) -> Path:
        """TorchServe's key file (its management key), seen from here."""
        return self.run_dir() / KEY_FILE

    def key(self, kind: str = "inference") -> str:
        """The front door's API key (the one it generated), or TorchServe's ``kind`` key."""
        if kind == "inference":
            return (self.run_dir() / LOCAL_KEY_FILE).read_text().strip()
        return read_key_file(self.key_file())[kind]

    def has_key_file(self) -> bool:
        return self.key_file().exists()

    def env(self, name: str) -> str:
        pairs = dict(item.split("=", 1) for item in self.config["Env"])
        return pairs[name]

    def healthcheck(self) -> subprocess.CompletedProcess[str]:
        """The image's own HEALTHCHECK command, run inside the container."""
        kind, *command = self.config["Healthcheck"]["Test"]
        assert kind == "CMD", f"HEALTHCHECK should be exec form, got {kind}"
        return self.exec(*command)

    def wait_healthy(self, timeout: float = READY_TIMEOUT) -> None:
        """Poll the HEALTHCHECK until it passes; fail at once if the container exits."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.running():
                raise RuntimeError(f"container exited during start-up:\n{self.log_tail()}")
            result = self.healthcheck()
            if result.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"not healthy after {timeout:.0f}s: {result.stdout}{result.stderr}\n"
                    f"{self.log_tail()}"
                )
            time.sleep(1.0)  # polling interval of the readiness check, not a wait for it

    def stop(self) -> int | None:
        """What `docker stop` does: SIGTERM to the main process; its exit status.

        `buildah run` itself does not pass SIGTERM on (it kills its child outright), so the
        signal goes straight to the entrypoint.
        """
        if self.process is None:
            return None
        pid = self.main_pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            return None
        return self.process.returncode

    def remove(self) -> list[int]:
        """Kill whatever is left inside, remove the container; the pids that were left."""
        left = self.pids()
        for pid in left:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        buildah("rm", self.name)
        return left

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


class Server:
    """A started container and the URLs of its published ports."""

    def __init__(self, container: Container, inference: int, management: int, metrics: int):
        self.container = container
        self.inference_url = f"http://127.0.0.1:{inference}"
        # Not published by the image; reachable here only because of the host's network.
        self.management_url = f"http://127.0.0.1:{management}"
        self.metrics_url = f"http://127.0.0.1:{metrics}"
        self.session = requests.Session()

    def scale(self, model: str, workers: int) -> requests.Response:
        """PUT /models/<model>: exactly ``workers`` workers, once they are started."""
        return self.session.put(
            f"{self.management_url}/models/{model}",
            params={
                "min_worker": str(workers),
                "max_worker": str(max(workers, 1)),
                "synchronous": "true",
            },
            headers=self.management_headers(),
            timeout=120,
        )

    def management_headers(self) -> dict[str, str]:
        if not self.container.has_key_file():  # token auth off
            return {}
        return {"Authorization": f"Bearer {self.container.key('management')}"}

    def workers(self, model: str) -> list[str]:
        """Worker statuses of ``model`` from the management API."""
        response = self.session.get(
            f"{self.management_url}/models/{model}", headers=self.management_headers(), timeout=30
        )
        assert response.status_code == 200, response.text
        return [worker["status"] for worker in response.json()[0]["workers"]]

    def predict(self, model: str, token: str | None = "", **kwargs: Any) -> requests.Response:
        """POST /predictions/<model>; token "" means the container's inference key."""
        headers = kwargs.pop("headers", {})
        if token == "":
            token = self.container.key("inference")
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.session.post(
            f"{self.inference_url}/predictions/{model}", headers=headers, timeout=60, **kwargs
        )


def run_container(
    tmp_path_factory: pytest.TempPathFactory, name: str, env: dict[str, str]
) -> Iterator[Server]:
    """Start a container of the image, wait until healthy, yield it, then stop and remove it.

    Teardown checks what `docker stop` relies on: SIGTERM ends the main process with status
    0 within STOP_TIMEOUT and leaves nothing running.
    """
    inference, management, metrics = free_ports(3)
    log = tmp_path_factory.mktemp(name) / "container.log"
    container = Container(f"{name}-{os.getpid()}", log)
    ports = {
        PORT_ENV: str(inference),
        MANAGEMENT_PORT_ENV: str(management),
        METRICS_PORT_ENV: str(metrics),
    }
    stopped: int | None = None
    try:
        container.start(ports | env, [])
        container.wait_healthy()
        yield Server(container, inference, management, metrics)
        stopped = container.stop()
    finally:
        left = container.remove()
    assert stopped == 0, f"SIGTERM: exit status {stopped}, expected 0\n{container.log_tail()}"
    assert not left, f"processes {left} outlived the main process\n{container.log_tail()}"
