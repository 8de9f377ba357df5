"""Score inputs through an engine so that each bad input fails alone.

A request of many inputs that is refused (one row of the wrong length fails the whole
request) is split in halves and each half sent again, down to single inputs: a bad input
costs about 2 log2(n) extra requests and ends as its own error row, with the message the
handler gives for it online. A call of several requests that fails as a whole (a server
fault fails every request of a TorchServe batch) is retried one request at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from batch.calls import Engine
from batch.packing import Packer
from batch.sources import Item


@dataclass(frozen=True)
class Outcome:
    item: Item
    prediction: Any = None
    error: str | None = None
    code: int | None = None  # the HTTP status of a failed input
    latency_ms: float = 0.0  # of the request (or local call) that scored the input

    @property
    def ok(self) -> bool:
        return self.error is None


def unreadable(item: Item) -> Outcome:
    """The error row of an input the source could not read."""
    return Outcome(item, error=item.problem, code=400)


def score(engine: Engine, packer: Packer, groups: Sequence[Sequence[Item]]) -> list[Outcome]:
    """Score ``groups`` in one engine call, one request per group; one outcome per item."""
    replies = engine.call([packer.pack(group) for group in groups])
    if len(groups) > 1 and all(reply.status >= 500 for reply in replies):
        return [outcome for group in groups for outcome in score(engine, packer, [group])]
    outcomes: list[Outcome] = []
    for group, reply in zip(groups, replies, strict=True):
        latency = round(reply.seconds * 1000, 3)
        if reply.ok:
            predictions = packer.unpack(reply.body, len(group))
            outcomes += [
                Outcome(item, prediction, latency_ms=latency)
                for item, prediction in zip(group, predictions, strict=True)
            ]
        elif len(group) > 1:
            half = len(group) // 2
            outcomes += score(engine, packer, [group[:half], group[half:]])
        else:
            outcomes.append(
                Outcome(group[0], error=reply.message, code=reply.status, latency_ms=latency)
            )
    return outcomes
