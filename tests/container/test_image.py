"""The image as shipped (default settings): every model answers through the front door,
keys are enforced, the health check tells READY from not, nothing runs as root, and SIGTERM
stops it cleanly."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests

from models import cancer, digits
from server.launcher import read_properties
from tests.container.conftest import Server, image_config, run_container
from tests.images import render
from tests.integration.clients import UNAUTHORIZED

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
    assert set(config["ExposedPorts"]) == {"8080/tcp"}, "only the front door"


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
def test_predictions_need_the_key(server: Server, token: str | None) -> None:
    response = server.predict("cancer", token=token, json={"inputs": [0.0] * 30})
    assert response.status_code == 401, response.text
    assert response.json() == {"code": 401, "type": "Unauthorized", "message": UNAUTHORIZED}
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


def test_a_key_is_generated_once_and_never_logged(server: Server) -> None:
    path = server.container.run_dir() / "api-key"
    assert path.stat().st_mode & 0o777 == 0o600
    key = server.container.key()
    assert len(key) >= 32
    assert key not in server.container.log.read_text(errors="replace")


def test_metrics_answer_without_token(server: Server) -> None:
    assert server.predict("cancer", json={"inputs": [0.0] * 30}).status_code == 200
    response = requests.get(f"{server.metrics_url}/metrics", timeout=30)
    assert response.status_code == 200
    assert 'ts_inference_requests_total{model_name="cancer",' in response.text


def test_only_the_door_listens_on_all_interfaces(server: Server) -> None:
    """The door on every interface; TorchServe (inference, metrics, management, gRPC) and the
    door's metrics on loopback only."""
    props = read_properties(server.container.read("/app/run/config.properties"))
    for key in ("inference_address", "metrics_address", "management_address"):
        assert props[key].startswith("http://127.0.0.1:"), f"{key}: {props[key]}"
    assert props["grpc_inference_address"] == props["grpc_management_address"] == "127.0.0.1"
    assert props["disable_token_authorization"] == "false"
    table = Path("/proc/net/tcp").read_text()  # the host's network: the container's sockets
    listening = {
        (fields[1].split(":")[0], int(fields[1].split(":")[1], 16))
        for fields in (line.split() for line in table.splitlines()[1:])
        if fields[3] == "0A"  # LISTEN
    }
    inference_port = int(server.inference_url.rsplit(":", 1)[1])
    metrics_port = int(server.metrics_url.rsplit(":", 1)[1])
    assert ("00000000", inference_port) in listening, "the door on 0.0.0.0"
    assert ("0100007F", metrics_port) in listening, "metrics on 127.0.0.1 only"
    assert ("00000000", metrics_port) not in listening


def test_every_process_runs_as_the_image_user(server: Server) -> None:
    uid, gid = (int(part) for part in image_config()["User"].split(":"))
    pids = server.container.pids()
    names = {Path(f"/proc/{pid}/comm").read_text().strip() for pid in pids}
    assert {"java", "python", "haproxy"} <= names, f"expected entrypoint, door, Java: {names}"
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
    states = ", ".join(f'"{name}": 1' for name in MODELS)
    assert result.stdout == f'healthy: 200 {{"status": "ready", "models": {{{states}}}}}\n'
    live = requests.get(f"{server.inference_url}/health/live", timeout=10)
    assert (live.status_code, live.json()) == (200, {"status": "alive"})


def test_healthcheck_fails_while_a_model_has_no_ready_worker(server: Server) -> None:
    # Scaling down stops workers with the `kill` binary (TorchServe's frontend runs
    # `kill -9 PID`): a 500 here means the image lacks it.
    workers = len(server.workers("cancer"))
    assert workers >= 2, "scale-down of a running worker is not exercised"
    response = server.scale("cancer", 0)
    assert response.status_code == 200, response.text
    try:
        # The door checks each model every second: poll for the change.
        deadline = time.monotonic() + 15
        result = server.container.healthcheck()
        while result.returncode == 0 and time.monotonic() < deadline:
            time.sleep(0.5)  # polling interval of a state change
            result = server.container.healthcheck()
        assert result.returncode == 1, result.stdout + result.stderr
        assert result.stdout.startswith("unhealthy: 503 "), result.stdout
        assert '"cancer": 0' in result.stdout and '"digits": 1' in result.stdout
    finally:
        assert server.scale("cancer", workers).status_code == 200
    server.container.wait_healthy(timeout=60)
