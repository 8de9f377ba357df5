"""docs/client.md's `tserve` session runs against the test server and prints what it shows.

Each ``$`` line of the document's ``console`` block (with its ``\\`` continuations) runs
through bash, ``tserve`` being this venv's console script aimed at the test server; its
stdout and stderr together must be the lines the document shows under it, decimals within
``tests.answers.TOLERANCE`` and a line ``...`` standing for any number of lines.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from server.launcher import TorchServe
from server.settings import ROOT
from tests.answers import same_text
from tests.integration.clients import client_env

DOC = ROOT / "docs" / "client.md"
CONSOLE = re.compile(r"^```console\n(.*?)^```", re.DOTALL | re.MULTILINE)
ANY_LINES = "..."


@dataclass(frozen=True)
class Step:
    command: str
    expected: list[str]


def steps(text: str) -> list[Step]:
    """The commands of the document's first console block, each with the lines after it."""
    found: list[Step] = []
    lines = CONSOLE.findall(text)[0].splitlines()
    index = 0
    while index < len(lines):
        command = lines[index].removeprefix("$ ")
        while command.endswith("\\"):
            index += 1
            command = command[:-1] + lines[index].strip()
        index += 1
        expected = []
        while index < len(lines) and not lines[index].startswith("$ "):
            expected.append(lines[index])
            index += 1
        found.append(Step(command, expected))
    return found


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether ``actual`` is ``expected`` line by line, a ``...`` line matching any lines."""
    if not expected:
        return not actual
    if expected[0].strip() == ANY_LINES:
        return any(matches(expected[1:], actual[skip:]) for skip in range(len(actual) + 1))
    return bool(actual) and same_text(expected[0], actual[0]) and matches(expected[1:], actual[1:])


STEPS = steps(DOC.read_text())


def test_the_document_has_its_session() -> None:
    assert len(STEPS) >= 7, STEPS
    assert all(step.command.startswith("tserve ") for step in STEPS), STEPS


@pytest.mark.parametrize("step", STEPS, ids=[step.command[:40] for step in STEPS])
def test_each_command_prints_what_the_document_shows(step: Step, server: TorchServe) -> None:
    venv_bin = str(Path(sys.executable).parent)
    env = os.environ | client_env(server) | {"PATH": venv_bin + os.pathsep + os.environ["PATH"]}
    result = subprocess.run(
        ["bash", "-c", f"exec 2>&1; {step.command}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    printed = result.stdout.splitlines()
    assert matches(step.expected, printed), "\n".join(printed)
