"""Malformed requests for the minilm model: texts that are not UTF-8 or not Unicode, odd
but valid Unicode, and documents of the wrong shape, over every text wire format."""

from __future__ import annotations

import json
from random import Random
from typing import Any

from fuzz.families import shared
from fuzz.family import Family, Shape
from fuzz.fragments import INVALID_UTF8, ODD_TEXT, SURROGATE_ESCAPES
from fuzz.wire import JSON, TEXT, Part, Request, dumps, multipart, multipart_type
from handlers.text_parsing import MAX_CHARS, MAX_TEXTS

MODEL = "minilm"
SENTENCE = "A man is eating food."
BLANKS = (" ", "\n\t\r ", "\u3000", "\u2028\u2029", "\u00a0\u1680\u2000")  # all str.isspace


def payloads(rng: Random) -> tuple[bytes, str]:
    document = rng.choice(
        [{"text": SENTENCE}, {"inputs": [SENTENCE, SENTENCE]}, {"text": SENTENCE, "labels": ["a"]}]
    )
    return (dumps(document), JSON) if rng.random() < 0.6 else (SENTENCE.encode(), TEXT)


def text_sent(rng: Random, what: str, raw: bytes) -> tuple[str, Request]:
    """UTF-8 (or not) text bytes as a text/plain body or a multipart field."""
    if rng.random() < 0.7:
        kind = rng.choice([TEXT, TEXT, "text/plain; charset=utf-8", "text/markdown"])
        return f"{what} (text/plain)", Request(MODEL, raw, kind)
    part = Part(raw, rng.choice(["data", "file"]), rng.choice([TEXT, None]))
    return f"{what} (multipart)", Request(MODEL, multipart([part]), multipart_type())


def json_sent(rng: Random, what: str, literal: bytes) -> tuple[str, Request]:
    """A JSON string literal (raw bytes) where the model reads a text or a label."""
    where = rng.choice(["text", "inputs", "labels"])
    if where == "text":
        body = b'{"text": ' + literal + b"}"
    elif where == "inputs":
        body = b'{"inputs": ["ok", ' + literal + b"]}"
    else:
        body = b'{"text": "ok", "labels": ["a", ' + literal + b"]}"
    return f"{what} in {where}", shared.json_request(rng, MODEL, body)


def odd_text(rng: Random) -> tuple[str, Request]:
    """Invalid UTF-8, lone surrogates, odd but valid Unicode, and text that is all blank."""
    kind = rng.choice(["invalid utf-8", "surrogate", "odd unicode", "blank"])
    if kind == "invalid utf-8":
        raw = rng.choice(INVALID_UTF8)
        what, broken = f"raw bytes {raw!r}", b"hello " + raw + b" world"
        if rng.random() < 0.5:
            return text_sent(rng, what, broken)
        return json_sent(rng, what, b'"' + broken + b'"')
    if kind == "surrogate":
        escape = rng.choice(SURROGATE_ESCAPES)
        return json_sent(rng, f"escape {escape.decode()}", b'"' + escape + b'"')
    text = rng.choice(ODD_TEXT if kind == "odd unicode" else BLANKS)
    what = f"{kind} {text.encode('unicode_escape').decode('ascii')[:32]}"
    if rng.random() < 0.5:
        return text_sent(rng, what, text.encode("utf-8"))
    return json_sent(rng, what, json.dumps(text).encode("ascii"))


def bad_shape(rng: Random) -> tuple[str, Request]:
    """Documents with the wrong fields, types or counts."""
    variants: list[tuple[str, Any]] = [
        ("text a number", {"text": 5}),
        ("text null", {"text": None}),
        ("text a list", {"text": [SENTENCE]}),
        ("text an object", {"text": {"text": SENTENCE}}),
        ("text empty", {"text": ""}),
        ("inputs a string", {"inputs": SENTENCE}),
        ("inputs empty", {"inputs": []}),
        ("inputs with a number", {"inputs": [SENTENCE, 1]}),
        ("inputs with null", {"inputs": [None]}),
        ("inputs nested", {"inputs": [[SENTENCE]]}),
        (f"{MAX_TEXTS + 1} inputs", {"inputs": ["x"] * (MAX_TEXTS + 1)}),
        ("inputs with labels", {"inputs": [SENTENCE], "labels": ["a"]}),
        ("labels without text", {"labels": ["a", "b"]}),
        ("labels empty", {"text": SENTENCE, "labels": []}),
        ("labels a string", {"text": SENTENCE, "labels": "a,b"}),
        ("labels with a blank", {"text": SENTENCE, "labels": ["a", " "]}),
        (f"{MAX_TEXTS + 1} labels", {"text": SENTENCE, "labels": ["x"] * (MAX_TEXTS + 1)}),
        (f"text of {MAX_CHARS + 1} chars", {"text": "a" * (MAX_CHARS + 1)}),
        ("no known field", {"sentence": SENTENCE}),
        ("a bare list", [SENTENCE]),
        ("a bare string", SENTENCE),
        ("null", None),
    ]
    what, document = rng.choice(variants)
    return what, shared.json_request(rng, MODEL, json.dumps(document).encode("ascii"))


def long_text(rng: Random, chars: int) -> str:
    """``chars`` characters of a kind that tokenizes into many tokens."""
    unit = rng.choice(["word ", "x", "\U0001f600", "\u4e2d", "a\u0301", "\u200b"])
    return (unit * (chars // len(unit) + 1))[:chars]


def heavy_texts(rng: Random) -> tuple[str, Request]:
    """Under every limit and large in work: 64 texts of 20,000 characters, or as labels."""
    text = long_text(rng, MAX_CHARS)
    if rng.random() < 0.5:
        document: dict[str, Any] = {"inputs": [text] * MAX_TEXTS}
        what = f"{MAX_TEXTS} texts x {MAX_CHARS:,} chars"
    else:
        document = {"text": text, "labels": [text] * MAX_TEXTS}
        what = f"{MAX_TEXTS} labels x {MAX_CHARS:,} chars"
    body = json.dumps(document, ensure_ascii=False).encode("utf-8")
    return f"{what} ({text[:6]!r}...)", Request(MODEL, body, JSON)


def heavy_plain(rng: Random) -> tuple[str, Request]:
    """One long text/plain body: at the character limit, or megabytes past it."""
    chars = rng.choice([MAX_CHARS, MAX_CHARS + 1, 2_000_000])
    text = long_text(rng, chars)
    return f"text/plain of {chars:,} chars", Request(MODEL, text.encode("utf-8"), TEXT)


SHAPE = Shape(
    model=MODEL,
    slots=(
        b'{"text": %b}',
        b'{"inputs": ["ok", %b]}',
        b'{"text": "ok", "labels": [%b]}',
        b'{"inputs": %b}',
        b'{"text": "ok", "labels": %b}',
    ),
    documents=(
        dumps({"text": SENTENCE}),
        dumps({"inputs": [SENTENCE, SENTENCE]}),
        dumps({"text": SENTENCE, "labels": ["food", "horse"]}),
    ),
    payloads=payloads,
    heavy=(heavy_texts, heavy_plain),
)
FAMILIES = [
    Family("text-unicode", 4, odd_text),
    Family("text-shape", 3, bad_shape),
    *shared.families(SHAPE),
]
