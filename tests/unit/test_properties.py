"""Property tests: the handlers' parsers answer any input with a valid result or InputError.

Whatever a client sends (any bytes, JSON with huge integers, NaN, lone surrogates, deep
nesting, damaged or bombed images), each pure parsing function returns a result that is
valid for the model or raises ``InputError`` (a 4xx for that request alone). Any other
exception would be a 500 for a client mistake. Derandomized: every run tries the same
examples, and a failure shows its minimal one.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fuzz import images
from handlers.digit_features import image_to_grid
from handlers.errors import InputError
from handlers.image_wire import decode_image, image_from_json
from handlers.payload import PAYLOAD_FIELDS, Payload, find_payload, parse_json
from handlers.text_parsing import MAX_CHARS, MAX_TEXTS, text_request
from handlers.vector_parsing import rows_from_json

T = TypeVar("T")
PROPERTY = settings(
    max_examples=150,
    derandomize=True,
    database=None,  # nothing written to the checkout; derandomize makes runs repeatable
    deadline=None,  # a 20 MiB metadata bomb takes longer than hypothesis's 200 ms
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FEATURES = 30
JSON_TYPES = ["application/json", "application/ld+json", "text/plain", "", "image/png"]

# Every code point, lone surrogates included: JSON carries them as "\ud800".
ANY_TEXT = st.text(alphabet=st.characters(codec=None), max_size=30)
# Up to Python's 4,300-digit limit for converting between int and str, both signs: the
# most json.loads turns into an int. Longer ones only reach a parser that bypasses JSON
# (test_rows_from_json_with_an_int_past_the_str_limit); as text, they are in BODIES.
HUGE_INTS = st.integers(4_000, 4_300).flatmap(lambda d: st.sampled_from([10**d - 1, 1 - 10**d]))
SCALARS = st.none() | st.booleans() | st.integers() | HUGE_INTS | st.floats() | ANY_TEXT
KEYS = st.sampled_from(["inputs", "text", "labels", "image"]) | ANY_TEXT
DOCUMENTS = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=8) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=40,
)
NUMBERS = st.floats() | st.integers() | HUGE_INTS | st.booleans() | ANY_TEXT | st.none()
ROWS = st.lists(NUMBERS, min_size=FEATURES - 1, max_size=FEATURES + 1)
CANCER_DOCUMENTS = (
    DOCUMENTS
    | st.fixed_dictionaries({"inputs": ROWS | st.lists(ROWS, max_size=3)})
    | st.lists(ROWS, min_size=1, max_size=3)
)
TEXT_DOCUMENTS = DOCUMENTS | st.fixed_dictionaries(
    {"text": ANY_TEXT | SCALARS},
    optional={"labels": st.lists(ANY_TEXT | SCALARS, max_size=4) | SCALARS},
)


def json_bytes(document: Any, ascii_only: bool) -> bytes:
    """``document`` as JSON bytes, as Python writes it: NaN and Infinity literals, lone
    surrogates as escapes (ascii_only) or as raw bytes that are not UTF-8."""
    text = json.dumps(document, ensure_ascii=ascii_only)
    return text.encode("utf-8", "surrogatepass")


NESTED = st.integers(1, 50_000).map(lambda depth: b"[" * depth + b"]" * depth)
HUGE_INT_BODIES = st.integers(4_290, 100_000).map(lambda d: b'{"inputs": [' + b"9" * d + b"]}")
BODIES = (
    st.binary(max_size=300)
    | st.builds(json_bytes, DOCUMENTS, st.booleans())
    | NESTED
    | HUGE_INT_BODIES
)


def payloads(documents: st.SearchStrategy[Any]) -> st.SearchStrategy[Payload]:
    """What TorchServe may hand a handler: bytes or str of any type, or a parsed document."""
    raw = st.builds(Payload, BODIES | ANY_TEXT, st.sampled_from(JSON_TYPES))
    encoded = st.builds(
        Payload, st.builds(json_bytes, documents, st.booleans()), st.just("application/json")
    )
    parsed = st.builds(Payload, documents, st.sampled_from(JSON_TYPES))
    return raw | encoded | parsed


def valid_or_refused(call: Callable[[], T]) -> T | None:
    """The call's result, or None when it raised InputError; any other exception escapes."""
    try:
        return call()
    except InputError:
        return None


def is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@PROPERTY
@given(payloads(DOCUMENTS))
@example(Payload(b"[" + b"9" * 5_000 + b"]", "application/json"))
@example(Payload(b"[" * 100_000, "application/json"))
@example(Payload(b'{"inputs": [NaN]}', "application/json"))
@example(Payload(b'"\xed\xa0\x80"', "application/json"))
def test_parse_json_returns_json_or_input_error(payload: Payload) -> None:
    valid_or_refused(lambda: parse_json(payload))


ROW_VALUES = st.none() | st.binary(max_size=20) | ANY_TEXT | DOCUMENTS
FIELD_NAMES = st.sampled_from([*PAYLOAD_FIELDS, "x", "labels"]) | ANY_TEXT


@PROPERTY
@given(
    st.dictionaries(FIELD_NAMES, ROW_VALUES, max_size=4),
    st.dictionaries(FIELD_NAMES, ANY_TEXT, max_size=4),
    st.booleans(),
)
def test_find_payload_returns_a_payload_or_input_error(
    row: dict[str, Any], content_types: dict[str, str], form: bool
) -> None:
    payload = valid_or_refused(lambda: find_payload(row, content_types, form))
    if payload is not None:
        assert payload.value is not None, payload
        assert payload.content_type == payload.content_type.strip().lower(), payload


@PROPERTY
@given(CANCER_DOCUMENTS)
@example({"inputs": [10**4_300 - 1] + [1.0] * (FEATURES - 1)})
@example({"inputs": [float("nan")] * FEATURES})
@example([[1e308] * FEATURES, [-(10**400)] * FEATURES])
def test_rows_from_json_returns_finite_rows_or_input_error(document: Any) -> None:
    rows = valid_or_refused(lambda: rows_from_json(document, FEATURES))
    if rows is not None:
        assert rows, document
        for row in rows:
            assert len(row) == FEATURES, row
            assert all(isinstance(v, float) and math.isfinite(v) for v in row), row


def test_rows_from_json_with_an_int_past_the_str_limit() -> None:
    with pytest.raises(InputError, match="too large for a float"):
        rows_from_json({"inputs": [10**4_301] * FEATURES}, FEATURES)


@PROPERTY
@given(payloads(TEXT_DOCUMENTS))
@example(Payload(b"\xff\xfe", "text/plain"))
@example(Payload(b'{"text": "\\ud800"}', "application/json"))
@example(Payload({"text": "ok", "labels": ["\ud800"]}, "application/json"))
@example(Payload({"inputs": ["a", 10**4_300]}, "application/json"))
@example(Payload("\ud800", "text/plain"))
def test_text_request_returns_utf8_texts_or_input_error(payload: Payload) -> None:
    request = valid_or_refused(lambda: text_request(payload))
    if request is not None:
        assert 1 <= len(request.texts) <= MAX_TEXTS, request
        for text in request.rows:
            assert isinstance(text, str) and text.strip(), request
            assert len(text) <= MAX_CHARS, len(text)
            assert is_utf8(text), f"{text!r} cannot reach the tokenizer as UTF-8"


IMAGE_VALUES = (
    ANY_TEXT
    | SCALARS
    | st.binary(max_size=200).map(lambda data: base64.b64encode(data).decode("ascii"))
)


@PROPERTY
@given(DOCUMENTS | st.fixed_dictionaries({"image": IMAGE_VALUES}))
@example({"image": "\ud800"})
@example({"image": "data:image/png;base64,\udcff"})
@example({"image": "é" * 8})
def test_image_from_json_returns_bytes_or_input_error(document: Any) -> None:
    data = valid_or_refused(lambda: image_from_json(document))
    assert data is None or isinstance(data, bytes)


def damaged(image: bytes, cut: int, flips: list[tuple[int, int]], recrc: bool) -> bytes:
    """``image`` cut to ``cut`` bytes (modulo its length) with bits flipped; a PNG's CRCs
    fixed afterwards when ``recrc``, so the damage reaches the decoder."""
    data = bytearray(image[: max(1, cut % (len(image) + 1))])
    for position, bit in flips:
        data[position % len(data)] ^= 1 << bit
    return images.recrc(bytes(data)) if recrc and data.startswith(images.SIGNATURE) else bytes(data)


DIGITS = st.sampled_from(
    [
        images.digit(28),
        images.digit(64, "RGBA"),
        images.digit(28, "P"),
        images.digit(64, "L", "JPEG"),
    ]
)
DAMAGED = st.builds(
    damaged,
    DIGITS,
    st.integers(0, 1 << 16),
    st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 7)), max_size=8),
    st.booleans(),
)
SMALL = images.digit(16)


@PROPERTY
@given(st.binary(max_size=300) | DAMAGED)
@example(images.metadata_bomb(b"zTXt"))
@example(images.metadata_bomb(b"iCCP"))
@example(images.metadata_bomb(b"iTXt"))
@example(images.with_header(SMALL, 20_000, 20_000))
@example(images.with_header(SMALL, 2**32 - 1, 1))
@example(images.with_header(SMALL, 0, 0))
@example(images.with_header(SMALL, 16, 16, depth=3))
@example(images.jpeg_with_size(images.digit(16, "L", "JPEG"), 65_500, 65_500))
@example(images.SIGNATURE)
def test_decode_image_returns_an_image_or_input_error(data: bytes) -> None:
    image = valid_or_refused(lambda: decode_image(data))
    if image is not None:
        assert image.format in ("PNG", "JPEG"), image.format


@PROPERTY
@given(DAMAGED)
@example(images.blank_png(1, 4_096))
@example(images.blank_png(4_096, 1))
def test_damaged_images_reach_the_model_as_8x8_ink_or_input_error(data: bytes) -> None:
    grid = valid_or_refused(lambda: image_to_grid(decode_image(data)))
    if grid is not None:
        assert grid.shape == (8, 8), grid.shape
        assert np.isfinite(grid).all() and grid.min() >= 0 and grid.max() <= 1, grid
