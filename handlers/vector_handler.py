"""Handler for tabular models: rows of numbers in, a label and class probabilities per row.

Accepts JSON ``{"inputs": [f1, ..., fn]}``, ``{"inputs": [[...], [...]]}`` or a bare list,
and rows as objects of the features by name (the names in the archive's metadata); the
answer keeps the rows' order. On the KServe routes: a v2 ``features`` tensor [n, F], or one
tensor per feature name ([n] each: KServe's columns of a DataFrame), or v1 instances, one
row each (contracts/oip.py).
"""

from __future__ import annotations

from typing import Any

import torch

from contracts import oip, vector
from contracts.ranking import Classification
from handlers.batched_handler import BatchedHandler
from handlers.errors import InputError
from handlers.payload import Payload, parse_json
from handlers.protocols import V2Request, classification_tensors
from handlers.vector_parsing import rows_from_json


class VectorHandler(BatchedHandler):
    def parse(self, payload: Payload) -> torch.Tensor:
        return self._rows(parse_json(payload))

    def parse_v2(self, request: V2Request) -> torch.Tensor:
        names = self.metadata["input"]["features"]
        tensors = request.inputs
        for tensor in tensors.values():
            if tensor.datatype not in oip.NUMERIC:
                raise InputError(f"input {tensor.name!r}: numbers, not {tensor.datatype}")
        if oip.FEATURES in tensors:
            if len(tensors) != 1:
                raise InputError(f'"{oip.FEATURES}" comes alone, got {list(tensors)}')
            return self._rows(tensors[oip.FEATURES].matrix().tolist())
        # One tensor per feature (columns): rows by name, checked as the native ones.
        counts = {tensor.rows for tensor in tensors.values()}
        if len(counts) != 1 or any(t.matrix().shape[1] != 1 for t in tensors.values()):
            raise InputError(
                f'send "{oip.FEATURES}" [n, {len(names)}], or one tensor per feature name of '
                "shape [n] (or [n, 1]), every one with the same n"
            )
        columns = {name: tensor.matrix()[:, 0].tolist() for name, tensor in tensors.items()}
        rows = [
            dict(zip(columns, values, strict=True))
            for values in zip(*columns.values(), strict=True)
        ]
        return self._rows(rows)

    def parse_v1(self, instances: list[Any]) -> torch.Tensor:
        wrong = next(
            (i for i, row in enumerate(instances) if not isinstance(row, list | dict)), None
        )
        if wrong is not None:
            raise InputError(
                f"instance {wrong} must be a row: a list of numbers or an object by feature name"
            )
        return self._rows(instances)

    def _rows(self, document: Any) -> torch.Tensor:
        names = self.metadata["input"]["features"]
        return torch.tensor(rows_from_json(document, names), dtype=torch.float32)

    def answer(self, outputs: torch.Tensor, request: torch.Tensor) -> vector.VectorAnswer:
        return vector.answer(self.metadata["labels"], probabilities(outputs))

    def answer_v1(self, outputs: torch.Tensor, request: torch.Tensor) -> list[Classification]:
        return self.answer(outputs, request)["predictions"]

    def answer_v2(self, outputs: torch.Tensor, request: torch.Tensor) -> list[dict[str, Any]]:
        return classification_tensors(self.metadata["labels"], probabilities(outputs))


def probabilities(outputs: torch.Tensor) -> list[list[float]]:
    """Each row's class probabilities; a 400 for a row whose numbers overflow the model
    (finite, but far outside the data's range: the scores become inf, then NaN)."""
    rows = torch.softmax(outputs, dim=1)
    broken = (~torch.isfinite(rows).all(dim=1)).nonzero().flatten().tolist()
    if broken:
        raise InputError(
            f"row {broken[0]}: the model has no answer for these values (they overflow it: "
            "far outside the data's range)"
        )
    return rows.tolist()
