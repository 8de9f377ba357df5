"""Well-formed requests for each model, and what their answers must be.

They run beside the malformed traffic: each must get a 200 with the right answer however
many bad requests share its batches. The answers are the README's, so a batch-mate that
leaks into another request's slot shows up as a wrong label, not only as a wrong status.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from contracts import image, text, vector
from fuzz.wire import JSON, PNG, TEXT, Part, Request, dumps, multipart, multipart_type
from loadtests import checks
from server.settings import EXAMPLES

SENTENCES = ["A man is eating food.", "A man is riding a horse."]
TOPIC = "The striker scored twice in the final minutes."
LABELS = ["cooking", "football", "astronomy"]
CANCER_LABELS = ["malignant", "malignant", "benign"]  # examples/cancer_rows.json, in order

Check = Callable[[Any], str | None]  # the answer's problem, None when it is right


@dataclass(frozen=True)
class Valid:
    name: str
    request: Request
    check: Check


def seven_png() -> bytes:
    return (EXAMPLES / "seven.png").read_bytes()


def cancer_rows() -> list[list[float]]:
    return json.loads((EXAMPLES / "cancer_rows.json").read_text())["inputs"]


def is_seven(answer: Any) -> str | None:
    return checks.digit(answer, expected="7")


def labels_are(expected: list[str]) -> Check:
    def check(answer: Any) -> str | None:
        problem = checks.cancer(answer, rows=len(expected))
        if problem is not None:
            return problem
        got = [prediction["label"] for prediction in answer["predictions"]]
        return None if got == expected else f"expected labels {expected}, got {got}"

    return check


def embeddings_of(count: int) -> Check:
    return partial(checks.embeddings, texts=count)


def ranks_football(answer: Any) -> str | None:
    label = answer.get("label")
    return None if label == "football" else f"expected label football, got {label!r}"


def digits() -> list[Valid]:
    png = seven_png()
    return [
        Valid("raw png", Request("digits", png, PNG), is_seven),
        Valid(
            "multipart",
            Request("digits", multipart([Part(png, "data", PNG, "seven.png")]), multipart_type()),
            is_seven,
        ),
        Valid("base64 json", Request("digits", dumps(image.json_document(png)), JSON), is_seven),
    ]


def cancer() -> list[Valid]:
    rows = cancer_rows()
    return [
        Valid(
            "rows", Request("cancer", vector.request(rows).body, JSON), labels_are(CANCER_LABELS)
        ),
        Valid(
            "one row",
            Request("cancer", vector.request(rows[0]).body, JSON),
            labels_are(CANCER_LABELS[:1]),
        ),
        Valid(
            "bare list",
            Request("cancer", json.dumps(rows[2]).encode(), JSON),
            labels_are(CANCER_LABELS[2:]),
        ),
    ]


def minilm() -> list[Valid]:
    labelled = text.request(TOPIC, LABELS).body
    return [
        Valid("text/plain", Request("minilm", SENTENCES[0].encode(), TEXT), embeddings_of(1)),
        Valid(
            "inputs",
            Request("minilm", text.request(SENTENCES).body, JSON),
            embeddings_of(len(SENTENCES)),
        ),
        Valid("labels", Request("minilm", labelled, JSON), ranks_football),
        Valid(
            "multipart",
            Request(
                "minilm", multipart([Part(SENTENCES[1].encode(), "data", TEXT)]), multipart_type()
            ),
            embeddings_of(1),
        ),
    ]


VALID: dict[str, Callable[[], list[Valid]]] = {
    "digits": digits,
    "cancer": cancer,
    "minilm": minilm,
}
MODELS = tuple(VALID)
