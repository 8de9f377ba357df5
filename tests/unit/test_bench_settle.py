"""bench.settle: a contestant is measured only once the previous server has finished the
work it still held. Real child processes stand in for servers; nothing is timed."""

from __future__ import annotations

import select
import subprocess
import sys
from collections.abc import Iterator

import pytest

from bench.settle import tree_cpu_seconds, wait_quiet

# A "server" with a tail of work: it burns CPU in a grandchild (as TorchServe's workers do
# under the frontend), says so on stdout when done, then blocks, idle, on its stdin.
TAIL = """
import subprocess, sys
subprocess.run([sys.executable, "-c", "sum(i * i for i in range(12_000_000))"])
print("done", flush=True)
sys.stdin.read()
"""
FOREVER = "while True: pass"


@pytest.fixture
def spawn() -> Iterator[list[subprocess.Popen[str]]]:
    children: list[subprocess.Popen[str]] = []
    yield children
    for child in children:
        child.kill()
        child.wait(timeout=10)


def start(children: list[subprocess.Popen[str]], code: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    children.append(child)
    return child


def test_waits_until_the_tree_has_done_its_tail(spawn: list[subprocess.Popen[str]]) -> None:
    child = start(spawn, TAIL)
    quiet, waited = wait_quiet(child.pid, timeout=120)
    assert quiet, f"the child never went quiet in {waited} s"
    assert child.stdout is not None
    ready, _, _ = select.select([child.stdout], [], [], 0)
    assert ready and child.stdout.readline() == "done\n", (
        "wait_quiet returned while the grandchild was still computing"
    )


def test_a_server_that_stays_busy_is_reported(spawn: list[subprocess.Popen[str]]) -> None:
    child = start(spawn, FOREVER)
    quiet, waited = wait_quiet(child.pid, window=0.2, timeout=1.0)
    assert (quiet, waited >= 1.0) == (False, True)


def test_a_gone_process_uses_no_cpu() -> None:
    assert tree_cpu_seconds(2**22 + 12345) == 0.0  # above Linux's default pid_max
