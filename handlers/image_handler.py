"""Handler for image models: PNG/JPEG of one digit in, top-k labels with probabilities out.

Accepts the raw body (``--data-binary @x.png``), a multipart field (``-F data=@x.png``)
or JSON ``{"image": "<base64>"}``.
"""

from __future__ import annotations

from typing import Any

import torch

from handlers.batched_handler import BatchedHandler
from handlers.digit_features import image_to_grid
from handlers.image_wire import decode_image, image_from_json
from handlers.payload import Payload, as_bytes, parse_json


class ImageHandler(BatchedHandler):
    def parse(self, payload: Payload) -> torch.Tensor:
        data = image_from_json(parse_json(payload)) if payload.is_json else as_bytes(payload.value)
        grid = image_to_grid(decode_image(data))
        return torch.from_numpy(grid).reshape(1, 1, *grid.shape)

    def answer(self, outputs: torch.Tensor, request: torch.Tensor) -> dict[str, Any]:
        labels = self.metadata["labels"]
        probabilities = torch.softmax(outputs[0], dim=0)
        top = torch.topk(probabilities, k=min(int(self.settings.get("top_k", 3)), len(labels)))
        ranked = [
            {"label": labels[index], "probability": round(float(p), 6)}
            for p, index in zip(top.values.tolist(), top.indices.tolist(), strict=True)
        ]
        return {
            "label": ranked[0]["label"],
            "probability": ranked[0]["probability"],
            "top_k": ranked,
        }
