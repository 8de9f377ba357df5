"""Image classifiers (digits): one PNG or JPEG per request, the top-k labels back.

The image travels as the raw body (its own media type), as a multipart field, or as JSON
``{"image": "<base64>"}``; the answer is ``ImageAnswer``.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any, TypedDict, TypeGuard

from contracts.ranking import Ranked, ranked
from contracts.wire import OCTET_STREAM, Wire

KIND = "image"
MAGIC = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}
JSON_FIELD = "image"  # {"image": "<base64>"}


class ImageAnswer(TypedDict):
    label: str
    probability: float
    top_k: list[Ranked]


def content_type(data: bytes) -> str:
    """The media type of an image from its magic bytes; the server refuses the rest (415)."""
    for magic, media_type in MAGIC.items():
        if data.startswith(magic):
            return media_type
    return OCTET_STREAM


def request(data: bytes) -> Wire:
    """One image as the raw body."""
    return Wire(data, content_type(data))


def json_document(data: bytes) -> dict[str, str]:
    """One image as a JSON document."""
    return {JSON_FIELD: base64.b64encode(data).decode("ascii")}


def answer(labels: Sequence[str], probabilities: Sequence[float], top_k: int) -> ImageAnswer:
    """The answer for one image from the model's probabilities over ``labels``."""
    top = ranked(labels, probabilities)[:top_k]
    return {"label": top[0]["label"], "probability": top[0]["probability"], "top_k": top}


def is_answer(body: Any) -> TypeGuard[ImageAnswer]:
    """Whether ``body`` is shaped as an ImageAnswer (for rendering an unknown model's)."""
    return isinstance(body, dict) and isinstance(body.get("top_k"), list)


def predictions(body: ImageAnswer, count: int) -> list[ImageAnswer]:
    """Per image of a request, its answer: a request carries one image."""
    if count != 1:
        raise ValueError(f"an image request carries one image, not {count}")
    return [body]


def check(body: Any, labels: Sequence[str], top_k: int, expected: str | None = None) -> str | None:
    """None when ``body`` is a right ImageAnswer (with label ``expected``), else what is wrong."""
    if not isinstance(body, dict) or body.get("label") not in labels:
        return f"no known label in {str(body)[:200]}"
    if expected is not None and body["label"] != expected:
        return f"label {body['label']!r}, expected {expected!r}"
    top = body.get("top_k")
    if not isinstance(top, list) or len(top) != min(top_k, len(labels)):
        return f"top_k should list {top_k} labels, got {str(top)[:200]}"
    if any(not isinstance(item, dict) or item.get("label") not in labels for item in top):
        return f"top_k has a label outside the model's labels: {top}"
    return None
