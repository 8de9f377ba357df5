"""Handler for tabular models: rows of numbers in, a label and class probabilities per row.

Accepts JSON ``{"inputs": [f1, ..., fn]}``, ``{"inputs": [[...], [...]]}`` or a bare list,
and rows as objects of the features by name (the names in the archive's metadata); the
answer keeps the rows' order.
"""

from __future__ import annotations

import torch

from contracts import vector
from handlers.batched_handler import BatchedHandler
from handlers.payload import Payload, parse_json
from handlers.vector_parsing import rows_from_json


class VectorHandler(BatchedHandler):
    def parse(self, payload: Payload) -> torch.Tensor:
        names = self.metadata["input"]["features"]
        return torch.tensor(rows_from_json(parse_json(payload), names), dtype=torch.float32)

    def answer(self, outputs: torch.Tensor, request: torch.Tensor) -> vector.VectorAnswer:
        return vector.answer(self.metadata["labels"], torch.softmax(outputs, dim=1).tolist())
