"""Compare a model's answer with the one a document or test shows, floats within TOLERANCE.

The trained weights and a transformer's float sums differ in the last digits between CPUs
(the same seeded build gives digits 0.999972 on one machine, 0.999979 on an AMD EPYC; minilm
0.232112 vs 0.232111), so shown numbers agree within TOLERANCE; labels, keys, lengths and
every other value agree exactly. postman/collection.json and the notebook test use the same
TOLERANCE (the collection states it as 1e-4).
"""

from __future__ import annotations

import math
import re
from typing import Any

TOLERANCE = 1e-4
ELLIPSIS = "..."  # a list shown cut short: compared on its first items
NUMBER = re.compile(r"-?\d+\.\d+(?:e-?\d+)?")


def agrees(expected: Any, actual: Any, where: str = "$") -> list[str]:
    """Where ``actual`` differs from ``expected`` (a list ending in ELLIPSIS is a prefix)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        if expected.keys() != actual.keys():
            return [f"{where}: keys {sorted(actual)} != {sorted(expected)}"]
        return [d for key in expected for d in agrees(expected[key], actual[key], f"{where}.{key}")]
    if isinstance(expected, list) and isinstance(actual, list):
        if expected and expected[-1] == ELLIPSIS:
            expected, actual = expected[:-1], actual[: len(expected) - 1]
        if len(expected) != len(actual):
            return [f"{where}: {len(actual)} items != {len(expected)}"]
        pairs = enumerate(zip(expected, actual, strict=True))
        return [d for i, (e, a) in pairs for d in agrees(e, a, f"{where}[{i}]")]
    if isinstance(expected, float) or isinstance(actual, float):
        close = isinstance(actual, int | float) and math.isclose(
            expected, actual, abs_tol=TOLERANCE
        )
        return [] if close else [f"{where}: {actual!r} != {expected!r}"]
    return [] if expected == actual else [f"{where}: {actual!r} != {expected!r}"]


def same_text(expected: str, actual: str) -> bool:
    """Whether two printed answers agree: the words exactly, the decimals within TOLERANCE."""
    if NUMBER.split(expected) != NUMBER.split(actual):
        return False
    pairs = zip(NUMBER.findall(expected), NUMBER.findall(actual), strict=True)
    return all(math.isclose(float(e), float(a), abs_tol=TOLERANCE) for e, a in pairs)
