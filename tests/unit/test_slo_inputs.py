"""What the load test sends, and its checks of management answers (answer bodies are the
contracts' checks: tests/unit/test_contracts.py)."""

from __future__ import annotations

import json

from loadtests import checks, payloads


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
