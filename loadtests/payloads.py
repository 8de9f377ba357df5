"""Request bodies for load tests and the benchmark: the repo's examples and fixed texts.

Everything is built from files in the repository, so a load run needs no download.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from urllib3 import encode_multipart_formdata

from contracts import image, text, vector
from server.settings import EXAMPLES

DIGIT_IMAGE = EXAMPLES / "seven.png"
DIGIT_LABEL = "7"  # what the model answers for DIGIT_IMAGE (README)

# Everyday sentences of ordinary length: the text model's cost grows with token count, so
# load tests and benchmark use the same realistic mix.
TEXTS = (
    "A man is eating food.",
    "A man is riding a horse.",
    "The striker scored twice in the final minutes.",
    "Two children are playing in the sand at the beach.",
    "The new phone has a larger screen and a faster processor.",
    "Heavy rain is expected across the region tomorrow afternoon.",
    "She forgot her umbrella on the train this morning.",
    "The committee approved the budget after a long debate.",
    "A woman is slicing tomatoes in the kitchen.",
    "The telescope captured images of a distant galaxy.",
    "Our flight was delayed by three hours because of fog.",
    "He plays the guitar in a small jazz band on weekends.",
    "The recipe calls for two cups of flour and one egg.",
    "Stock markets fell sharply after the announcement.",
    "The museum opens a new exhibition of modern sculpture next week.",
    "A dog is chasing a ball across the park.",
)


@cache
def digit_png() -> bytes:
    return DIGIT_IMAGE.read_bytes()


def digit_base64_json() -> bytes:
    return json.dumps(image.json_document(digit_png())).encode()


def digit_multipart() -> tuple[bytes, str]:
    """(body, Content-Type) of a multipart form with the image in field ``data``."""
    fields = {"data": (DIGIT_IMAGE.name, digit_png(), image.content_type(digit_png()))}
    return encode_multipart_formdata(fields)


@cache
def cancer_rows() -> list[list[float]]:
    """Real rows of the breast-cancer data set (the repo's example file)."""
    document: dict[str, Any] = json.loads((EXAMPLES / "cancer_rows.json").read_text())
    return document["inputs"]


def cancer_row_json(index: int = 0) -> bytes:
    rows = cancer_rows()
    return vector.request(rows[index % len(rows)]).body


def cancer_rows_json() -> bytes:
    return vector.request(cancer_rows()).body


def texts_json(start: int, count: int) -> bytes:
    """``{"inputs": [...]}`` with ``count`` texts from TEXTS, starting at ``start``."""
    return text.request([TEXTS[(start + offset) % len(TEXTS)] for offset in range(count)]).body
