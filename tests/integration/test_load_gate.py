"""A short SLO-gated Locust run against the test server (what `make load` does, for CI).

Locust runs headless as a subprocess with the CI profile of loadtests/slo.toml: loose
latency for a loaded 2-core machine, but every endpoint must be served without errors.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

from loadtests import endpoints
from server.launcher import TorchServe
from server.settings import ROOT
from tests.integration.conftest import Api

CONFIG = ROOT / "loadtests" / "locust.conf"


def locust(
    server: TorchServe, out: Path, *args: str, management: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the project's locustfile headless against ``server``; tokens given in the env."""
    keys = server.keys()
    env = os.environ | {
        "TSERVE_TOKEN": server.api_key(),
        "TSERVE_MANAGEMENT_TOKEN": keys["management"],
    }
    command = [
        sys.executable,
        "-m",
        "locust",
        "--config",
        str(CONFIG),
        "--headless",
        "--host",
        server.inference_url,
        *(("--management-host", server.management_url) if management else ()),
        "--csv",
        str(out / "stats"),
        "--html",
        str(out / "report.html"),
        *args,
    ]
    # cwd: locust.conf names the locustfile relative to the repository root.
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)


def workers(api: Api) -> dict[str, int]:
    models = api.manage("GET", "/models").json()["models"]
    return {
        model["modelName"]: len(
            api.manage("GET", f"/models/{model['modelName']}").json()[0]["workers"]
        )
        for model in models
    }


def test_a_short_gated_run_meets_the_ci_slos(server: TorchServe, api: Api, tmp_path: Path) -> None:
    before = workers(api)
    run = locust(
        server,
        tmp_path,
        "--slo-profile",
        "ci",
        "--run-time",
        "20s",
        "--users",
        "12",
        "--spawn-rate",
        "12",
    )
    assert run.returncode == 0, f"locust exited {run.returncode}:\n{run.stderr[-4000:]}"
    with (tmp_path / "stats_stats.csv").open(newline="") as file:
        rows = {row["Name"]: row for row in csv.DictReader(file)}
    for name in endpoints.ALL:
        assert name in rows and int(rows[name]["Request Count"]) > 0, f"no requests for {name}"
        assert rows[name]["Failure Count"] == "0", f"{name} failed: {rows[name]}"
    assert (tmp_path / "report.html").stat().st_size > 0
    assert workers(api) == before, "the management scenario changed the server's workers"


def test_the_gate_fails_a_run_that_misses_an_slo(server: TorchServe, tmp_path: Path) -> None:
    """The same run against an SLO no server meets (a million req/s) must exit non-zero."""
    strict = tmp_path / "slo.toml"
    names = "\n".join(f'"{name}" = {{}}' for name in endpoints.ALL)
    strict.write_text(
        "[strict]\np95_ms = 60000\np99_ms = 60000\nmax_error_rate = 1.0\nmin_rps = 1000000\n"
        f"[strict.endpoints]\n{names}\n"
    )
    run = locust(
        server,
        tmp_path,
        "--slo-file",
        str(strict),
        "--slo-profile",
        "strict",
        "--run-time",
        "4s",
        "--users",
        "6",
        "--spawn-rate",
        "6",
    )
    assert run.returncode == 1, f"expected exit code 1, got {run.returncode}:\n{run.stderr[-4000:]}"
    assert "SLO breach: digits raw png:" in run.stderr


def test_an_unknown_profile_stops_the_run_before_any_load(
    server: TorchServe, tmp_path: Path
) -> None:
    started = time.monotonic()
    run = locust(server, tmp_path, "--slo-profile", "nonexistent", "--run-time", "120s")
    assert run.returncode == 2, f"expected exit code 2, got {run.returncode}:\n{run.stderr[-4000:]}"
    assert "no profile 'nonexistent'" in run.stderr
    assert time.monotonic() - started < 60, "the load ran despite the bad profile"


def test_another_servers_host_needs_its_management_host(server: TorchServe, tmp_path: Path) -> None:
    run = locust(server, tmp_path, "--run-time", "120s", management=False)
    assert run.returncode == 2, f"expected exit code 2, got {run.returncode}:\n{run.stderr[-4000:]}"
    assert "give its management API too (--management-host URL" in run.stderr, run.stderr[-2000:]
