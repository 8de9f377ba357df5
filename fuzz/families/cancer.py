"""Malformed requests for the cancer model: rows of the wrong shape or holding values that
are not finite numbers, as ``{"inputs": [...]}``, nested rows or a bare list."""

from __future__ import annotations

import json
from random import Random
from typing import Any

from fuzz.families import shared
from fuzz.family import Family, Shape
from fuzz.wire import JSON, Request, dumps
from handlers.vector_parsing import MAX_ROWS
from models.cancer_net import N_FEATURES as FEATURES

MODEL = "cancer"
ROW = [float(value) for value in range(1, FEATURES + 1)]
# Values that are not a finite number, or only look like one.
ODD_VALUES: tuple[Any, ...] = (
    "1.0",
    "",
    None,
    True,
    False,
    [],
    [1.0],
    {},
    {"x": 1},
    float("nan"),
    float("inf"),
    -float("inf"),
    1.7976931348623157e308,
    5e-324,
    -0.0,
    2**64,
    -(2**63) - 1,
    "\ud800",
)


def wrapped(rng: Random, rows: Any) -> Any:
    """``rows`` in one of the accepted envelopes: ``{"inputs": ...}`` or bare."""
    return {"inputs": rows} if rng.random() < 0.7 else rows


def payloads(rng: Random) -> tuple[bytes, str]:
    rows = [ROW] * rng.randint(1, 3)
    return dumps(wrapped(rng, rows if rng.random() < 0.5 else ROW)), JSON


def bad_shape(rng: Random) -> tuple[str, Request]:
    """Rows of the wrong length or nesting, and envelopes the model does not read."""
    length = rng.choice([0, 1, FEATURES - 1, FEATURES + 1, 1_000])
    variants: list[tuple[str, Any]] = [
        (f"row of {length}", {"inputs": [1.0] * length}),
        ("ragged rows", {"inputs": [ROW, ROW[:-1], [*ROW, 1.0]]}),
        ("rows of rows", {"inputs": [[ROW, ROW]]}),
        ("row of rows of rows", [[[ROW]]]),
        ("empty inputs", {"inputs": []}),
        ("empty row", {"inputs": [[]]}),
        ("rows then a number", {"inputs": [ROW, 1.0]}),
        ("a number then rows", {"inputs": [1.0, ROW]}),
        (f"{MAX_ROWS + 1} rows", {"inputs": [ROW] * (MAX_ROWS + 1)}),
        ("inputs null", {"inputs": None}),
        ("inputs a string", {"inputs": "1,2,3"}),
        ("inputs an object", {"inputs": {"0": 1.0}}),
        ("inputs a number", {"inputs": 1.0}),
        ("no inputs", {"rows": [ROW]}),
        ("inputs and more", {"inputs": [ROW], "extra": [1] * 1000}),
        ("row as an object", {"inputs": [dict(enumerate(ROW))]}),
        ("top-level string", "ROW"),
        ("top-level number", 30),
        ("top-level null", None),
    ]
    what, document = rng.choice(variants)
    body = json.dumps(document).encode("ascii")
    return what, shared.json_request(rng, MODEL, body)


def bad_value(rng: Random) -> tuple[str, Request]:
    """A well-shaped row with one or more values that are not finite numbers."""
    row: list[Any] = list(ROW)
    value = rng.choice(ODD_VALUES)
    for position in rng.sample(range(FEATURES), rng.choice([1, 1, 5, FEATURES])):
        row[position] = value
    rows = [ROW, row] if rng.random() < 0.5 else row
    body = json.dumps(wrapped(rng, rows)).encode("ascii")
    return f"value {json.dumps(value)} in a row", shared.json_request(rng, MODEL, body)


def heavy_rows(rng: Random) -> tuple[str, Request]:
    """The most rows a request may hold, or a flat list of a million numbers."""
    if rng.random() < 0.5:
        rows = [[rng.uniform(0, 2_000) for _ in range(FEATURES)] for _ in range(MAX_ROWS)]
        return f"{MAX_ROWS} rows of {FEATURES}", Request(MODEL, dumps({"inputs": rows}), JSON)
    return "a bare list of a million zeros", Request(MODEL, b"[" + b"0," * 999_999 + b"0]", JSON)


ROW_TEXT = dumps(ROW)[1:-1]  # the 30 numbers without their brackets
SHAPE = Shape(
    model=MODEL,
    slots=(
        b'{"inputs": %b}',
        b'{"inputs": [' + ROW_TEXT[: ROW_TEXT.rindex(b",")] + b", %b]}",
        b'{"inputs": [[%b]]}',
        b"[" + ROW_TEXT[: ROW_TEXT.rindex(b",")] + b", %b]",
        b"{%b: 1}",  # the fragment as a key
    ),
    documents=(dumps({"inputs": ROW}), dumps({"inputs": [ROW, ROW]}), dumps(ROW)),
    payloads=payloads,
    heavy=(heavy_rows,),
)
FAMILIES = [
    Family("rows-shape", 3, bad_shape),
    Family("rows-values", 3, bad_value),
    *shared.families(SHAPE, json_weight=2),
]
