"""`make notebook`: JupyterLab from the project's environment, pinned, on loopback only.

Checked from make's dry run (nothing is installed or started): the install reads the
pinned requirements/notebook.txt under lock.txt, and the server binds 127.0.0.1.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from server.settings import ROOT

REQUIREMENTS = ROOT / "requirements" / "notebook.txt"


def test_every_notebook_requirement_is_pinned() -> None:
    lines = [line for line in REQUIREMENTS.read_text().splitlines() if line and line[0] != "#"]
    assert lines and all(re.fullmatch(r"[A-Za-z0-9_.-]+==[\w.]+", line) for line in lines), lines
    assert lines[0].startswith("jupyterlab==")


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_notebook_installs_pinned_and_listens_on_loopback() -> None:
    run = subprocess.run(
        ["make", "-n", "-B", "--no-print-directory", "notebook"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "install -q -r requirements/notebook.txt -c requirements/lock.txt" in run.stdout
    [lab] = [line for line in run.stdout.splitlines() if "jupyter lab" in line]
    assert "--ServerApp.ip=127.0.0.1" in lab and "--no-browser" in lab, lab
