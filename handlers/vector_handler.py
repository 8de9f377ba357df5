"""Handler for tabular models: rows of numbers in, a label and class probabilities per row.

Accepts JSON ``{"inputs": [f1, ..., fn]}``, ``{"inputs": [[...], [...]]}`` or a bare list;
the answer keeps the rows' order.
"""

from __future__ import annotations

from typing import Any

import torch

from handlers.batched_handler import BatchedHandler
from handlers.payload import Payload, parse_json
from handlers.vector_parsing import rows_from_json


class VectorHandler(BatchedHandler):
    def parse(self, payload: Payload) -> torch.Tensor:
        n_features = len(self.metadata["input"]["features"])
        return torch.tensor(rows_from_json(parse_json(payload), n_features), dtype=torch.float32)

    def answer(self, outputs: torch.Tensor, request: torch.Tensor) -> dict[str, Any]:
        labels = self.metadata["labels"]
        predictions = []
        for row in torch.softmax(outputs, dim=1).tolist():
            best = max(range(len(labels)), key=row.__getitem__)
            predictions.append(
                {
                    "label": labels[best],
                    "probability": round(row[best], 6),
                    "probabilities": {
                        label: round(p, 6) for label, p in zip(labels, row, strict=True)
                    },
                }
            )
        return {"predictions": predictions}
