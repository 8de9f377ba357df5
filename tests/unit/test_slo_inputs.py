"""What the load test sends and how it judges answers: payloads and body checks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from loadtests import checks, payloads

SEVEN: dict[str, Any] = {
    "label": "7",
    "probability": 0.99,
    "top_k": [{"label": "7"}, {"label": "3"}, {"label": "2"}],
}


def test_a_right_digit_answer_passes() -> None:
    assert checks.digit(SEVEN, expected="7") is None


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({"label": "x"}, "no digit label"),
        (SEVEN | {"label": "1"}, "label '1', expected '7'"),
        (SEVEN | {"top_k": SEVEN["top_k"][:2]}, "top_k should list 3 labels"),
        (SEVEN | {"top_k": [{"label": "7"}, {"label": "3"}, {"label": "b"}]}, "outside 0-9"),
        ([], "no digit label"),
    ],
)
def test_a_wrong_digit_answer_is_named(answer: Any, problem: str) -> None:
    assert problem in (checks.digit(answer, expected="7") or "")


def test_cancer_answers_need_one_known_label_per_row() -> None:
    rows = {"predictions": [{"label": "benign"}, {"label": "malignant"}]}
    assert checks.cancer(rows, rows=2) is None
    assert "expected 3 predictions" in (checks.cancer(rows, rows=3) or "")
    odd = {"predictions": [{"label": "benign"}, {"label": "cat"}]}
    assert "labels not in" in (checks.cancer(odd, rows=2) or "")


def test_embeddings_need_one_384_vector_and_flag_per_text() -> None:
    good = {"embeddings": [[0.0] * 384, [0.1] * 384], "truncated": [False, False]}
    assert checks.embeddings(good, texts=2) is None
    assert "expected 3 embeddings" in (checks.embeddings(good, texts=3) or "")
    short = good | {"embeddings": [[0.0] * 384, [0.1] * 383]}
    assert checks.embeddings(short, texts=2) == "embedding lengths [383, 384], expected 384"
    assert "truncated flags" in (checks.embeddings(good | {"truncated": [False]}, texts=2) or "")


def test_management_answers() -> None:
    described = [{"modelName": "digits", "workers": [{"status": "READY"}]}]
    assert checks.described(described, "digits") is None
    assert "expected 'cancer'" in (checks.described(described, "cancer") or "")
    assert "no workers" in (checks.described([{"modelName": "digits"}], "digits") or "")
    assert checks.scaled({"status": "Workers scaled"}) is None
    assert "no status" in (checks.scaled({}) or "")


def test_a_body_that_is_not_json_is_named() -> None:
    assert checks.parsed(b'{"a": 1}') == ({"a": 1}, None)
    answer, problem = checks.parsed(b"<html>")
    assert answer is None and "body is not JSON" in (problem or "")


def test_payloads_carry_the_example_inputs() -> None:
    assert payloads.digit_png().startswith(b"\x89PNG")
    body, content_type = payloads.digit_multipart()
    assert content_type.startswith("multipart/form-data; boundary=")
    assert b'name="data"' in body and payloads.digit_png() in body
    assert len(json.loads(payloads.cancer_row_json(1))["inputs"]) == 30
    assert len(json.loads(payloads.cancer_rows_json())["inputs"]) == len(payloads.cancer_rows())
    texts = json.loads(payloads.texts_json(len(payloads.TEXTS) - 1, 3))["inputs"]
    assert texts == [payloads.TEXTS[-1], payloads.TEXTS[0], payloads.TEXTS[1]]
