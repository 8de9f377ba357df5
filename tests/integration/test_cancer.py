"""The cancer model over HTTP: every input shape, row order, held-out accuracy."""

from __future__ import annotations

from typing import Any

import numpy as np

from contracts.metadata import read_metadata
from models.cancer import held_out_split
from server.settings import MODEL_STORE
from tests.integration.conftest import Api

_, TEST_ROWS, _, TEST_LABELS = held_out_split()
LABELS = ["malignant", "benign"]


def labels_of(body: dict[str, Any]) -> list[str]:
    for prediction in body["predictions"]:
        assert set(prediction["probabilities"]) == set(LABELS)
        assert abs(sum(prediction["probabilities"].values()) - 1) < 1e-4
        assert prediction["probability"] == prediction["probabilities"][prediction["label"]]
    return [prediction["label"] for prediction in body["predictions"]]


def test_single_row_object(api: Api) -> None:
    response = api.predict_json("cancer", {"inputs": TEST_ROWS[0].tolist()})
    assert response.status_code == 200, response.text
    assert labels_of(response.json()) == [LABELS[TEST_LABELS[0]]]


def test_plain_list(api: Api) -> None:
    response = api.predict_json("cancer", TEST_ROWS[0].tolist())
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == 1


def test_many_rows_keep_their_order_and_score_95_percent(api: Api) -> None:
    response = api.predict_json("cancer", {"inputs": TEST_ROWS.tolist()})
    assert response.status_code == 200, response.text
    predicted = labels_of(response.json())
    assert len(predicted) == len(TEST_ROWS)
    accuracy = float(np.mean([p == LABELS[t] for p, t in zip(predicted, TEST_LABELS, strict=True)]))
    assert accuracy >= 0.95, f"{accuracy:.2%} on {len(TEST_ROWS)} held-out rows"
    reversed_response = api.predict_json("cancer", {"inputs": TEST_ROWS[::-1].tolist()})
    assert labels_of(reversed_response.json()) == predicted[::-1]


def test_rows_by_feature_name_answer_as_lists_do(api: Api) -> None:
    names = read_metadata(MODEL_STORE / "cancer.mar")["input"]["features"]
    rows = TEST_ROWS[:3].tolist()
    named = [dict(reversed(list(zip(names, row, strict=True)))) for row in rows]  # any order
    by_list = api.predict_json("cancer", {"inputs": rows})
    by_name = api.predict_json("cancer", {"inputs": named})
    assert by_name.status_code == 200, by_name.text
    assert by_name.json() == by_list.json()
