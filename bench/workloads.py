"""What the benchmark sends to each model, and how it checks the answers are right.

One wire format per model, the commonest: a raw PNG, one JSON row, one text/plain text;
and the same inputs in the model contract's JSON form (``json_bodies``) for a server that
reads JSON bodies only (LitServe). Each request carries one item (image, row, text), so
req/s is also items/s and compares with the in-process limit's items/s.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from contracts import image, text
from contracts.wire import JSON, TEXT
from loadtests import checks, payloads


@dataclass(frozen=True)
class Workload:
    model: str
    content_type: str
    bodies: tuple[bytes, ...]  # sent round robin
    check: Callable[[Any], str | None]  # None when an answer body is right
    nominal: int  # concurrent clients at which the targets are judged
    json_bodies: tuple[bytes, ...]  # the same inputs as JSON documents of the contract

    @property
    def path(self) -> str:
        return f"/predictions/{self.model}"

    def wire(self, json_only: bool) -> tuple[tuple[bytes, ...], str]:
        """The bodies and their Content-Type for a server (``json_only``: JSON bodies)."""
        return (self.json_bodies, JSON) if json_only else (self.bodies, self.content_type)


def _json(document: object) -> bytes:
    return json.dumps(document).encode()


WORKLOADS = {
    workload.model: workload
    for workload in (
        Workload(
            "digits",
            image.content_type(payloads.digit_png()),
            (payloads.digit_png(),),
            partial(checks.digit, expected=payloads.DIGIT_LABEL),
            nominal=64,
            json_bodies=(_json(image.json_document(payloads.digit_png())),),
        ),
        Workload(
            "cancer",
            JSON,
            tuple(payloads.cancer_row_json(index) for index in range(len(payloads.cancer_rows()))),
            partial(checks.cancer, rows=1),
            nominal=64,
            json_bodies=tuple(
                payloads.cancer_row_json(index) for index in range(len(payloads.cancer_rows()))
            ),
        ),
        Workload(
            "minilm",
            TEXT,
            tuple(text.encode() for text in payloads.TEXTS),
            partial(checks.embeddings, texts=1),
            nominal=32,
            json_bodies=tuple(_json(text.document(sentence)) for sentence in payloads.TEXTS),
        ),
    )
}
