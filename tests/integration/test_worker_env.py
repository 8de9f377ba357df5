"""The launcher's worker environment reaches the Python workers TorchServe spawns."""

from __future__ import annotations

import os

import psutil

from server.launcher import WORKER_ENV, TorchServe


def test_workers_run_with_passive_idle_threads(server: TorchServe) -> None:
    pid = server.pid()
    assert pid is not None
    workers = [
        child
        for child in psutil.Process(pid).children(recursive=True)
        if any("model_service_worker" in part for part in child.cmdline())
    ]
    assert len(workers) >= 3, "a worker per model"
    for worker in workers:
        environ = worker.environ()
        for key, default in WORKER_ENV.items():
            # The caller's own setting wins over the launcher's default.
            assert environ.get(key) == os.environ.get(key, default), (key, worker.cmdline())
