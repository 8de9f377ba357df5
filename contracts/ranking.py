"""Classification answers: labels with probabilities, ranked, rounded to PRECISION places."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

PRECISION = 6  # decimal places of every probability and score an answer carries


class Ranked(TypedDict):
    label: str
    probability: float


class Classification(TypedDict):
    label: str
    probability: float
    probabilities: dict[str, float]  # every label, in the model's label order


def ranked(labels: Sequence[str], probabilities: Sequence[float]) -> list[Ranked]:
    """Every label with its probability, most probable first (ties keep label order)."""
    pairs = sorted(zip(labels, probabilities, strict=True), key=lambda pair: -pair[1])
    return [{"label": label, "probability": round(p, PRECISION)} for label, p in pairs]


def classification(labels: Sequence[str], probabilities: Sequence[float]) -> Classification:
    """The most probable label, its probability and every label's, for one input."""
    best = ranked(labels, probabilities)[0]
    return {
        "label": best["label"],
        "probability": best["probability"],
        "probabilities": {
            label: round(p, PRECISION) for label, p in zip(labels, probabilities, strict=True)
        },
    }
