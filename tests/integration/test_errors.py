"""Every client mistake gets its exact 4xx and JSON body, and the server keeps serving."""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from PIL import Image

from models.cancer import held_out_split
from tests.images import render
from tests.integration.conftest import Api
from tests.integration.test_digits import SEVEN

GOOD_ROW = held_out_split()[1][0].tolist()
PNG = {"Content-Type": "image/png"}


def gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (16, 16)).save(buffer, "GIF")
    return buffer.getvalue()


def expect(response: requests.Response, status: int, kind: str, message: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"code": status, "type": kind, "message": message}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"inputs": GOOD_ROW[:29]}, "row 0: expected 30 features, got 29"),
        ({"inputs": [GOOD_ROW, [*GOOD_ROW, 1.0]]}, "row 1: expected 30 features, got 31"),
        ({"inputs": [*GOOD_ROW[:29], "x"]}, "row 0, feature 29: expected a number, got str"),
        ({"inputs": []}, '"inputs" is empty'),
        ({"rows": GOOD_ROW}, 'JSON object must have an "inputs" field'),
    ],
)
def test_bad_vectors(api: Api, document: object, message: str) -> None:
    expect(api.predict_json("cancer", document), 400, "InputError", message)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_rejected(api: Api, literal: str) -> None:
    body = "[" + ", ".join(["1.0"] * 29 + [literal]) + "]"
    response = api.predict("cancer", data=body, headers={"Content-Type": "application/json"})
    value = {"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf", "1e999": "inf"}[literal]
    expect(response, 400, "InputError", f"row 0, feature 29: {value} is not a finite number")


def test_invalid_json(api: Api) -> None:
    response = api.predict(
        "cancer", data='{"inputs": [1', headers={"Content-Type": "application/json"}
    )
    expect(
        response,
        400,
        "InputError",
        "body is not valid JSON: Expecting ',' delimiter: line 1 column 14 (char 13)",
    )


def test_too_many_rows(api: Api) -> None:
    expect(
        api.predict_json("cancer", {"inputs": [GOOD_ROW] * 1025}),
        413,
        "PayloadTooLarge",
        "too many rows: 1025, at most 1024 per request",
    )


def test_gif_is_unsupported(api: Api) -> None:
    response = api.predict("digits", data=gif(), headers={"Content-Type": "image/gif"})
    expect(response, 415, "UnsupportedMediaType", "image must be PNG or JPEG, got 'GIF'")


def test_garbage_image(api: Api) -> None:
    response = api.predict("digits", data=b"\x00garbage", headers=PNG)
    expect(response, 400, "InputError", "image could not be decoded as PNG or JPEG")


def test_truncated_png(api: Api) -> None:
    data = render(SEVEN, 256)
    response = api.predict("digits", data=data[: len(data) // 2], headers=PNG)
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith("image could not be decoded as PNG: ")


def test_blank_image(api: Api) -> None:
    buffer = io.BytesIO()
    Image.new("L", (64, 64), 255).save(buffer, "PNG")
    response = api.predict("digits", data=buffer.getvalue(), headers=PNG)
    expect(response, 400, "InputError", "image is blank: no digit stands out from the background")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"img": "x"}, 'JSON input must be an object {"image": "<base64 PNG or JPEG>"}'),
        ({"image": "%%%"}, '"image" is not valid base64'),
    ],
)
def test_bad_json_image(api: Api, document: object, message: str) -> None:
    expect(api.predict_json("digits", document), 400, "InputError", message)


def test_form_encoded_json_gets_a_content_type_hint(api: Api) -> None:
    response = api.predict(
        "cancer", data="[1, 2]", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 415, response.text  # the door's answer: no model takes a form
    assert response.json()["type"] == "UnsupportedMediaType"
    assert "-H 'Content-Type: application/json'" in response.json()["message"]


def test_unknown_model_is_404(api: Api) -> None:
    response = api.predict_json("nope", {"inputs": GOOD_ROW})
    assert response.status_code == 404, response.text
    assert response.json()["type"] == "ModelNotFoundException"


def test_request_over_the_size_limit_is_413(api: Api) -> None:
    limit = int(api.server.properties["max_request_size"])
    response = api.predict("digits", data=b"\x00" * (limit + 1), headers=PNG)
    assert response.status_code == 413, response.text


def test_mixed_batch_good_requests_still_succeed(api: Api) -> None:
    """Good and bad requests sent at once share batches; only the bad ones fail."""
    good, bad = render(SEVEN), b"not an image"
    payloads = [good if i % 2 == 0 else bad for i in range(32)]
    start = threading.Barrier(len(payloads))

    def send(data: bytes) -> requests.Response:
        session = requests.Session()
        start.wait(timeout=30)
        return session.post(
            f"{api.server.inference_url}/predictions/digits",
            data=data,
            headers=PNG | api.server.headers(),
            timeout=60,
        )

    mixed_seen = False
    for _ in range(5):  # batching is timing-driven: retry until a batch held both kinds
        with ThreadPoolExecutor(max_workers=len(payloads)) as pool:
            responses = list(pool.map(send, payloads))
        start.reset()
        for data, response in zip(payloads, responses, strict=True):
            if data is good:
                assert response.status_code == 200, response.text
                assert response.json()["label"] == "7"
                mixed_seen |= int(response.headers["X-Batch-Rejected"]) > 0
            else:
                expect(response, 400, "InputError", "image could not be decoded as PNG or JPEG")
        if mixed_seen:
            break
    assert mixed_seen, "no batch ever held a good and a bad request together"


def test_server_still_serves_after_all_the_bad_input(api: Api) -> None:
    response = api.predict_json("cancer", {"inputs": GOOD_ROW})
    assert response.status_code == 200, response.text
