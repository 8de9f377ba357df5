"""Property tests: the handlers' parsers answer any input with a value or an InputError.

Whatever a client sends (arbitrary bytes, JSON with huge integers, NaN, lone surrogates,
deep nesting), a parser returns or raises ``InputError`` (a 4xx for that request), never
another exception (a 500, or a crashed batch). Seeded (derandomize), so a run is repeatable.
"""

from __future__ import annotations

import contextlib
import io
import json
import struct
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from handlers.errors import InputError
from handlers.image_decoding import decode_image
from handlers.payload import Payload, parse_json
from handlers.text_parsing import text_request
from handlers.vector_parsing import rows_from_json
from loadtests.payloads import DIGIT_IMAGE, digit_png

SETTINGS = settings(
    max_examples=100,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Every code point, lone surrogates included (JSON can carry them as "\ud800").
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=40)
# Up to 4,300 digits: the most json.loads (so parse_json) turns into an int; longer ones
# it refuses (InputError), so only a caller bypassing parse_json hands a parser more.
HUGE_INTS = st.integers(1, 4300).map(lambda digits: 10**digits - 1)
HUGE_INT_TEXT = st.integers(1, 6000).map(lambda digits: b"9" * digits)
PLAIN_SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT  # floats: NaN, inf
)
SCALARS = PLAIN_SCALARS | HUGE_INTS
KEYS = st.sampled_from(["inputs", "text", "labels", "image"]) | ANY_TEXT


def documents(scalars: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=32) | st.dictionaries(KEYS, children, max_size=4)
        ),
        max_leaves=64,
    )


DOCUMENTS = documents(SCALARS)
ROWS = st.lists(SCALARS, min_size=29, max_size=31)
NESTED = st.integers(1, 100_000).map(lambda depth: b"[" * depth + b"]" * depth)


def _as_json_bytes(document: Any, ascii_only: bool) -> bytes:
    """The document as JSON bytes; lone surrogates kept as escapes or raw (invalid UTF-8)."""
    return json.dumps(document, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


JSON_BYTES = st.builds(_as_json_bytes, documents(PLAIN_SCALARS), st.booleans())
BYTES = (
    st.binary(max_size=512)
    | JSON_BYTES
    | NESTED
    | HUGE_INT_TEXT.map(lambda digits: b'{"inputs": [' + digits + b"]}")
)
CONTENT_TYPES = st.sampled_from(["", "application/json", "text/plain", "application/ld+json"])


def only_input_errors(call: Callable[[], object]) -> None:
    with contextlib.suppress(InputError):
        call()


@SETTINGS
@given(BYTES, st.booleans(), CONTENT_TYPES)
@example(b"[" + b"9" * 5000 + b"]", False, "application/json")
@example(b'{"inputs": "\\ud800"}', True, "application/json")
def test_parse_json_returns_or_raises_input_error(
    data: bytes, as_text: bool, content_type: str
) -> None:
    value: bytes | str = data.decode("utf-8", "replace") if as_text else data
    only_input_errors(lambda: parse_json(Payload(value, content_type)))


@SETTINGS
@given(DOCUMENTS | st.fixed_dictionaries({"inputs": ROWS | st.lists(ROWS, max_size=3)}))
@example({"inputs": [10**4300 - 1] * 30})
@example({"inputs": [float("nan")] * 30})
def test_rows_from_json_returns_or_raises_input_error(document: Any) -> None:
    only_input_errors(lambda: rows_from_json(document, 30))


@pytest.mark.xfail(
    strict=True,
    raises=ValueError,
    reason="vector_parsing formats the value into its message: an int over 4,300 digits "
    "raises ValueError (unreachable through parse_json, which refuses such ints)",
)
def test_rows_from_json_with_an_int_past_the_str_limit() -> None:
    only_input_errors(lambda: rows_from_json({"inputs": [10**5000 - 1] * 30}, 30))


# What TorchServe hands a handler: bytes or str of any type, or a parsed JSON document
# (Content-Type application/json), which is the only way a handler sees a dict or list.
CONTAINERS = st.lists(DOCUMENTS, max_size=8) | st.dictionaries(KEYS, DOCUMENTS, max_size=4)
TEXT_PAYLOADS = (
    st.tuples(BYTES | ANY_TEXT, CONTENT_TYPES)
    | st.tuples(DOCUMENTS, st.just("application/json"))
    | st.tuples(CONTAINERS, CONTENT_TYPES)
)


@SETTINGS
@given(TEXT_PAYLOADS)
@example((b"\xff\xfe", "text/plain"))
@example(('{"text": "\\ud800"}', "application/json"))
@example(({"text": "ok", "labels": ["\ud800", 10**4300 - 1]}, "application/json"))
def test_text_request_returns_or_raises_input_error(payload: tuple[Any, str]) -> None:
    only_input_errors(lambda: text_request(Payload(*payload)))


def _mutated(image: bytes, cut: int, flips: list[tuple[int, int]]) -> bytes:
    out = bytearray(image[: max(1, cut % (len(image) + 1))])
    for position, bit in flips:
        out[position % len(out)] ^= 1 << bit
    return bytes(out)


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def digit_jpeg() -> bytes:
    out = io.BytesIO()
    with Image.open(DIGIT_IMAGE) as image:
        image.convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


def pixel_bomb_png(side: int = 20_000) -> bytes:
    """A 1-bit side x side PNG whose pixel data is cut short (decoders must refuse it first)."""
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def ztxt_bomb_png() -> bytes:
    """seven.png with a zTXt chunk of 20 MiB of 'A' (about 20 KB compressed) after IHDR."""
    png, ihdr_end = digit_png(), 8 + 8 + 13 + 4
    ztxt = _chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"A" * (20 << 20), 9))
    return png[:ihdr_end] + ztxt + png[ihdr_end:]


IMAGES = st.sampled_from([digit_png(), digit_jpeg()])
MUTATED = st.builds(
    _mutated,
    IMAGES,
    st.integers(0, 1 << 20),
    st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 7)), max_size=8),
)


@SETTINGS
@given(st.binary(max_size=512) | MUTATED)
@example(pixel_bomb_png())
@example(ztxt_bomb_png())
@example(b"\x89PNG\r\n\x1a\n")
def test_decode_image_returns_or_raises_input_error(data: bytes) -> None:
    only_input_errors(lambda: decode_image(data))
