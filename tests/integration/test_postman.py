"""postman/collection.json passes under newman (Postman's command-line runner) against the
test server: every request answered, every ``pm.test`` assertion true.

newman is pinned in postman/package.json + package-lock.json; it is installed with
``npm ci`` on first use (`make postman` does the same). Only a machine without npm skips.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from server.launcher import TorchServe
from server.settings import ROOT
from tests.postman_collection import COLLECTION, POSTMAN, requests_of

NEWMAN = POSTMAN / "node_modules" / ".bin" / "newman"


@pytest.fixture(scope="module")
def newman() -> Path:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: the Postman collection runs under newman (npm)")
    if not NEWMAN.exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=POSTMAN,
            check=True,
            capture_output=True,
            timeout=600,
        )
    return NEWMAN


def assertions_of(request: dict[str, Any]) -> int:
    scripts = [event["script"]["exec"] for event in request.get("event", [])]
    return sum(line.count("pm.test(") for lines in scripts for line in lines)


def environment(server: TorchServe) -> dict[str, Any]:
    """A Postman environment for the test server (overrides the collection's variables)."""
    keys = server.keys()
    values = {
        "inferenceUrl": server.inference_url,
        "managementUrl": server.management_url,
        "metricsUrl": server.metrics_url,
        "token": server.api_key(),
        "managementToken": keys["management"],
    }
    return {
        "name": "test server",
        "values": [{"key": k, "value": v, "enabled": True} for k, v in values.items()],
    }


def test_collection_passes_under_newman(server: TorchServe, newman: Path, tmp_path: Path) -> None:
    collection = json.loads(COLLECTION.read_text())
    requests = requests_of(collection)
    env_file, report_file = tmp_path / "env.json", tmp_path / "report.json"
    env_file.write_text(json.dumps(environment(server)))  # keys stay out of the command line
    result = subprocess.run(
        [
            str(newman),
            "run",
            str(COLLECTION),
            "--environment",
            str(env_file),
            "--working-dir",
            str(ROOT),  # file bodies are examples/... paths
            "--reporters",
            "cli,json",
            "--reporter-json-export",
            str(report_file),
            "--timeout-request",
            "30000",
            "--color",
            "off",
            "--disable-unicode",
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    run = json.loads(report_file.read_text())["run"]
    failures = [f"{f['source']['name']}: {f['error']['message']}" for f in run["failures"]]
    assert failures == [], result.stdout[-4000:]
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    stats = run["stats"]
    assert stats["requests"] == {"total": len(requests), "pending": 0, "failed": 0}
    expected = sum(assertions_of(request) for request in requests)
    assert stats["assertions"] == {"total": expected, "pending": 0, "failed": 0}
