"""What the benchmark sends to each model, and how it checks the answers are right.

One wire format per model, the commonest: a raw PNG, one JSON row, one text/plain text.
Each request carries one item (image, row, text), so req/s is also items/s and compares
with the in-process limit's items/s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from contracts import image
from contracts.wire import JSON, TEXT
from loadtests import checks, payloads


@dataclass(frozen=True)
class Workload:
    model: str
    content_type: str
    bodies: tuple[bytes, ...]  # sent round robin
    check: Callable[[Any], str | None]  # None when an answer body is right
    nominal: int  # concurrent clients at which the targets are judged

    @property
    def path(self) -> str:
        return f"/predictions/{self.model}"


WORKLOADS = {
    workload.model: workload
    for workload in (
        Workload(
            "digits",
            image.content_type(payloads.digit_png()),
            (payloads.digit_png(),),
            partial(checks.digit, expected=payloads.DIGIT_LABEL),
            nominal=64,
        ),
        Workload(
            "cancer",
            JSON,
            tuple(payloads.cancer_row_json(index) for index in range(len(payloads.cancer_rows()))),
            partial(checks.cancer, rows=1),
            nominal=64,
        ),
        Workload(
            "minilm",
            TEXT,
            tuple(text.encode() for text in payloads.TEXTS),
            partial(checks.embeddings, texts=1),
            nominal=32,
        ),
    )
}
