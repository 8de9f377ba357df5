"""The case families of each model: its own (images, rows, texts) and the shared ones."""

from __future__ import annotations

from fuzz.families import cancer, digits, minilm
from fuzz.family import Family

FAMILIES: dict[str, list[Family]] = {
    digits.MODEL: digits.FAMILIES,
    cancer.MODEL: cancer.FAMILIES,
    minilm.MODEL: minilm.FAMILIES,
}
