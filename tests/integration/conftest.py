"""One real TorchServe per test run: the project's config and archives, free ports, token on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
import requests

from server.launcher import TorchServe, loopback_ports
from server.settings import MODEL_STORE

__all__ = ["Api", "running_server"]  # for tests that start a server of their own


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TorchServe]:
    missing = [name for name in ("digits", "cancer") if not (MODEL_STORE / f"{name}.mar").exists()]
    if missing:
        pytest.fail(f"archives {missing} missing from {MODEL_STORE}: run `make archive`")
    with running_server(tmp_path_factory.mktemp("torchserve")) as instance:
        yield instance


def running_server(run_dir: Path, **settings: Any) -> AbstractContextManager[TorchServe]:
    """A READY TorchServe on free loopback ports, always stopped; ``settings`` go to
    TorchServe (models, model_store, and ``overrides`` merged over the port settings)."""
    overrides = loopback_ports() | settings.pop("overrides", {})
    return TorchServe(run_dir, overrides=overrides, **settings).running(timeout=300)


class Api:
    """requests against the test server, with the inference or management token."""

    def __init__(self, server: TorchServe) -> None:
        self.server = server
        self.session = requests.Session()
        # Tests send up to 32 requests at once: keep a connection for each.
        self.session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=32))

    def predict(self, model: str, **kwargs: Any) -> requests.Response:
        headers = self.server.headers("inference") | kwargs.pop("headers", {})
        return self.session.post(
            f"{self.server.inference_url}/predictions/{model}",
            headers=headers,
            timeout=60,
            **kwargs,
        )

    def predict_json(self, model: str, document: Any) -> requests.Response:
        return self.predict(model, json=document)

    def manage(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(
            method,
            f"{self.server.management_url}{path}",
            headers=self.server.headers("management"),
            timeout=60,
            **kwargs,
        )


@pytest.fixture(scope="session")
def api(server: TorchServe) -> Api:
    return Api(server)
