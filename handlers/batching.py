"""Collect a TorchServe batch into one model call and hand each request its own answer.

A batch holds requests of one or more rows each; requests that failed keep their place as
their error, so that each is answered with its own while the others still run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from handlers.errors import RequestError

Result = tuple[Any, Any] | RequestError  # (the request's rows of model output, request)


def rows(outputs: Any, start: int, stop: int) -> Any:
    """Rows ``start:stop`` of the model's output: one tensor, or a dict of named ones."""
    if isinstance(outputs, Mapping):
        return {name: output[start:stop] for name, output in outputs.items()}
    return outputs[start:stop]


@dataclass(frozen=True)
class Accepted:
    rows: Sequence[Any]
    request: Any


@dataclass
class Batch:
    """Per request, in arrival order: its rows and the request, or its error."""

    slots: list[Accepted | RequestError] = field(default_factory=list)

    def add(self, rows: Sequence[Any], request: Any = None) -> None:
        """Add one request's rows (a tensor or a list); ``request`` comes back in split."""
        self.slots.append(Accepted(rows, request))

    def reject(self, error: RequestError) -> None:
        self.slots.append(error)

    @property
    def parts(self) -> list[Any]:
        """Per accepted request: its rows, in order."""
        return [slot.rows for slot in self.slots if isinstance(slot, Accepted)]

    def split(self, outputs: Any) -> list[Result]:
        """Per request, in order: its slice of ``outputs`` and the request, or its error.

        ``outputs`` holds one row per accepted row, in order (None when none was accepted);
        a dict of such outputs is split name by name.
        """
        results: list[Result] = []
        start = 0
        for slot in self.slots:
            if isinstance(slot, RequestError):
                results.append(slot)
                continue
            count = len(slot.rows)
            assert outputs is not None, "a request has rows but the model was not run"
            results.append((rows(outputs, start, start + count), slot.request))
            start += count
        return results

    def split_each(self, run: Callable[[Sequence[Any]], Any]) -> list[Result]:
        """Per request, in order: ``run`` over its rows alone and the request, or its error.

        ``run`` raising a RequestError answers that request with it; other requests go on.
        """
        results: list[Result] = []
        for slot in self.slots:
            if isinstance(slot, RequestError):
                results.append(slot)
                continue
            try:
                results.append((run(slot.rows), slot.request))
            except RequestError as error:
                results.append(error)
        return results
