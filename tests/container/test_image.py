"""The image as shipped (default settings): every model answers, tokens are enforced, the
health check tells READY from not, nothing runs as root, and SIGTERM stops it cleanly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests

from models import cancer, digits
from server.launcher import read_properties
from tests.container.conftest import Server, image_config, run_container
from tests.images import render

INVALID_KEY = {
    "code": 400,
    "type": "InvalidKeyException",
    "message": (
        "Token Authorization failed. Token either incorrect, expired, or not provided correctly"
    ),
}
CANCER_LABELS = ["malignant", "benign"]
MODELS = ["cancer", "digits", "minilm"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from run_container(tmp_path_factory, "tsk-test", env={})


def test_image_config_is_non_root_exec_form_with_a_healthcheck() -> None:
    config = image_config()
    user, _, group = config["User"].partition(":")
    assert user.isdigit() and int(user) != 0, f"USER should be a numeric non-root uid: {user!r}"
    assert group.isdigit() and int(group) != 0, f"USER's group should be non-root: {group!r}"
    assert config["Entrypoint"] == ["python", "-m", "container.entrypoint"]
    assert config["Healthcheck"]["Test"] == ["CMD", "python", "-m", "container.healthcheck"]
    assert set(config["ExposedPorts"]) == {"8080/tcp", "8082/tcp"}, "only inference + metrics"


def test_digits_predicts_held_out_pngs(server: Server) -> None:
    _, scans, _, labels = digits.held_out_split()
    correct = 0
    for scan, label in zip(scans[:40], labels[:40], strict=True):
        response = server.predict(
            "digits", data=render(scan), headers={"Content-Type": "image/png"}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"label", "probability", "top_k"}, body
        correct += body["label"] == str(label)
    assert correct >= 36, f"{correct}/40 held-out digits right"


def test_cancer_predicts_a_row_and_many(server: Server) -> None:
    _, rows, _, labels = cancer.held_out_split()
    one = server.predict("cancer", json={"inputs": rows[0].tolist()})
    assert one.status_code == 200, one.text
    assert one.headers["Content-Type"] == "application/json"
    assert [p["label"] for p in one.json()["predictions"]] == [CANCER_LABELS[labels[0]]]
    many = server.predict("cancer", json={"inputs": rows.tolist()})
    assert many.status_code == 200, many.text
    predicted = [p["label"] for p in many.json()["predictions"]]
    assert len(predicted) == len(rows)
    accuracy = np.mean([p == CANCER_LABELS[t] for p, t in zip(predicted, labels, strict=True)])
    assert accuracy >= 0.95, f"{accuracy:.2%} on {len(rows)} held-out rows"


def test_minilm_embeds_texts(server: Server) -> None:
    texts = ["A man is eating food.", "A man is eating bread.", "A man is riding a horse."]
    response = server.predict("minilm", json={"inputs": texts})
    assert response.status_code == 200, response.text
    food, bread, horse = (np.array(v) for v in response.json()["embeddings"])
    assert food.shape == (384,)
    assert abs(np.linalg.norm(food) - 1) < 1e-4
    assert food @ bread > food @ horse


@pytest.mark.parametrize("token", [None, "wrong"], ids=["no-token", "wrong-token"])
def test_predictions_need_the_token(server: Server, token: str | None) -> None:
    response = server.predict("cancer", token=token, json={"inputs": [0.0] * 30})
    assert response.status_code == 400, response.text
    assert response.json() == INVALID_KEY


def test_metrics_answer_without_token(server: Server) -> None:
    assert server.predict("cancer", json={"inputs": [0.0] * 30}).status_code == 200
    response = requests.get(f"{server.metrics_url}/metrics", timeout=30)
    assert response.status_code == 200
    assert 'ts_inference_requests_total{model_name="cancer",' in response.text


def test_listens_on_all_interfaces_but_management_on_loopback(server: Server) -> None:
    props = read_properties(server.container.read("/app/run/config.properties"))
    assert props["inference_address"].startswith("http://0.0.0.0:"), props["inference_address"]
    assert props["metrics_address"].startswith("http://0.0.0.0:"), props["metrics_address"]
    assert props["management_address"].startswith("http://127.0.0.1:")
    assert props["disable_token_authorization"] == "false"


def test_every_process_runs_as_the_image_user(server: Server) -> None:
    uid, gid = (int(part) for part in image_config()["User"].split(":"))
    pids = server.container.pids()
    names = {Path(f"/proc/{pid}/comm").read_text().strip() for pid in pids}
    assert {"java", "python"} <= names, f"expected the entrypoint, Java and workers: {names}"
    for pid in pids:
        status = dict(
            line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        )
        uids = {int(field) for field in status["Uid"].split()}  # real, effective, saved, fs
        gids = {int(field) for field in status["Gid"].split()}
        assert uids == {uid} and gids == {gid}, f"pid {pid}: uid {uids}, gid {gids}"


def test_healthcheck_passes(server: Server) -> None:
    result = server.container.healthcheck()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == f"healthy: {', '.join(MODELS)} READY\n"


def test_healthcheck_fails_while_a_model_has_no_ready_worker(server: Server) -> None:
    # Scaling down stops workers with the `kill` binary (TorchServe's frontend runs
    # `kill -9 PID`): a 500 here means the image lacks it.
    workers = len(server.workers("cancer"))
    assert workers >= 2, "scale-down of a running worker is not exercised"
    response = server.scale("cancer", 0)
    assert response.status_code == 200, response.text
    try:
        result = server.container.healthcheck()
        assert result.returncode == 1, result.stdout + result.stderr
        assert result.stdout == "unhealthy: cancer: no READY worker (workers: [])\n"
    finally:
        assert server.scale("cancer", workers).status_code == 200
    result = server.container.healthcheck()
    assert result.returncode == 0, result.stdout + result.stderr


def test_healthcheck_renews_an_expired_management_key(server: Server) -> None:
    """A stale management key (as after token_expiration_min) is replaced via the API key."""
    path = "/app/run/key_file.json"
    keys = json.loads(server.container.read(path))
    keys["management"]["key"] = "expired"
    server.container.write(path, json.dumps(keys))
    result = server.container.healthcheck()
    assert result.returncode == 0, result.stdout + result.stderr
    renewed = json.loads(server.container.read(path))
    assert renewed["management"]["key"] not in ("expired", ""), renewed
    assert renewed["API"]["key"] == keys["API"]["key"]
