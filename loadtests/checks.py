"""Validate answer bodies, so a load test counts a wrong answer as a failure, not a success.

Each check returns None when the body is right, else a message saying what is wrong. The
shapes are the models' contracts; labels, top-k and embedding size are read from the
archives the server runs (``model_store/``).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from contracts import image, text, vector
from contracts.metadata import Metadata, read_metadata
from server.settings import MODEL_STORE


@cache
def metadata(model: str) -> Metadata:
    return read_metadata(MODEL_STORE / f"{model}.mar")


def parsed(body: bytes | str | None) -> tuple[Any, str | None]:
    """(JSON value, None) or (None, why the body is not JSON)."""
    try:
        return json.loads(body or b""), None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"body is not JSON: {exc}"


def digit(answer: Any, expected: str | None = None) -> str | None:
    known = metadata("digits")
    return image.check(answer, known["labels"], known["top_k"], expected)


def cancer(answer: Any, rows: int) -> str | None:
    return vector.check(answer, metadata("cancer")["labels"], rows)


def embeddings(answer: Any, texts: int) -> str | None:
    return text.check(answer, texts, metadata("minilm")["dimension"])


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
