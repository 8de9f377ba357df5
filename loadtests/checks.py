"""Validate answer bodies, so a load test counts a wrong answer as a failure, not a success.

Each check returns None when the body is right, else a message saying what is wrong.
"""

from __future__ import annotations

import json
from typing import Any

DIGIT_LABELS = frozenset(str(digit) for digit in range(10))
CANCER_LABELS = frozenset({"malignant", "benign"})
EMBEDDING_SIZE = 384  # all-MiniLM-L6-v2
TOP_K = 3  # config/models/digits.yaml handler.top_k


def parsed(body: bytes | str | None) -> tuple[Any, str | None]:
    """(JSON value, None) or (None, why the body is not JSON)."""
    try:
        return json.loads(body or b""), None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"body is not JSON: {exc}"


def digit(answer: Any, expected: str | None = None) -> str | None:
    if not isinstance(answer, dict) or answer.get("label") not in DIGIT_LABELS:
        return f"no digit label in {str(answer)[:200]}"
    if expected is not None and answer["label"] != expected:
        return f"label {answer['label']!r}, expected {expected!r}"
    ranked = answer.get("top_k")
    if not isinstance(ranked, list) or len(ranked) != TOP_K:
        return f"top_k should list {TOP_K} labels, got {str(ranked)[:200]}"
    if any(item.get("label") not in DIGIT_LABELS for item in ranked):
        return f"top_k has a label outside 0-9: {ranked}"
    return None


def cancer(answer: Any, rows: int) -> str | None:
    predictions = answer.get("predictions") if isinstance(answer, dict) else None
    if not isinstance(predictions, list) or len(predictions) != rows:
        return f"expected {rows} predictions, got {str(answer)[:200]}"
    wrong = [
        item
        for item in predictions
        if not isinstance(item, dict) or item.get("label") not in CANCER_LABELS
    ]
    if wrong:
        return f"labels not in {sorted(CANCER_LABELS)}: {str(wrong)[:200]}"
    return None


def embeddings(answer: Any, texts: int) -> str | None:
    vectors = answer.get("embeddings") if isinstance(answer, dict) else None
    if not isinstance(vectors, list) or len(vectors) != texts:
        return f"expected {texts} embeddings, got {str(answer)[:200]}"
    sizes = {len(vector) if isinstance(vector, list) else -1 for vector in vectors}
    if sizes != {EMBEDDING_SIZE}:
        return f"embedding lengths {sorted(sizes)}, expected {EMBEDDING_SIZE}"
    truncated = answer.get("truncated")
    if not isinstance(truncated, list) or len(truncated) != texts:
        return f"expected {texts} truncated flags, got {str(truncated)[:100]}"
    return None


def described(answer: Any, model: str) -> str | None:
    """A management describe answer: one entry for ``model`` with at least one worker."""
    if not isinstance(answer, list) or not answer or not isinstance(answer[0], dict):
        return f"describe answer is not a list of models: {str(answer)[:200]}"
    entry = answer[0]
    if entry.get("modelName") != model:
        return f"describe answered for {entry.get('modelName')!r}, expected {model!r}"
    if not entry.get("workers"):
        return f"{model} has no workers"
    return None


def scaled(answer: Any) -> str | None:
    """A management scale answer: ``{"status": "..."}``."""
    if isinstance(answer, dict) and isinstance(answer.get("status"), str):
        return None
    return f"scale answer has no status: {str(answer)[:200]}"
