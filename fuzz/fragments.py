"""Pieces of hostile JSON, as raw bytes: each is ``(what, fragment)``.

Python's ``json`` recurses once per nesting level and converts integers through ``int``
(refused past 4,300 digits); it reads ``NaN`` and lone surrogates, which the tokenizer
and torch then meet. Every fragment here is something one of those layers trips over.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from random import Random

Fragment = Callable[[Random], tuple[str, bytes]]  # (what it is, raw JSON)

# "\ud800" and friends as JSON escapes: they decode to str that cannot be encoded as UTF-8.
SURROGATE_ESCAPES = (b"\\ud800", b"\\udfff", b"\\udc00\\ud800", b"a\\ud83db", b"\\ud800\\u0041")
# Raw bytes that are not UTF-8: a stray continuation, an overlong NUL, an encoded
# surrogate (CESU-8), a code point past U+10FFFF, a cut-off sequence, Latin-1.
INVALID_UTF8 = (b"\x80", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82", b"caf\xe9")
# Valid but unusual text: zero-width, bidi overrides, emoji with joiners, NUL, BOM,
# noncharacters, private use, a combining-mark pile-up.
ODD_TEXT = (
    "\u200b",
    "\u200b\u200c\u200d\ufeff",
    "\u202eabc\u202c",
    "\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",
    "\U0001f916\u200d\U0001f9d1\U0001f3fd",
    "nul\x00inside",
    "\x00",
    "\ufeffbom",
    "\uffff\U0010ffff",
    "\ue000\U000f0000",
    "a" + "\u0301" * 5_000,
    "\x1b[31mred\x07",
)


def nesting(rng: Random) -> tuple[str, bytes]:
    """Arrays or objects nested 1,000+ levels deep, closed or not."""
    depth = rng.choice([1_000, 1_025, 1_100, 5_000, 100_000, 200_000])
    kind = rng.choice(["arrays", "objects", "mixed", "unclosed", "closers"])
    if kind == "arrays":
        return f"{depth} nested arrays", b"[" * depth + b"1" + b"]" * depth
    if kind == "objects":
        return f"{depth} nested objects", b'{"a":' * depth + b"1" + b"}" * depth
    if kind == "mixed":
        return f"{depth} nested array+object pairs", b'[{"a":' * depth + b"1" + b"}]" * depth
    if kind == "unclosed":
        return f"{depth} unclosed arrays", b"[" * depth
    return f"{depth} stray closing brackets", b"1" + b"]" * depth


def big_number(rng: Random) -> tuple[str, bytes]:
    """Integers past the 4,300-digit str->int limit, past 64 bits, and huge exponents."""
    digits = rng.choice([4_301, 4_400, 10_000, 100_000])
    forms = [
        (f"{digits}-digit integer", b"9" * digits),
        (f"negative {digits}-digit integer", b"-" + b"9" * digits),
        (f"1 followed by {digits} zeros", b"1" + b"0" * digits),
        (f"{digits}-digit fraction", b"0." + b"3" * digits),
        (f"{digits}-digit exponent", b"1e" + b"9" * digits),
        (f"{digits}-digit integer with a fraction", b"7" * digits + b".5"),
        ("2**64", b"18446744073709551616"),
        ("-2**63 - 1", b"-9223372036854775809"),
        ("1e400", b"1e400"),
    ]
    return rng.choice(forms)


def non_finite(rng: Random) -> tuple[str, bytes]:
    """NaN and infinities as Python's json writes them, and near-miss number syntax."""
    literal = rng.choice(
        [
            b"NaN",
            b"Infinity",
            b"-Infinity",
            b"1e999",
            b"-1e999",
            b"nan",
            b"inf",
            b"+1",
            b"01",
            b".5",
            b"1.",
            b"0x10",
            b"1e-400",
            b"-0",
        ]
    )
    return f"number literal {literal.decode()}", literal


def odd_string(rng: Random) -> tuple[str, bytes]:
    """A JSON string with lone surrogates, invalid UTF-8 or odd (valid) Unicode inside."""
    kind = rng.choice(["surrogate", "invalid utf-8", "odd unicode", "raw control"])
    if kind == "surrogate":
        escape = rng.choice(SURROGATE_ESCAPES)
        return f"string with escape {escape.decode()}", b'"' + escape + b'"'
    if kind == "invalid utf-8":
        raw = rng.choice(INVALID_UTF8)
        return f"string with raw bytes {raw!r}", b'"x' + raw + b'y"'
    if kind == "odd unicode":
        text = rng.choice(ODD_TEXT)
        shown = text.encode("unicode_escape").decode("ascii")[:40]
        return f"string {shown}", json.dumps(text, ensure_ascii=False).encode("utf-8")
    raw = bytes([rng.choice([0, 1, 8, 10, 13, 27, 31])])
    return f"string with raw control byte {raw!r}", b'"a' + raw + b'b"'
