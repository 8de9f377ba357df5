"""The container's one supervisor (``python -m container.entrypoint``), run here as the
image runs it: SIGTERM under load drains the door (no accepted request fails) and exits 0;
the door's death stops TorchServe and exits non-zero, so a platform restarts it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

from server.settings import (
    API_KEYS_ENV,
    CONTAINER_RUN_DIR_ENV,
    HEALTH_READY_PATH,
    HOST,
    MANAGEMENT_PORT_ENV,
    METRICS_PORT_ENV,
    PORT_ENV,
    ROOT,
    free_ports,
)

KEY = "supervisor-test-key-0123456789"
READY_TIMEOUT = 300.0
ROW = {"inputs": [14.0] * 30}


@dataclass
class Supervised:
    process: subprocess.Popen[bytes]
    url: str
    run_dir: Path
    log: Path

    def tree(self) -> list[psutil.Process]:
        """The supervisor's descendants (the door, TorchServe and its workers)."""
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []


@pytest.fixture
def supervised(tmp_path: Path) -> Iterator[Supervised]:
    port, management, metrics = free_ports(3)
    env = os.environ | {
        PORT_ENV: str(port),
        MANAGEMENT_PORT_ENV: str(management),
        METRICS_PORT_ENV: str(metrics),
        CONTAINER_RUN_DIR_ENV: str(tmp_path / "run"),
        API_KEYS_ENV: KEY,
    }
    log = tmp_path / "entrypoint.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "container.entrypoint"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Supervised(process, f"http://{HOST}:{port}", tmp_path / "run", log)
    left: list[psutil.Process] = []
    try:
        wait_ready(running)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        left = [
            process
            for process in psutil.process_iter(["cmdline"])
            if str(running.run_dir) in " ".join(process.info["cmdline"] or [])
        ]
        for leftover in left:
            leftover.kill()
    assert not left, f"processes outlived the supervisor: {[p.pid for p in left]}"


def wait_ready(running: Supervised) -> None:
    """Until the door says ready and the supervisor has said so too (it then watches)."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        assert running.process.poll() is None, running.log.read_text(errors="replace")[-3000:]
        try:
            ready = requests.get(running.url + HEALTH_READY_PATH, timeout=5).status_code == 200
        except requests.ConnectionError:
            ready = False
        if ready and "entrypoint: ready" in running.log.read_text(errors="replace"):
            return
        time.sleep(0.5)  # polling interval of the readiness check
    raise AssertionError(f"not ready in {READY_TIMEOUT:.0f} s")


def test_sigterm_under_load_fails_no_accepted_request_and_exits_0(supervised: Supervised) -> None:
    """Clients on new connections: each request is refused at connect (the door closed its
    listener) or answered 200. A reset, a 5xx or a request cut mid-way fails the test."""
    outcomes: Counter[str] = Counter()
    stop = threading.Event()
    lock = threading.Lock()

    def client(model: str, body: dict[str, Any]) -> None:
        while not stop.is_set():
            try:
                answer = requests.post(
                    f"{supervised.url}/predictions/{model}",
                    json=body,
                    headers={"Authorization": f"Bearer {KEY}", "Connection": "close"},
                    timeout=60,
                )
                outcome = str(answer.status_code)
            except requests.ConnectionError as error:
                refused = isinstance(error.__context__, ConnectionRefusedError) or (
                    "Connection refused" in str(error)
                )
                outcome = "refused at connect" if refused else f"dropped: {error}"
            with lock:
                outcomes[outcome] += 1
            if outcome == "refused at connect":
                return

    texts = {"inputs": ["a sentence that takes the model a moment " * 20] * 8}
    threads = [
        threading.Thread(target=client, args=("cancer", ROW)),
        threading.Thread(target=client, args=("cancer", ROW)),
        threading.Thread(target=client, args=("minilm", texts)),
        threading.Thread(target=client, args=("minilm", texts)),
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while sum(outcomes.values()) < 40 and time.monotonic() < deadline:
        time.sleep(0.1)  # polling interval while the load builds up
    supervised.process.send_signal(signal.SIGTERM)
    try:
        code = supervised.process.wait(timeout=60)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=90)
    assert code == 0, supervised.log.read_text(errors="replace")[-3000:]
    assert outcomes["200"] >= 40, outcomes
    assert set(outcomes) <= {"200", "refused at connect"}, outcomes


def test_the_doors_death_stops_torchserve_and_exits_non_zero(supervised: Supervised) -> None:
    (door,) = [p for p in supervised.tree() if p.name() == "haproxy"]
    door.kill()
    code = supervised.process.wait(timeout=90)
    assert code != 0
    assert "the front door (HAProxy) exited on its own" in supervised.log.read_text()
    assert not supervised.tree(), "TorchServe outlived the door"
