"""The KServe protocols in the handlers: v2 tensors and v1 instances read into the same
parsed requests as the native bodies, batched with them, answered as the protocol says, and
refused with ``{"error": ...}`` and the native status. Served as a TorchServe worker serves
them (tests/handler_support.py), with TorchServe's ``explain`` header that marks its KServe
routes."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_digits

from contracts import oip
from contracts.metadata import Metadata
from handlers.errors import InputError, PayloadTooLarge
from handlers.image_handler import ImageHandler
from handlers.payload import Payload
from handlers.protocols import (
    NATIVE,
    V1,
    V2,
    is_kserve,
    kserve_document,
    protocol_of,
    read_v2,
    selected,
)
from handlers.vector_handler import VectorHandler
from models.cancer_net import CancerNet
from models.digits_net import DigitsNet
from tests.handler_support import Worker, model_folder, part
from tests.images import render

FEATURES = [f"f{i}" for i in range(30)]
CANCER: Metadata = {
    "kind": "vector",
    "model": "cancer",
    "version": "1.0",
    "labels": ["malignant", "benign"],
    "input": {"features": FEATURES},
}
DIGITS: Metadata = {
    "kind": "image",
    "model": "digits",
    "version": "1.0",
    "labels": [str(d) for d in range(10)],
    "top_k": 3,
}
KSERVE = {"explain": "False"}  # what TorchServe adds on /v2/.../infer and /v1/...:predict
NATIVE_ROUTE = {"explain": "False", "url_path": ""}  # and on /predictions/<m>


class MixedWorker(Worker):
    """A Worker whose batch's requests each carry their own headers."""

    def handle_each(self, requests: Sequence[tuple[Any, Mapping[str, str]]]) -> list[Any]:
        answers = []
        # Worker.handle gives every request the same headers: stamp them per request.
        batch = [([part(body)] if not isinstance(body, list) else body) for body, _ in requests]
        original = self.context.get_request_header

        def header(index: int, name: str) -> Any:
            headers = {k.lower(): v for k, v in requests[index][1].items()}
            if name.lower() in headers:
                return headers[name.lower()]
            return original(index, name)

        self.context.get_request_header = header
        try:
            answers = self.handle(batch)
        finally:
            self.context.get_request_header = original
        return answers


def cancer(tmp_path: Path) -> MixedWorker:
    return MixedWorker(VectorHandler(), model_folder(tmp_path, "cancer", CancerNet(), CANCER))


def digits(tmp_path: Path) -> MixedWorker:
    return MixedWorker(ImageHandler(), model_folder(tmp_path, "digits", DigitsNet(), DIGITS))


def v2(*tensors: dict[str, Any], **fields: Any) -> bytes:
    return json.dumps({"inputs": list(tensors), **fields}).encode()


def features(rows: list[list[float]]) -> dict[str, Any]:
    return {"name": "features", "datatype": "FP32", "shape": [len(rows), 30], "data": rows}


def outputs(answer: dict[str, Any]) -> dict[str, Any]:
    return {tensor["name"]: tensor for tensor in answer["outputs"]}


def test_v2_rows_batch_with_native_ones_and_answer_the_same(tmp_path: Path) -> None:
    worker = cancer(tmp_path)
    calls: list[int] = []
    worker.handler.model.register_forward_hook(lambda m, args, out: calls.append(len(args[0])))
    rows = [[float(i + j) for j in range(30)] for i in range(3)]
    answers = worker.handle_each(
        [
            (v2(features(rows), id="r-1"), KSERVE),
            (json.dumps({"inputs": rows}).encode(), NATIVE_ROUTE),
            (json.dumps({"instances": rows}).encode(), KSERVE),
        ]
    )
    assert calls == [9], "the three requests' nine rows went through one model call"
    assert worker.statuses() == [200, 200, 200]
    native = answers[1]["predictions"]
    got = outputs(answers[0])
    assert answers[0]["model_name"] == "cancer" and answers[0]["model_version"] == "1.0"
    assert answers[0]["id"] == "r-1"
    assert got["label"] == {
        "name": "label",
        "datatype": "BYTES",
        "shape": [3],
        "data": [p["label"] for p in native],
    }
    assert got["probability"]["data"] == [p["probability"] for p in native]
    assert got["probabilities"]["shape"] == [3, 2]
    assert got["probabilities"]["data"] == [
        p["probabilities"][label] for p in native for label in CANCER["labels"]
    ]
    assert answers[2] == {"predictions": native}, "v1 predictions are the native ones"


def test_v2_columns_by_feature_name_are_rows_by_name(tmp_path: Path) -> None:
    worker = cancer(tmp_path)
    row = [float(j) for j in range(30)]
    columns = [
        {"name": name, "datatype": "FP64", "shape": [1], "data": [value]}
        for name, value in zip(FEATURES, row, strict=True)
    ]
    answers = worker.handle_each(
        [(v2(*columns), KSERVE), (v2(features([row])), KSERVE), (v2(*columns[1:]), KSERVE)]
    )
    assert worker.statuses() == [200, 200, 400]
    assert answers[0]["outputs"] == answers[1]["outputs"]
    assert answers[2] == {
        "error": "row 0: features by name need exactly the model's 30; missing ['f0'], unknown []"
    }


def test_v2_binary_tensor_data_reads_as_json_data(tmp_path: Path) -> None:
    worker = cancer(tmp_path)
    rows = np.arange(60, dtype=np.float32).reshape(2, 30)
    raw = rows.tobytes()
    header = v2(
        {
            "name": "features",
            "datatype": "FP32",
            "shape": [2, 30],
            "parameters": {"binary_data_size": len(raw)},
        }
    )
    binary = KSERVE | {"Inference-Header-Content-Length": str(len(header))}
    answers = worker.handle_each([(header + raw, binary), (v2(features(rows.tolist())), KSERVE)])
    assert worker.statuses() == [200, 200]
    assert answers[0] == answers[1]


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"{", 400, "body is not valid JSON: Expecting property name enclosed in double quotes:"),
        (v2(), 400, '"inputs" must be a non-empty list of tensors'),
        (
            v2({"name": "features", "datatype": "FP32", "shape": [1, 30], "data": [1.0] * 29}),
            400,
            "input 'features': shape [1, 30] needs 30 elements, got 29",
        ),
        (
            v2({"name": "features", "datatype": "FP8", "shape": [1], "data": [1]}),
            400,
            "input 'features': datatype 'FP8' is not one of",
        ),
        (
            v2({"name": "features", "datatype": "BYTES", "shape": [1, 30], "data": ["a"] * 30}),
            400,
            "input 'features': numbers, not BYTES",
        ),
        (
            v2(features([[float("1e400")] * 30])).replace(b"Infinity", b"1e400"),
            400,
            "row 0, feature 0: inf is not a finite number",
        ),
        (
            v2(features([[1.0] * 30] * 1025)),
            413,
            "too many rows: 1025, at most 1024 per request",
        ),
        (
            v2(features([[1.0] * 30]), outputs=[{"name": "logits"}]),
            400,
            "unknown outputs ['logits']: this answer has ['label', 'probability', 'probabilities']",
        ),
        (json.dumps({"instances": [1.0] * 30}).encode(), 400, "instance 0 must be a row"),
    ],
)
def test_kserve_refusals_are_the_protocol_error_with_the_native_status(
    tmp_path: Path, body: bytes, status: int, error: str
) -> None:
    worker = cancer(tmp_path)
    answers = worker.handle_each([(body, KSERVE), (v2(features([[1.0] * 30])), KSERVE)])
    assert worker.statuses() == [status, 200], "the refusal fails its own request only"
    assert list(answers[0]) == ["error"], answers[0]
    assert answers[0]["error"].startswith(error), answers[0]


def test_rows_that_overflow_the_model_are_refused_on_every_route(tmp_path: Path) -> None:
    worker = cancer(tmp_path)
    huge = [1e300] * 30  # finite numbers whose scores overflow to inf, then NaN
    answers = worker.handle_each(
        [
            (json.dumps({"inputs": [[1.0] * 30, huge]}).encode(), NATIVE_ROUTE),
            (v2(features([huge])), KSERVE),
            (v2(features([[1.0] * 30])), KSERVE),
        ]
    )
    assert worker.statuses() == [400, 400, 200]
    assert answers[0]["message"].startswith("row 1: the model has no answer for these values")
    # As FP32 the number is already inf: refused as not finite before the model runs.
    assert answers[1] == {"error": "row 0, feature 0: inf is not a finite number"}


def test_v2_requested_outputs_come_in_the_order_asked(tmp_path: Path) -> None:
    worker = cancer(tmp_path)
    asked = [{"name": "probability"}, {"name": "label"}]
    (answer,) = worker.handle_each([(v2(features([[1.0] * 30]), outputs=asked), KSERVE)])
    assert [tensor["name"] for tensor in answer["outputs"]] == ["probability", "label"]


def test_v2_and_v1_images_answer_as_the_native_body(tmp_path: Path) -> None:
    worker = digits(tmp_path)
    scans = load_digits().images
    seven, three = render(scans[7], 64), render(scans[3], 48)
    encoded = [base64.b64encode(image).decode() for image in (seven, three)]
    binary_images = b"".join(struct.pack("<I", len(i)) + i for i in (seven, three))
    header = v2(
        {
            "name": "image",
            "datatype": "BYTES",
            "shape": [2],
            "parameters": {"binary_data_size": len(binary_images)},
        }
    )
    answers = worker.handle_each(
        [
            ([part(seven, "image/png")], NATIVE_ROUTE),
            ([part(three, "image/png")], NATIVE_ROUTE),
            (v2({"name": "image", "datatype": "BYTES", "shape": [2], "data": encoded}), KSERVE),
            (
                header + binary_images,
                KSERVE | {"inference-header-content-length": str(len(header))},
            ),
            (json.dumps({"instances": [{"b64": e} for e in encoded]}).encode(), KSERVE),
        ]
    )
    assert worker.statuses() == [200] * 5
    native = answers[:2]
    assert answers[2] == answers[3], "JSON and binary tensor data read alike"
    got = outputs(answers[2])
    assert got["label"]["data"] == [a["label"] for a in native]
    assert got["probability"]["data"] == [a["probability"] for a in native]
    assert got["probabilities"]["shape"] == [2, 10]
    assert answers[4] == {"predictions": native}


def test_v2_image_refusals(tmp_path: Path) -> None:
    worker = digits(tmp_path)
    gif = base64.b64encode(b"GIF89a" + b"\0" * 20).decode()
    answers = worker.handle_each(
        [
            (v2({"name": "image", "datatype": "BYTES", "shape": [1], "data": ["%%"]}), KSERVE),
            (v2({"name": "pixels", "datatype": "UINT8", "shape": [1], "data": [1]}), KSERVE),
            (v2({"name": "image", "datatype": "BYTES", "shape": [1], "data": [gif]}), KSERVE),
        ]
    )
    assert worker.statuses() == [400, 400, 400]
    assert answers[0] == {"error": "input 'image': an element is not valid base64"}
    assert answers[1]["error"].startswith('a v2 request to this model has one input, "image"')


def test_a_native_body_that_looks_like_v2_stays_native(tmp_path: Path) -> None:
    worker = cancer(tmp_path)
    (answer,) = worker.handle_each([(v2(features([[1.0] * 30])), NATIVE_ROUTE)])
    assert worker.statuses() == [400]
    assert answer["type"] == "InputError", "the native route's error body"


def test_protocol_is_the_route_then_the_body() -> None:
    assert is_kserve("False", None) and not is_kserve("False", "") and not is_kserve(None, None)
    assert protocol_of(None, {"instances": []}) == NATIVE
    assert protocol_of("False", {"instances": []}) == V1
    assert protocol_of("False", {"inputs": []}) == V2
    with pytest.raises(InputError, match="explanations are not served"):
        protocol_of("True", {"inputs": []})


def test_read_v2_checks_each_tensor() -> None:
    request = read_v2(
        {
            "id": "a",
            "inputs": [
                {"name": "x", "datatype": "INT64", "shape": [2, 2], "data": [[1, 2], [3, 4]]},
                {"name": "t", "datatype": "BYTES", "shape": [1], "data": "one"},
                {"name": "b", "datatype": "BOOL", "shape": [2], "data": [True, False]},
            ],
        }
    )
    assert request.id == "a" and request.outputs is None
    assert request.inputs["x"].matrix().tolist() == [[1, 2], [3, 4]]
    assert request.inputs["t"].data == ["one"]
    assert request.inputs["b"].data.tolist() == [True, False]
    for document, message in [
        ({"inputs": [{"name": "x", "datatype": "INT8", "shape": [1], "data": [1.5]}]}, "whole"),
        ({"inputs": [{"name": "x", "datatype": "INT8", "shape": [1], "data": [300]}]}, "outside"),
        ({"inputs": [{"name": "x", "datatype": "FP32", "shape": [-1], "data": []}]}, "sizes >= 0"),
        ({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [True]}]}, "numbers"),
        ({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1]}]}, 'no "data"'),
        ({"inputs": [{"name": "x", "datatype": "BYTES", "shape": [1], "data": [1]}]}, "strings"),
        ({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}] * 2}, "twice"),
        ({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}], "id": 5}, "id"),
    ]:
        with pytest.raises(InputError, match=message):
            read_v2(document)
    with pytest.raises(PayloadTooLarge):
        read_v2({"inputs": [{"name": "x", "datatype": "FP32", "shape": [2000, 1000], "data": []}]})


def test_binary_extension_is_checked() -> None:
    header = b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [2]}]}'
    with pytest.raises(InputError, match="is 999, the body has"):
        kserve_document(Payload(header), "999")
    with pytest.raises(InputError, match="not a number"):
        kserve_document(Payload(header), "x")
    raw = struct.pack("<2f", 1.0, 2.0)
    sized = header.replace(b"[2]}", b'[2], "parameters": {"binary_data_size": 8}}')
    document, binary = kserve_document(Payload(sized + raw), str(len(sized)))
    assert read_v2(document, binary).inputs["x"].data.tolist() == [1.0, 2.0]
    with pytest.raises(InputError, match="belong to no input"):
        read_v2(document, binary + b"\0")
    short = sized.replace(b"8}", b"4}")
    with pytest.raises(InputError, match="2 FP32 elements are 8 bytes, got 4"):
        read_v2(json.loads(short), raw[:4])


def test_selected_outputs_name_the_unknown() -> None:
    tensors = [{"name": "a"}, {"name": "b"}]
    assert selected(tensors, None) == tensors
    assert selected(tensors, ["b"]) == [{"name": "b"}]
    with pytest.raises(InputError, match=r"unknown outputs \['c'\]"):
        selected(tensors, ["c"])


def test_metadata_tensors_come_from_the_build_metadata() -> None:
    assert oip.model_metadata(CANCER) == {
        "name": "cancer",
        "versions": ["1.0"],
        "platform": "pytorch_torchserve",
        "inputs": [{"name": "features", "datatype": "FP32", "shape": [-1, 30]}],
        "outputs": [
            {"name": "label", "datatype": "BYTES", "shape": [-1]},
            {"name": "probability", "datatype": "FP32", "shape": [-1]},
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, 2]},
        ],
    }
    text: Metadata = {"kind": "text", "model": "minilm", "version": "1.0", "dimension": 384}
    assert [t["shape"] for t in oip.model_metadata(text)["outputs"]] == [
        [-1, 384],
        [-1],
        [1],
        [-1],
        [-1],
    ]
