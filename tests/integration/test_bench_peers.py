"""The benchmark's peers (LitServe, BentoML) answer every benchmark body as this project's
TorchServe does: the same labels, probabilities and embeddings within tests/answers.py's
TOLERANCE, checked by the benchmark's own verify_all (which `make bench` runs too, before
any timing). And a client's mistake is a 4xx naming it. Each peer runs from its own venv
(`make bench-peers`); nothing is timed."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from bench.contestants import PEERS, Endpoint, peer
from bench.run import active, verify_all
from bench.workloads import WORKLOADS
from server.launcher import TorchServe
from tests.batch_support import NOT_AN_IMAGE, NOT_AN_IMAGE_ERROR


@pytest.fixture(scope="module", params=sorted(PEERS))
def peer_endpoint(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Endpoint]]:
    name = request.param
    if not PEERS[name].python.exists():
        message = f"no {PEERS[name].python}: make bench-peers"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    run_dir: Path = tmp_path_factory.mktemp(name)
    with peer(name, run_dir, sorted(WORKLOADS)) as endpoint:
        yield name, endpoint


@pytest.mark.parametrize("model", sorted(WORKLOADS))
def test_peer_answers_as_torchserve(
    server: TorchServe, peer_endpoint: tuple[str, Endpoint], model: str
) -> None:
    name, endpoint = peer_endpoint
    torchserve = Endpoint(server.inference_url, server.headers("inference"))
    verify_all({"torchserve": torchserve, name: endpoint}, WORKLOADS[model])


MISTAKES: dict[str, tuple[dict[str, Any], str]] = {  # model: (JSON body, what the 400 says)
    "cancer": ({"inputs": [14.2, 20.1]}, "row 0: expected 30 features, got 2"),
    "digits": (
        {"image": base64.b64encode(NOT_AN_IMAGE).decode()},
        NOT_AN_IMAGE_ERROR,
    ),
}


@pytest.mark.parametrize("model", sorted(MISTAKES))
def test_peer_names_a_client_mistake(peer_endpoint: tuple[str, Endpoint], model: str) -> None:
    _, endpoint = peer_endpoint
    body, message = MISTAKES[model]
    with active(endpoint):  # verify_all leaves a peer paused (SIGSTOP) after its turn
        response = requests.post(f"{endpoint.url}/predictions/{model}", json=body, timeout=60)
    assert response.status_code == 400, response.text
    assert message in response.text, response.text
