"""Read the texts (and optional candidate labels) of one request to a text model.

Accepted: a ``text/plain`` body or multipart field; JSON ``{"text": "..."}``;
JSON ``{"inputs": ["...", ...]}`` (order kept); JSON ``{"text": "...", "labels": [...]}``
to rank the labels by similarity to the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from handlers.errors import InputError, PayloadTooLarge
from handlers.payload import Payload, parse_json

MAX_TEXTS = 64  # texts (or labels) per request; more belongs in the batch scorer
MAX_CHARS = 20_000  # per text; the model reads 256 tokens (~1,000 words), the rest is cut


@dataclass(frozen=True)
class TextRequest:
    texts: list[str]
    labels: list[str] | None = None  # candidates to rank against texts[0]

    @property
    def rows(self) -> list[str]:
        """Everything to embed: the texts, then the labels."""
        return self.texts + (self.labels or [])


def text_request(payload: Payload) -> TextRequest:
    """The texts of one request, validated; raise InputError naming what is wrong."""
    if payload.is_json or isinstance(payload.value, (dict, list)):
        return _from_json(parse_json(payload))
    return TextRequest([_checked(_decoded(payload.value), "text")])


def _decoded(value: Any) -> str:
    if isinstance(value, str):
        return value
    if not isinstance(value, (bytes, bytearray, memoryview)):  # bytes(5) would be 5 NULs
        raise InputError(f"text must be a string, got {type(value).__name__}")
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"text is not valid UTF-8: {exc.reason} at byte {exc.start}") from None


def _from_json(document: Any) -> TextRequest:
    if not isinstance(document, dict) or not ({"text", "inputs"} & set(document)):
        raise InputError(
            'JSON input must be {"text": "..."}, {"inputs": ["...", ...]} '
            'or {"text": "...", "labels": ["...", ...]}'
        )
    if "inputs" in document:
        if "labels" in document:
            raise InputError('"labels" goes with a single "text", not with "inputs"')
        return TextRequest(_checked_list(document["inputs"], "inputs"))
    text = _checked(document["text"], "text")
    if "labels" not in document:
        return TextRequest([text])
    return TextRequest([text], _checked_list(document["labels"], "labels"))


def _checked_list(values: Any, field: str) -> list[str]:
    if not isinstance(values, list):
        raise InputError(f'"{field}" must be a list of strings, got {type(values).__name__}')
    if not values:
        raise InputError(f'"{field}" is empty')
    if len(values) > MAX_TEXTS:
        raise PayloadTooLarge(f"too many {field}: {len(values)}, at most {MAX_TEXTS} per request")
    return [_checked(value, f"{field}[{index}]") for index, value in enumerate(values)]


def _checked(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise InputError(f"{name} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise InputError(f"{name} is empty")
    if len(value) > MAX_CHARS:
        raise PayloadTooLarge(f"{name} has {len(value):,} characters, at most {MAX_CHARS:,}")
    try:
        value.encode("utf-8")  # a lone surrogate (JSON "\ud800") breaks the tokenizer
    except UnicodeEncodeError as exc:
        raise InputError(f"{name} is not valid Unicode: {exc.reason} at {exc.start}") from None
    return value
