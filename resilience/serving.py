"""The TorchServe under test: started by the project's launcher, its workers and processes.

The launcher (``server.launcher.TorchServe``) owns the process tree; this module only asks
it questions (pid, readiness, its frontend and processes), reads the management API
through the project's client, and kills what a chaos event kills.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import psutil

from client import Client, TServeError
from server.launcher import READY_TIMEOUT, ServerError, TorchServe, loopback_ports, ready

POLL = 0.1  # seconds between two looks at the server's state while waiting on it


def own_server(
    run_dir: Path, models: Sequence[str] = (), ready_timeout: float = READY_TIMEOUT
) -> AbstractContextManager[TorchServe]:
    """A READY TorchServe with the project's config on free loopback ports, always stopped."""
    server = TorchServe(run_dir, models=list(models), overrides=loopback_ports())
    return server.running(timeout=ready_timeout)


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, poll: float = POLL
) -> None:
    """Poll ``condition`` until it holds; ServerError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise ServerError(f"gave up after {timeout:.0f}s waiting until {what}")
        time.sleep(poll)  # polling interval of the condition


def client_for(server: TorchServe, retries: int = 0, timeout: float = 30.0) -> Client:
    """The project's client aimed at ``server``; its tokens follow the server's key file,
    so the client keeps working after the server restarts with new keys."""
    return server.client(timeout=timeout, retries=retries, backoff=0.2)


def workers(client: Client, model: str) -> list[dict[str, Any]]:
    """The workers of ``model``'s default version, as the management API lists them."""
    return list(client.describe(model)[0].get("workers", []))


def worker_pids(client: Client, model: str) -> list[int]:
    return [int(worker["pid"]) for worker in workers(client, model)]


def minimum_workers(client: Client, model: str) -> int:
    return int(client.describe(model)[0]["minWorkers"])


def recovered(client: Client, model: str, expected: int, dead: set[int]) -> bool:
    """Whether ``model`` has ``expected`` workers, all READY, none of them a ``dead`` pid.

    A killed worker can stay listed as READY for a moment after its death, so its pid
    leaving the list, not the statuses alone, is what says TorchServe noticed.
    """
    try:
        listed = workers(client, model)
    except TServeError:
        return False  # the management API itself is restarting
    pids = {int(worker.get("pid") or 0) for worker in listed}
    statuses = [str(worker.get("status")) for worker in listed]
    return len(listed) == expected and not pids & dead and ready(statuses)


def wait_recovered(
    server: TorchServe, client: Client, model: str, expected: int, dead: set[int], timeout: float
) -> float | None:
    """Seconds until ``recovered`` holds (None: not within ``timeout``); fails fast if the
    server process died."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if not server.is_running():
            raise ServerError(f"TorchServe exited while {model} recovered:\n{server.log_tail()}")
        if recovered(client, model, expected, dead):
            return time.monotonic() - started
        time.sleep(POLL)  # polling interval of the check above
    return None


def frontend(server: TorchServe) -> psutil.Process:
    """The Java frontend (the launcher's ``TorchServe.frontend``); ServerError if none."""
    java = server.frontend()
    if java is None or "java" not in java.name():
        raise ServerError(f"no Java frontend under pid {server.pid()}: {java}")
    return java


def cpu_seconds(processes: Sequence[psutil.Process]) -> float:
    """CPU time (user + system) ``processes`` have used so far; the dead ones count 0."""
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def kill(pid: int) -> None:
    """``kill -9``: no chance to clean up, as a crash or the OOM killer would do it."""
    psutil.Process(pid).kill()


def wait_exited(server: TorchServe, timeout: float) -> float:
    """Seconds until the launcher's process has exited; ServerError if it outlives ``timeout``."""
    started = time.monotonic()
    while server.is_running():
        if time.monotonic() - started > timeout:
            raise ServerError(f"TorchServe still running {timeout:.0f}s after its frontend died")
        time.sleep(POLL)  # polling interval of the check above
    return time.monotonic() - started


def restart(server: TorchServe, timeout: float) -> None:
    """Start ``server`` again with the launcher after its frontend died, until READY: reap
    what is left of the old process group, then the same command, ports and config."""
    server.stop()  # the frontend is gone; this reaps the group and kills stray workers
    server.start()
    server.wait_ready(timeout=timeout)
