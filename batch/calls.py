"""One call to a model: requests as TorchServe receives them, replies as a client sees them.

An engine takes a list of requests (TorchServe hands a handler up to ``batchSize`` of them
at once) and answers each with its status and JSON body, in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Request:
    body: bytes
    content_type: str


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any  # the JSON answer, or an error body {"code", "type", "message"}
    seconds: float  # wall time of the request (of the whole call, for the local engine)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def message(self) -> str:
        if isinstance(self.body, dict) and "message" in self.body:
            return str(self.body["message"])
        return str(self.body)


class Engine(Protocol):
    name: str  # "local" or "server", recorded in the runs table
    concurrency: int  # calls in flight at once
    inputs_per_call: int  # about how many inputs to hand over together in one call

    def call(self, requests: Sequence[Request]) -> list[Reply]: ...

    def close(self) -> None: ...
