"""The seeded case generator: case ``i`` of seed ``s`` is the same request on every run.

Each model's families are laid out in one cycle, each as often as its weight, shuffled by
the seed; case ``i`` takes the family at ``i`` modulo the cycle and builds its request from
a generator seeded with ``(seed, i)`` alone. So any run longer than the cycle covers every
family, and one case is rebuilt without building the ones before it (``--case``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from random import Random

from fuzz.families import FAMILIES
from fuzz.family import Family
from fuzz.wire import Request


@dataclass(frozen=True)
class Case:
    index: int
    model: str
    family: str
    what: str  # one line saying what is wrong with the request
    request: Request


def cycle(seed: int, models: Sequence[str]) -> list[tuple[str, Family]]:
    """Every (model, family) as often as its weight, in an order fixed by ``seed``."""
    slots = [
        (model, family)
        for model in models
        for family in FAMILIES[model]
        for _ in range(family.weight)
    ]
    Random(seed).shuffle(slots)
    return slots


def build(seed: int, index: int, slots: Sequence[tuple[str, Family]]) -> Case:
    """Case ``index`` of ``seed`` over the cycle ``slots``."""
    model, family = slots[index % len(slots)]
    what, request = family.make(Random(f"{seed}:{index}"))
    return Case(index, model, family.name, what, request)


def cases(seed: int, count: int, models: Sequence[str]) -> Iterator[Case]:
    """The first ``count`` cases of ``seed``, built one at a time (bodies can be 10 MiB)."""
    slots = cycle(seed, models)
    return (build(seed, index, slots) for index in range(count))
