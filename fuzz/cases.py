"""A seeded generator of malformed requests for the three models, in every wire format.

``cases(seed, count)`` yields the same ``Case`` list for the same arguments. Families are
taken in turn (weighted), so even a few hundred cases cover every family; the seed varies
what each case carries (where a file is cut, which bits flip, which junk is sent).
"""

from __future__ import annotations

import base64
import io
import json
import random
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache

from PIL import Image
from urllib3 import encode_multipart_formdata

from loadtests.payloads import DIGIT_IMAGE, TEXTS, cancer_rows, digit_png

PNG = "image/png"
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
N_FEATURES = 30


@dataclass(frozen=True)
class Case:
    """One request: which model, which family of malformation, and the bytes sent."""

    index: int
    model: str
    family: str
    body: bytes
    content_type: str | None

    def repro(self) -> str:
        """A one-line description to reproduce it (body abbreviated)."""
        head = self.body[:60]
        return (
            f"#{self.index} {self.model} {self.family} Content-Type={self.content_type!r} "
            f"{len(self.body)} bytes {head!r}{'...' if len(self.body) > 60 else ''}"
        )


Body = tuple[bytes, str | None]
Builder = Callable[[random.Random], Body]


# ---- image material ---------------------------------------------------------------------


@cache
def digit_jpeg() -> bytes:
    out = io.BytesIO()
    with Image.open(DIGIT_IMAGE) as image:
        image.convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


@cache
def pixel_bomb_png(side: int = 20_000) -> bytes:
    """A valid 1-bit grayscale PNG of side x side pixels; a few tens of KB on the wire."""
    row = b"\x00" + b"\xff" * ((side + 7) // 8)  # filter byte, then white pixels
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row * 1000) for _ in range(side // 1000))
    idat += packer.compress(row * (side % 1000)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


@cache
def ztxt_bomb_png() -> bytes:
    """seven.png with a zTXt chunk of 20 MiB of 'A' (about 20 KB compressed) after IHDR."""
    png = digit_png()
    ihdr_end = 8 + 8 + 13 + 4  # signature, IHDR length+type, IHDR data, CRC
    ztxt = _chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"A" * (20 << 20), 9))
    return png[:ihdr_end] + ztxt + png[ihdr_end:]


def truncated(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(0, len(data))]


def bit_flipped(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        position = rng.randrange(len(out))
        out[position] ^= 1 << rng.randrange(8)
    return bytes(out)


def _image_wire(image: bytes, wire: str) -> Body:
    kind = "image/jpeg" if image.startswith(b"\xff\xd8") else PNG
    if wire == "raw":
        return image, kind
    if wire == "multipart":
        body, content_type = encode_multipart_formdata({"data": ("digit", image, kind)})
        return body, content_type
    return json.dumps({"image": base64.b64encode(image).decode("ascii")}).encode(), JSON


def _image_family(make: Callable[[random.Random], bytes], wire: str) -> Builder:
    return lambda rng: _image_wire(make(rng), wire)


# ---- JSON and text material -------------------------------------------------------------


def nested(depth: int = 1000) -> bytes:
    return b"[" * depth + b"]" * depth


def nested_object(key: str, depth: int = 1000) -> bytes:
    return b'{"' + key.encode() + b'": ' + nested(depth) + b"}"


def huge_int(rng: random.Random, digits: int = 5000) -> bytes:
    return (str(rng.randint(1, 9)) + "".join(rng.choices("0123456789", k=digits - 1))).encode()


NON_FINITE = (b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999")
SURROGATES = ("\\ud800", "\\udfff", "\\ud83d", "a\\udc00b")
INVALID_UTF8 = (b"\xff\xfe", b"\xc3\x28", b"\xe2\x82", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80")
ODD_TEXT = (
    "\x00",
    "a\x00b",
    "\u200b",
    "\u200b\u200c\u200d\ufeff",
    "\u202eevil\u202c",
    "\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",
    "\U0001f600" * 50,
    "\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "e\u0301" * 100,
    "\t\n\r ",
)
NOT_JSON = (b"{", b"{'inputs': [1]}", b"inputs=1", b"[1,2,", b"\x00\x01", b"", b"null x", b"}{")


def _cancer_row(rng: random.Random) -> list[bytes]:
    row = rng.choice(cancer_rows())
    return [repr(value).encode() for value in row]


def _cancer_with(rng: random.Random, value: bytes) -> bytes:
    row = _cancer_row(rng)
    row[rng.randrange(len(row))] = value
    return b'{"inputs": [' + b", ".join(row) + b"]}"


def _junk_json(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 2**63, 1.5, -0.0, 1e308])
    if kind == 3:
        return rng.choice(["", " ", "x" * rng.randrange(50), *ODD_TEXT])
    if kind == 4:
        return []
    if kind == 5:
        return [_junk_json(rng, depth + 1) for _ in range(rng.randrange(1, 5))]
    keys = ["inputs", "text", "labels", "image", "x"]
    return {rng.choice(keys): _junk_json(rng, depth + 1) for _ in range(rng.randrange(1, 4))}


def _dumps(document: object) -> bytes:
    return json.dumps(document).encode()


def _long_texts(rng: random.Random) -> Body:
    count = rng.choice([64, 65, 65, 65, 200])
    chars = rng.choice([20_000, 20_001])
    texts = ["".join(rng.choices("abc xyz", k=chars)) for _ in range(count)]
    return _dumps({"inputs": texts}), JSON


def _surrogate_json(template: str) -> Callable[[random.Random], Body]:
    return lambda rng: (template.replace("@", rng.choice(SURROGATES)).encode(), JSON)


# ---- the families -----------------------------------------------------------------------


def _families() -> list[tuple[str, str, int, Builder]]:
    """(model, family, weight, builder): weight is the share of the cases it gets."""
    out: list[tuple[str, str, int, Builder]] = []
    for wire in ("raw", "multipart", "json"):
        out += [
            ("digits", f"truncated-png/{wire}", 3, _image_family(
                lambda rng: truncated(digit_png(), rng), wire)),
            ("digits", f"bitflip-png/{wire}", 3, _image_family(
                lambda rng: bit_flipped(digit_png(), rng), wire)),
            ("digits", f"truncated-jpeg/{wire}", 3, _image_family(
                lambda rng: truncated(digit_jpeg(), rng), wire)),
            ("digits", f"bitflip-jpeg/{wire}", 3, _image_family(
                lambda rng: bit_flipped(digit_jpeg(), rng), wire)),
            ("digits", f"pixel-bomb/{wire}", 1, _image_family(lambda rng: pixel_bomb_png(), wire)),
            ("digits", f"ztxt-bomb/{wire}", 1, _image_family(lambda rng: ztxt_bomb_png(), wire)),
        ]  # fmt: skip
    out += [
        ("digits", "image-as-json", 2, lambda rng: (digit_png(), JSON)),
        ("digits", "not-json-as-json", 2, lambda rng: (rng.choice(NOT_JSON), JSON)),
        ("digits", "nested-json", 1, lambda rng: (nested_object("image"), JSON)),
        ("digits", "huge-int", 1, lambda rng: (b'{"image": ' + huge_int(rng) + b"}", JSON)),
        ("digits", "surrogate", 1, _surrogate_json('{"image": "@"}')),
        ("digits", "junk-json", 2, lambda rng: (_dumps(_junk_json(rng)), JSON)),
        ("digits", "bad-base64", 2, lambda rng: (
            _dumps({"image": rng.choice(["!!", "a", "data:,", "====", "\u00e9"])}), JSON)),
        ("cancer", "nested-json", 1, lambda rng: (
            nested_object("inputs", rng.choice([1000, 999, 5000])), JSON)),
        ("cancer", "huge-int", 3, lambda rng: (_cancer_with(rng, huge_int(rng)), JSON)),
        ("cancer", "non-finite", 3, lambda rng: (
            _cancer_with(rng, rng.choice(NON_FINITE)), JSON)),
        ("cancer", "surrogate", 2, lambda rng: (
            _cancer_with(rng, b'"' + rng.choice(SURROGATES).encode() + b'"'), JSON)),
        ("cancer", "invalid-utf8", 2, lambda rng: (
            b'{"inputs": ["' + rng.choice(INVALID_UTF8) + b'"]}', JSON)),
        ("cancer", "json-as-text", 2, lambda rng: (_cancer_with(rng, b"1.0"), TEXT)),
        ("cancer", "not-json-as-json", 2, lambda rng: (rng.choice(NOT_JSON), JSON)),
        ("cancer", "junk-json", 3, lambda rng: (_dumps({"inputs": _junk_json(rng)}), JSON)),
        ("cancer", "image-as-json", 1, lambda rng: (digit_png(), JSON)),
        ("minilm", "invalid-utf8/text", 3, lambda rng: (
            b"hello " + rng.choice(INVALID_UTF8) + b" world", TEXT)),
        ("minilm", "odd-text/text", 3, lambda rng: (rng.choice(ODD_TEXT).encode(), TEXT)),
        ("minilm", "odd-text/json", 3, lambda rng: (_dumps({"text": rng.choice(ODD_TEXT)}), JSON)),
        ("minilm", "odd-text/inputs", 2, lambda rng: (
            _dumps({"inputs": rng.sample(ODD_TEXT, 3)}), JSON)),
        ("minilm", "surrogate/text", 2, _surrogate_json('{"text": "@"}')),
        ("minilm", "surrogate/inputs", 2, _surrogate_json('{"inputs": ["ok", "@"]}')),
        ("minilm", "surrogate/labels", 2, _surrogate_json('{"text": "ok", "labels": ["@", "b"]}')),
        ("minilm", "invalid-utf8/json", 2, lambda rng: (
            b'{"text": "' + rng.choice(INVALID_UTF8) + b'"}', JSON)),
        ("minilm", "nested-json", 1, lambda rng: (
            nested_object(rng.choice(["inputs", "text"])), JSON)),
        ("minilm", "huge-int", 1, lambda rng: (b'{"inputs": [' + huge_int(rng) + b"]}", JSON)),
        ("minilm", "non-finite", 1, lambda rng: (
            b'{"text": "a", "labels": [' + rng.choice(NON_FINITE) + b"]}", JSON)),
        ("minilm", "json-as-text", 2, lambda rng: (
            _dumps({"inputs": rng.sample(TEXTS, 2)}), TEXT)),
        ("minilm", "not-json-as-json", 2, lambda rng: (rng.choice(NOT_JSON), JSON)),
        ("minilm", "junk-json", 3, lambda rng: (_dumps(_junk_json(rng)), JSON)),
        ("minilm", "image-as-json", 1, lambda rng: (digit_png(), JSON)),
        ("minilm", "image-as-text", 1, lambda rng: (digit_png(), TEXT)),
        ("minilm", "long-texts", 1, _long_texts),
    ]  # fmt: skip
    return out


FAMILIES = _families()


def families() -> list[tuple[str, str]]:
    return [(model, family) for model, family, _, _ in FAMILIES]


def cases(seed: int = 0, count: int = 10_000) -> Iterator[Case]:
    """``count`` cases, the same for the same seed: a weighted round over the families
    (first every family once, then by weight), each case built from its own RNG."""
    schedule = [index for index, (*_, weight, _) in enumerate(FAMILIES) for _ in range(weight)]
    shuffled = random.Random(seed).sample(schedule, len(schedule))
    for index in range(count):
        first_round = index < len(FAMILIES)
        slot = index if first_round else shuffled[(index - len(FAMILIES)) % len(shuffled)]
        model, family, _, build = FAMILIES[slot]
        body, content_type = build(random.Random(f"{seed}:{index}"))
        yield Case(index, model, family, body, content_type)
