"""Call every model with clients nobody here wrote: tritonclient's HTTP client and the kserve
SDK's InferenceRESTClient. Run by tests/integration/test_protocols_clients.py in the clients'
own venv (`make clients-venv`: kserve pulls grpcio, protobuf and pandas, and tritonclient
pins greenlet below what locust needs), never imported by the project:

    .venv-clients/bin/python tests/integration/protocol_clients.py URL KEY INPUTS.json

INPUTS.json: {"digits": [base64 PNG, ...], "cancer": [[30 numbers], ...], "features": [30
names], "texts": [...], "text": "...", "labels": [...]}. Prints one JSON document: per
client and model what it read back, as plain lists.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from typing import Any

import numpy as np
import tritonclient.http as triton
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig


def with_triton(url: str, key: str, inputs: dict[str, Any]) -> dict[str, Any]:
    client = triton.InferenceServerClient(url.split("://", 1)[1])
    # A fresh dict every call: tritonclient adds Inference-Header-Content-Length to the dict
    # it is given, so one reused after a binary call would carry it into a JSON one.
    key_header = {"Authorization": f"Bearer {key}"}
    found: dict[str, Any] = {
        "server_live": client.is_server_live(headers=dict(key_header)),
        "server_ready": client.is_server_ready(headers=dict(key_header)),
        "model_ready": {m: client.is_model_ready(m, headers=dict(key_header)) for m in MODELS},
        "metadata": {m: client.get_model_metadata(m, headers=dict(key_header)) for m in MODELS},
    }
    images = [base64.b64decode(image) for image in inputs["digits"]]
    for binary in (True, False):  # the binary tensor extension (its default), then JSON
        mode = "binary" if binary else "json"
        image = triton.InferInput("image", [len(images)], "BYTES")
        data = images if binary else [base64.b64encode(i).decode() for i in images]
        image.set_data_from_numpy(np.array(data, dtype=np.object_), binary_data=binary)
        result = client.infer("digits", [image], headers=dict(key_header))
        found[f"digits_{mode}"] = classification(result)
        rows = np.array(inputs["cancer"], dtype=np.float32)
        features = triton.InferInput("features", list(rows.shape), "FP32")
        features.set_data_from_numpy(rows, binary_data=binary)
        found[f"cancer_{mode}"] = classification(
            client.infer("cancer", [features], headers=dict(key_header))
        )
        texts = triton.InferInput("text", [len(inputs["texts"])], "BYTES")
        texts.set_data_from_numpy(np.array(inputs["texts"], dtype=np.object_), binary_data=binary)
        result = client.infer("minilm", [texts], headers=dict(key_header))
        found[f"minilm_{mode}"] = {
            "embeddings": result.as_numpy("embeddings").tolist(),
            "truncated": result.as_numpy("truncated").tolist(),
        }
    text = triton.InferInput("text", [1], "BYTES")
    text.set_data_from_numpy(np.array([inputs["text"]], dtype=np.object_))
    labels = triton.InferInput("labels", [len(inputs["labels"])], "BYTES")
    labels.set_data_from_numpy(np.array(inputs["labels"], dtype=np.object_))
    result = client.infer("minilm", [text, labels], headers=dict(key_header))
    found["minilm_labels"] = {
        "labels": [decoded(v) for v in result.as_numpy("labels")],
        "scores": result.as_numpy("scores").tolist(),
    }
    try:
        features = triton.InferInput("features", [1, 2], "FP32")
        features.set_data_from_numpy(np.zeros((1, 2), dtype=np.float32))
        client.infer("cancer", [features], headers=dict(key_header))
    except triton.InferenceServerException as error:
        found["error"] = {"status": error.status(), "message": error.message()}
    return found


def classification(result: Any) -> dict[str, Any]:
    return {
        "label": [decoded(v) for v in result.as_numpy("label")],
        "probability": result.as_numpy("probability").tolist(),
        "probabilities": result.as_numpy("probabilities").tolist(),
    }


def decoded(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def with_kserve(url: str, key: str, inputs: dict[str, Any]) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"}
    v2 = InferenceRESTClient(RESTConfig(protocol="v2", timeout=60))
    v1 = InferenceRESTClient(RESTConfig(protocol="v1", timeout=60))
    found: dict[str, Any] = {
        "server_live": await v2.is_server_live(url, headers=headers),
        "server_ready": await v2.is_server_ready(url, headers=headers),
        "model_ready": {m: await v2.is_model_ready(url, m, headers=headers) for m in MODELS},
    }
    image = InferInput("image", [len(inputs["digits"])], "BYTES", inputs["digits"])
    request = InferRequest("digits", [image], request_id="digits-1")
    response = await v2.infer(url, request, model_name="digits", headers=headers)
    found["digits"] = outputs(response) | {"id": response.id}
    rows = inputs["cancer"]
    features = InferInput("features", [len(rows), len(rows[0])], "FP32", rows)
    response = await v2.infer(url, InferRequest("cancer", [features]), "cancer", headers=headers)
    found["cancer"] = outputs(response)
    # A DataFrame's columns, one tensor per feature: the SDK's way of sending a table.
    columns = [
        InferInput(name, [len(rows)], "FP32", [row[i] for row in rows])
        for i, name in enumerate(inputs["features"])
    ]
    response = await v2.infer(url, InferRequest("cancer", columns), "cancer", headers=headers)
    found["cancer_columns"] = outputs(response)
    texts = InferInput("text", [len(inputs["texts"])], "BYTES", inputs["texts"])
    response = await v2.infer(url, InferRequest("minilm", [texts]), "minilm", headers=headers)
    found["minilm"] = outputs(response)
    v1_answers = {}
    for model, instances in (
        ("digits", [{"b64": image} for image in inputs["digits"]]),
        ("cancer", rows),
        ("minilm", inputs["texts"]),
    ):
        v1_answers[model] = await v1.infer(
            url, {"instances": instances}, model_name=model, headers=headers
        )
    found["v1"] = v1_answers
    try:
        await v2.infer(
            url,
            InferRequest("cancer", [InferInput("features", [1, 2], "FP32", [[0.0, 0.0]])]),
            "cancer",
            headers=headers,
        )
    except Exception as error:  # httpx.HTTPStatusError, whose message has the server's
        found["error"] = {"status": error.response.status_code, "message": str(error)}  # type: ignore[attr-defined]
    return found


def outputs(response: Any) -> dict[str, Any]:
    found = {}
    for tensor in response.outputs:
        array = tensor.as_numpy()
        found[tensor.name] = (
            [decoded(v) for v in array] if tensor.datatype == "BYTES" else (array.tolist())
        )
    return found


MODELS = ("digits", "cancer", "minilm")


def main() -> None:
    url, key, path = sys.argv[1:4]
    with open(path, encoding="utf-8") as file:
        inputs = json.load(file)
    report = {
        "triton": with_triton(url, key, inputs),
        "kserve": asyncio.run(with_kserve(url, key, inputs)),
    }
    json.dump(report, sys.stdout, default=str)


if __name__ == "__main__":
    main()
