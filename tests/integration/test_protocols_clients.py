"""The standard protocols through the front door: clients nobody here wrote (tritonclient's
HTTP client, the kserve SDK's REST client, in their own venv: `make clients-venv`) get the
same predictions as the native API; v2 requests batch like any other; the v2 health and
readiness tell the truth; errors are the protocol's ``{"error"}`` with the native status."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from sklearn.datasets import load_digits

from contracts import oip
from contracts.metadata import read_metadata
from server.launcher import TorchServe
from server.settings import EXAMPLES, MODEL_STORE, ROOT
from tests.images import render
from tests.integration.conftest import Api

CLIENTS_PYTHON = ROOT / "build" / "venv-clients" / "bin" / "python"
SCRIPT = Path(__file__).with_name("protocol_clients.py")
TEXTS = ["A man is eating food.", "The striker scored twice in the final minutes."]
LABELS = ["cooking", "football", "astronomy"]


@pytest.fixture(scope="module")
def inputs() -> dict[str, Any]:
    images = [(EXAMPLES / "seven.png").read_bytes(), render(load_digits().images[3], 64)]
    rows = json.loads((EXAMPLES / "cancer_rows.json").read_text())["inputs"][:3]
    return {
        "digits": [base64.b64encode(image).decode() for image in images],
        "cancer": rows,
        "features": read_metadata(MODEL_STORE / "cancer.mar")["input"]["features"],
        "texts": TEXTS,
        "text": TEXTS[1],
        "labels": LABELS,
    }


@pytest.fixture(scope="module")
def native(api: Api, inputs: dict[str, Any]) -> dict[str, Any]:
    digits = [
        api.predict("digits", data=base64.b64decode(image), headers={"Content-Type": "image/png"})
        for image in inputs["digits"]
    ]
    cancer = api.predict_json("cancer", {"inputs": inputs["cancer"]})
    minilm = api.predict_json("minilm", {"inputs": TEXTS})
    ranking = api.predict_json("minilm", {"text": TEXTS[1], "labels": LABELS})
    answers = [*digits, cancer, minilm, ranking]
    assert all(a.status_code == 200 for a in answers), [a.text[:200] for a in answers]
    return {
        "digits": [a.json() for a in digits],
        "cancer": cancer.json()["predictions"],
        "minilm": minilm.json(),
        "ranking": ranking.json(),
    }


@pytest.fixture(scope="module")
def clients(server: TorchServe, inputs: dict[str, Any], tmp_path_factory: Any) -> Any:
    if not CLIENTS_PYTHON.exists():
        message = f"no {CLIENTS_PYTHON}: make clients-venv"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    path = tmp_path_factory.mktemp("clients") / "inputs.json"
    path.write_text(json.dumps(inputs))
    run = subprocess.run(
        [str(CLIENTS_PYTHON), str(SCRIPT), server.inference_url, server.api_key(), str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout)


def same_vectors(got: Any, expected: Any) -> bool:
    """Embeddings equal as float32 (JSON writes each float32 as its shortest decimal)."""
    return bool(np.allclose(np.asarray(got), np.asarray(expected), atol=1e-6))


def labels_of(answers: list[dict[str, Any]]) -> list[str]:
    return [answer["label"] for answer in answers]


def test_tritonclient_gets_the_native_predictions(clients: Any, native: Any) -> None:
    triton = clients["triton"]
    assert triton["server_live"] and triton["server_ready"]
    assert triton["model_ready"] == {"digits": True, "cancer": True, "minilm": True}
    for model in ("digits", "cancer", "minilm"):
        metadata = read_metadata(MODEL_STORE / f"{model}.mar")
        assert triton["metadata"][model] == oip.model_metadata(metadata)
    for mode in ("binary", "json"):  # the binary tensor extension, then plain JSON
        digits, cancer = triton[f"digits_{mode}"], triton[f"cancer_{mode}"]
        assert digits["label"] == labels_of(native["digits"]) == ["7", "3"]
        assert digits["probability"] == pytest.approx([a["probability"] for a in native["digits"]])
        assert cancer["label"] == labels_of(native["cancer"])
        assert cancer["probability"] == pytest.approx([p["probability"] for p in native["cancer"]])
        minilm = triton[f"minilm_{mode}"]
        assert same_vectors(minilm["embeddings"], native["minilm"]["embeddings"])
        assert minilm["truncated"] == native["minilm"]["truncated"]
    ranked = native["ranking"]["labels"]
    assert triton["minilm_labels"]["labels"] == [item["label"] for item in ranked]
    assert triton["minilm_labels"]["scores"] == pytest.approx([item["score"] for item in ranked])
    assert triton["error"]["status"] == "400"
    assert "row 0: expected 30 features, got 2" in triton["error"]["message"]


def test_kserve_sdk_gets_the_native_predictions(clients: Any, native: Any) -> None:
    kserve = clients["kserve"]
    assert kserve["server_live"] and kserve["server_ready"]
    assert kserve["model_ready"] == {"digits": True, "cancer": True, "minilm": True}
    assert kserve["digits"]["label"] == labels_of(native["digits"])
    assert kserve["digits"]["id"] == "digits-1", "the request's id comes back"
    for answer in (kserve["cancer"], kserve["cancer_columns"]):  # a tensor, or columns
        assert answer["label"] == labels_of(native["cancer"])
        assert answer["probability"] == pytest.approx([p["probability"] for p in native["cancer"]])
    assert same_vectors(kserve["minilm"]["embeddings"], native["minilm"]["embeddings"])
    v1 = kserve["v1"]
    assert v1["digits"] == {"predictions": native["digits"]}
    assert v1["cancer"] == {"predictions": native["cancer"]}
    embeddings = [p["embedding"] for p in v1["minilm"]["predictions"]]
    assert same_vectors(embeddings, native["minilm"]["embeddings"])
    assert kserve["error"]["status"] == 400
    assert "row 0: expected 30 features, got 2" in kserve["error"]["message"]


def test_v2_requests_batch_like_any_other(api: Api, server: TorchServe) -> None:
    document: dict[str, Any] = {
        "inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 30], "data": [1.0] * 30}]
    }

    def infer(_: int) -> requests.Response:
        return api.session.post(
            f"{server.inference_url}/v2/models/cancer/infer",
            headers=server.headers(),
            json=document,
            timeout=60,
        )

    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(infer, range(256)))
    assert {a.status_code for a in answers} == {200}
    sizes = [int(a.headers["X-Batch-Size"]) for a in answers]
    assert max(sizes) > 1, f"v2 requests were batched together: sizes {sorted(set(sizes))}"


def test_v2_errors_are_the_protocols_with_the_native_status(api: Api, server: TorchServe) -> None:
    url = f"{server.inference_url}/v2/models/minilm/infer"
    long_text = {"name": "text", "datatype": "BYTES", "shape": [1], "data": ["a" * 20_001]}
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"inputs": []}, 400, '"inputs" must be a non-empty list of tensors'),
        ({"inputs": [long_text]}, 413, "inputs[0] has 20,001 characters, at most 20,000"),
    ]
    for document, status, error in cases:
        answer = api.session.post(url, headers=server.headers(), json=document, timeout=60)
        assert (answer.status_code, answer.json()) == (status, {"error": error})
    unknown = requests.post(f"{server.inference_url}/v2/models/nope/ready", timeout=10)
    assert unknown.status_code == 405, "the door answers readiness to GET only"


def test_v2_health_and_readiness_tell_the_truth(server: TorchServe) -> None:
    base = server.inference_url
    assert requests.get(f"{base}/v2/health/live", timeout=10).json() == {"live": True}
    assert requests.get(f"{base}/v2/health/ready", timeout=10).json() == {"ready": True}
    ready = requests.get(f"{base}/v2/models/cancer/ready", timeout=10)
    assert (ready.status_code, ready.json()) == (200, {"name": "cancer", "ready": True})
    missing = requests.get(f"{base}/v2/models/nope/ready", timeout=10)
    assert (missing.status_code, missing.json()) == (404, {"error": "no such model"})
    manage = server.headers("management")
    scale = f"{server.management_url}/models/digits"
    try:  # no worker: the model is not ready, nor is the server; the others still are
        requests.put(
            f"{scale}?min_worker=0&max_worker=0&synchronous=true", headers=manage, timeout=60
        )
        deadline = time.monotonic() + 30
        while requests.get(f"{base}/v2/models/digits/ready", timeout=10).status_code != 503:
            assert time.monotonic() < deadline, "digits never turned not ready"
            time.sleep(0.2)
        assert requests.get(f"{base}/v2/models/digits/ready", timeout=10).json() == {
            "name": "digits",
            "ready": False,
        }
        not_ready = requests.get(f"{base}/v2/health/ready", timeout=10)
        assert (not_ready.status_code, not_ready.json()) == (503, {"ready": False})
        assert requests.get(f"{base}/v2/models/cancer/ready", timeout=10).status_code == 200
    finally:
        requests.put(
            f"{scale}?min_worker=2&max_worker=2&synchronous=true", headers=manage, timeout=120
        )
        server.wait_ready(timeout=120)


def test_v2_metadata_is_the_archives(server: TorchServe) -> None:
    for model in ("digits", "cancer", "minilm"):
        answer = requests.get(f"{server.inference_url}/v2/models/{model}", timeout=10)
        assert answer.status_code == 200, "no key needed: the door answers it"
        assert answer.json() == oip.model_metadata(read_metadata(MODEL_STORE / f"{model}.mar"))
