"""``tserve models ...`` changes a real TorchServe: register with batching and workers, scale
up and down, switch the default version, unregister; each answer is TorchServe's status."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest

from client import Client, TServeError
from server.launcher import TorchServe
from server.settings import ROOT
from tests.integration.archives import packed_workers
from tests.integration.clients import aim_cli, run_cli
from tests.integration.management.conftest import V2_ARCHIVE

ROW = ROOT / "examples" / "cancer_row.json"


@pytest.fixture(autouse=True)
def at_the_registry(registry: TorchServe, monkeypatch: pytest.MonkeyPatch) -> None:
    aim_cli(monkeypatch, registry)


def describe(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, Any]]:
    code, out, err = run_cli(capsys, "--json", "models", "describe", *args)
    assert (code, err) == (0, "")
    result: list[dict[str, Any]] = json.loads(out)
    return result


def test_model_lifecycle(capsys: pytest.CaptureFixture[str], admin: Client) -> None:
    name = "cli-cancer"
    register = ["models", "register", "cancer.mar", "--name", name]
    packed = packed_workers("cancer")  # wins over --workers 1
    try:
        assert run_cli(
            capsys, *register, "--batch-size", "8", "--max-batch-delay", "20", "--workers", "1"
        ) == (0, f'Model "{name}" Version: 1.0 registered with {packed} initial workers\n', "")
        [v1] = describe(capsys, name)
        assert (v1["batchSize"], v1["maxBatchDelay"], len(v1["workers"])) == (8, 20, packed)

        assert run_cli(capsys, "models", "scale", name, "--workers", "2") == (
            0,
            f"Workers scaled to 2 for model: {name}\n",
            "",
        )
        assert [w["status"] for w in describe(capsys, name)[0]["workers"]] == ["READY", "READY"]
        assert run_cli(capsys, "models", "scale", name, "--workers", "1") == (
            0,
            f"Workers scaled to 1 for model: {name}\n",
            "",
        )
        assert [w["status"] for w in describe(capsys, name)[0]["workers"]] == ["READY"]

        assert run_cli(capsys, "models", "register", V2_ARCHIVE, "--name", name)[0] == 0
        assert run_cli(capsys, "models", "set-default", name, "2.0") == (
            0,
            f'Default version successfully updated for model "{name}" to "2.0"\n',
            "",
        )
        for version in ("1.0", "2.0"):
            assert run_cli(capsys, "predict", name, str(ROW), "--version", version) == (
                0,
                "row 0  malignant  0.999981\n",
                "",
            )
        assert run_cli(capsys, "models", "unregister", name, "--version", "1.0") == (
            0,
            f'Model "{name}" unregistered\n',
            "",
        )
        assert [v["modelVersion"] for v in describe(capsys, name, "--version", "all")] == ["2.0"]
        assert run_cli(capsys, "models", "unregister", name) == (
            0,
            f'Model "{name}" unregistered\n',
            "",
        )
        assert run_cli(capsys, "models", "unregister", name) == (
            4,
            "",
            f"tserve: 404 ModelNotFoundException: Model not found: {name}\n",
        )
    finally:
        for version in ("2.0", "1.0", "2.0"):  # whatever a failed step left, default last
            with contextlib.suppress(TServeError):
                admin.unregister(name, version)
