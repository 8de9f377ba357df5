"""The building blocks of the case generator: a family of malformed requests, and what
the families shared by every model need to know of one model's wire format."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from random import Random

from fuzz.wire import Request
from server.launcher import read_properties
from server.settings import CONFIG

# Makes one request of a family from its own seeded generator: (what it is, the request).
Make = Callable[[Random], tuple[str, Request]]
MAX_REQUEST_SIZE = int(read_properties(CONFIG.read_text())["max_request_size"])


@dataclass(frozen=True)
class Family:
    name: str
    weight: int  # how often it comes up, relative to the model's other families
    make: Make


@dataclass(frozen=True)
class Shape:
    """One model's wire format, as far as the shared families use it."""

    model: str
    # JSON documents, each with one %b where a fragment of JSON is put.
    slots: tuple[bytes, ...]
    # Well-formed JSON documents, which the syntax family breaks.
    documents: tuple[bytes, ...]
    # Well-formed payloads in every wire format the model reads: (body, content type).
    payloads: Callable[[Random], tuple[bytes, str]]
    # Requests under every limit that cost the most work to answer.
    heavy: tuple[Make, ...]


def pick(rng: Random, makers: tuple[Make, ...]) -> tuple[str, Request]:
    """One request from a maker chosen at random."""
    return rng.choice(makers)(rng)
