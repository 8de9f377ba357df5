"""Token auth, the disabled registration API, readiness and model metadata."""

from __future__ import annotations

import requests

from server.launcher import TorchServe
from tests.integration.archives import packed_config
from tests.integration.clients import UNAUTHORIZED
from tests.integration.conftest import Api

INVALID_KEY = {
    "code": 400,
    "type": "InvalidKeyException",
    "message": (
        "Token Authorization failed. Token either incorrect, expired, or not provided correctly"
    ),
}


def test_prediction_without_token_is_rejected_by_the_door(server: TorchServe) -> None:
    response = requests.post(
        f"{server.inference_url}/predictions/cancer", json={"inputs": [0] * 30}, timeout=30
    )
    assert response.status_code == 401
    assert response.json() == {"code": 401, "type": "Unauthorized", "message": UNAUTHORIZED}


def test_torchserve_behind_the_door_still_checks_its_own_token(server: TorchServe) -> None:
    response = requests.post(
        f"{server.backend_url}/predictions/cancer", json={"inputs": [0] * 30}, timeout=30
    )
    assert response.status_code == 400
    assert response.json() == INVALID_KEY


def test_wrong_token_is_rejected(server: TorchServe) -> None:
    response = requests.get(
        f"{server.management_url}/models", headers={"Authorization": "Bearer wrong"}, timeout=30
    )
    assert response.status_code == 400
    assert response.json() == INVALID_KEY


def test_inference_key_does_not_open_management(server: TorchServe) -> None:
    response = requests.get(f"{server.management_url}/models", headers=server.headers(), timeout=30)
    assert response.status_code == 400
    assert response.json()["type"] == "InvalidKeyException"


def test_registration_api_is_off(api: Api) -> None:
    response = api.manage("POST", "/models", params={"url": "digits.mar"})
    assert response.status_code == 405, response.text


def test_every_model_is_listed_with_its_workers_ready(server: TorchServe, api: Api) -> None:
    listed = {model["modelName"] for model in api.manage("GET", "/models").json()["models"]}
    assert listed == {"cancer", "digits", "minilm"}
    for name in listed:
        packed = packed_config(name, server.model_store)
        workers = api.manage("GET", f"/models/{name}").json()[0]["workers"]
        statuses = [worker["status"] for worker in workers]
        assert statuses == ["READY"] * packed["minWorkers"], workers


def test_customized_describe_returns_build_metadata(server: TorchServe, api: Api) -> None:
    for name, labels in (
        ("digits", [str(d) for d in range(10)]),
        ("cancer", ["malignant", "benign"]),
    ):
        response = api.manage("GET", f"/models/{name}", params={"customized": "true"})
        assert response.status_code == 200, response.text
        description = response.json()[0]
        metadata = description["customizedMetadata"]
        assert metadata["model"] == name and metadata["labels"] == labels
        assert metadata["accuracy"]["held_out"] >= (0.97 if name == "digits" else 0.95)
        assert {"dataset", "input", "built_at"} <= set(metadata)
        packed = packed_config(name, server.model_store)
        for key in ("batchSize", "maxBatchDelay", "minWorkers", "maxWorkers"):
            assert description[key] == packed[key], key


def test_metrics_are_prometheus_without_token(server: TorchServe) -> None:
    response = requests.get(f"{server.metrics_url}/metrics", timeout=30)
    assert response.status_code == 200
    assert "ts_inference_requests_total" in response.text
