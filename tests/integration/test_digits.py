"""The digits model over HTTP: every input encoding, accuracy on held-out digits."""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from models.digits import held_out_split
from tests.images import photo, render
from tests.integration.conftest import Api

_, TEST_SCANS, _, TEST_LABELS = held_out_split()
SEVEN = TEST_SCANS[list(TEST_LABELS).index(7)]


def check_answer(body: dict[str, Any], label: str) -> None:
    assert body["label"] == label, body
    assert next(entry["label"] for entry in body["top_k"]) == label
    assert len(body["top_k"]) == 3
    assert 0.0 <= body["top_k"][-1]["probability"] <= body["probability"] <= 1.0


def test_raw_body_png(api: Api) -> None:
    response = api.predict("digits", data=render(SEVEN), headers={"Content-Type": "image/png"})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    check_answer(response.json(), "7")


def test_multipart_field(api: Api) -> None:
    response = api.predict("digits", files={"data": ("seven.png", render(SEVEN), "image/png")})
    assert response.status_code == 200, response.text
    check_answer(response.json(), "7")


def test_base64_json(api: Api) -> None:
    document = {"image": base64.b64encode(render(SEVEN, 96, "RGB", "JPEG")).decode()}
    response = api.predict_json("digits", document)
    assert response.status_code == 200, response.text
    check_answer(response.json(), "7")


@pytest.mark.parametrize(("mode", "fmt"), [("L", "JPEG"), ("RGBA", "PNG"), ("P", "PNG")])
def test_modes_and_formats(api: Api, mode: str, fmt: str) -> None:
    data = render(SEVEN, 120, mode, fmt)
    response = api.predict("digits", data=data, headers={"Content-Type": f"image/{fmt.lower()}"})
    assert response.status_code == 200, response.text
    check_answer(response.json(), "7")


def accuracy_over_http(api: Api, images: list[bytes], labels: np.ndarray) -> float:
    def label_of(data: bytes) -> str:
        response = api.predict("digits", data=data, headers={"Content-Type": "image/png"})
        assert response.status_code == 200, response.text
        return str(response.json()["label"])

    with ThreadPoolExecutor(max_workers=16) as pool:  # concurrent, so batches form
        predicted = list(pool.map(label_of, images))
    return float(np.mean([p == str(t) for p, t in zip(predicted, labels, strict=True)]))


def test_held_out_digits_rendered_large_score_95_percent(api: Api) -> None:
    images = [render(scan, 96) for scan in TEST_SCANS]
    accuracy = accuracy_over_http(api, images, TEST_LABELS)
    assert accuracy >= 0.95, f"{accuracy:.2%} on {len(images)} held-out digits rendered at 96px"


def test_photo_like_images_are_understood(api: Api) -> None:
    rng = np.random.default_rng(1)
    count = 60
    images = [photo(scan, rng) for scan in TEST_SCANS[:count]]
    accuracy = accuracy_over_http(api, images, TEST_LABELS[:count])
    assert accuracy >= 0.9, f"{accuracy:.2%} on {count} photo-like JPEGs"
