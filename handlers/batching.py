"""Collect a TorchServe batch into one model call and hand each request its own answer.

A batch holds requests of one or more rows each; requests that failed validation keep
their place as an error so that they are answered with it, while the others still run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from handlers.errors import InputError


@dataclass
class Batch:
    """Per request: its rows' count in ``inputs`` and the request itself, or its error."""

    slots: list[tuple[int, Any] | InputError] = field(default_factory=list)
    parts: list[Any] = field(default_factory=list)  # per valid request: its rows

    def add(self, rows: Sequence[Any], request: Any = None) -> None:
        """Add one request's rows (a tensor or a list); ``request`` comes back in split."""
        self.slots.append((len(rows), request))
        self.parts.append(rows)

    def reject(self, error: InputError) -> None:
        self.slots.append(error)

    def split(self, outputs: torch.Tensor | None) -> list[tuple[torch.Tensor, Any] | InputError]:
        """Per request, in order: its slice of ``outputs`` and the request, or its error."""
        results: list[tuple[torch.Tensor, Any] | InputError] = []
        start = 0
        for slot in self.slots:
            if isinstance(slot, InputError):
                results.append(slot)
                continue
            count, request = slot
            assert outputs is not None, "a request has rows but the model was not run"
            results.append((outputs[start : start + count], request))
            start += count
        return results
