"""checkov (offline, deploy/checkov.yaml's short skip list) on every rendered overlay, and
yamllint (deploy/yamllint.yaml) on deploy/; each also shown to reject a broken copy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.manifests import CHECKOV_LOCAL, DEPLOY, Doc, find
from tests.deploy.test_schemas import broken


def checkov(folder: Path) -> dict[str, Any]:
    """checkov's JSON report on the manifests in ``folder``."""
    binary = os.environ.get("CHECKOV") or str(CHECKOV_LOCAL)
    assert Path(binary).is_file(), f"no checkov at {binary}: run `make deploy-tools`"
    result = subprocess.run(
        [binary, "-d", str(folder), "--config-file", str(DEPLOY / "checkov.yaml"), "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(result.stdout)
    assert result.returncode == (1 if report["summary"]["failed"] else 0), result.stderr[-2000:]
    return dict(report)


def write(folder: Path, docs: dict[str, list[Doc]]) -> Path:
    folder.mkdir()
    for name, objects in docs.items():
        (folder / f"{name.replace('/', '-')}.yaml").write_text(yaml.safe_dump_all(objects))
    return folder


def test_checkov_passes_every_overlay(rendered: dict[str, list[Doc]], tmp_path: Path) -> None:
    report = checkov(write(tmp_path / "rendered", rendered))
    summary = report["summary"]
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert summary["failed"] == 0, failed
    assert summary["parsing_errors"] == 0 and summary["passed"] > 200, summary


def test_checkov_rejects_a_writable_root_running_as_root(
    rendered: dict[str, list[Doc]], tmp_path: Path
) -> None:
    deployment = find(rendered["base"], "Deployment")
    path = ("spec", "template", "spec", "containers", 0, "securityContext")
    context = dict(deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"])
    context |= {"readOnlyRootFilesystem": False, "runAsUser": 0, "runAsNonRoot": False}
    bad = broken(deployment, *path, value=context)
    report = checkov(write(tmp_path / "bad", {"bad": [bad]}))
    failed = {check["check_id"] for check in report["results"]["failed_checks"]}
    # Read-only root file system; containers that run as root.
    assert {"CKV_K8S_22", "CKV_K8S_23"} <= failed, failed


def yamllint(*paths: Path) -> subprocess.CompletedProcess[str]:
    """The venv's yamllint (requirements/dev.txt) with deploy/'s configuration."""
    binary = Path(sys.executable).with_name("yamllint")
    config = DEPLOY / "yamllint.yaml"
    command = [str(binary), "--strict", "-c", str(config), *map(str, paths)]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_yamllint_passes_deploy() -> None:
    result = yamllint(DEPLOY)
    assert result.returncode == 0, result.stdout


def test_yamllint_rejects_a_broken_file(tmp_path: Path) -> None:
    text = (DEPLOY / "base" / "service.yaml").read_text()
    bad = tmp_path / "service.yaml"
    bad.write_text(text.replace("  type: ClusterIP", "  type: ClusterIP\n  type: NodePort"))
    result = yamllint(bad)
    assert result.returncode != 0 and "duplication of key" in result.stdout, result.stdout
