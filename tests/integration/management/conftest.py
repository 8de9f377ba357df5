"""A second TorchServe for tests that change what is registered.

The session server keeps the registration API off (as `make serve` does); this one turns it
on and serves a private model store that holds cancer 1.0 (the project's archive) and a
cancer 2.0 built for these tests. It starts with only cancer loaded; tests register copies
under names of their own and unregister them, so they do not depend on each other.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from client import Client
from server.launcher import TorchServe
from server.settings import MODEL_STORE, ROOT
from tests.integration.clients import client_for
from tests.integration.conftest import running_server

V2_ARCHIVE = "cancer-2.0.mar"


def build_cancer(version: str, destination: Path) -> None:
    """Train cancer and archive it as ``version`` at ``destination`` (about 3 s)."""
    export = destination.parent / f"build-{version}"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "models.build",
            "--only",
            "cancer",
            "--version",
            version,
            "--export-path",
            str(export),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (export / "cancer.mar").rename(destination)


@pytest.fixture(scope="package")
def model_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server's store: cancer.mar (1.0, the project's) and cancer-2.0.mar."""
    store = tmp_path_factory.mktemp("registry") / "model_store"
    store.mkdir()
    shutil.copy(MODEL_STORE / "cancer.mar", store / "cancer.mar")
    build_cancer("2.0", store / V2_ARCHIVE)
    return store


@pytest.fixture(scope="package")
def registry(model_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TorchServe]:
    """TorchServe with enable_model_api=true on free ports, cancer 1.0 loaded."""
    with running_server(
        tmp_path_factory.mktemp("registry-run"),
        models=["cancer"],
        model_store=model_store,
        overrides={"enable_model_api": "true"},
    ) as instance:
        yield instance


@pytest.fixture
def admin(registry: TorchServe) -> Client:
    """A client of the registry server, tokens from its key file."""
    return client_for(registry)
