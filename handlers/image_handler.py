"""Handler for image models: PNG/JPEG of one digit in, top-k labels with probabilities out.

Accepts the raw body (``--data-binary @x.png``), a multipart field (``-F data=@x.png``)
or JSON ``{"image": "<base64>"}``.
"""

from __future__ import annotations

import torch

from contracts import image
from handlers.batched_handler import BatchedHandler
from handlers.digit_features import image_to_grid
from handlers.image_wire import decode_image, image_from_json
from handlers.payload import Payload, as_bytes, parse_json


class ImageHandler(BatchedHandler):
    def parse(self, payload: Payload) -> torch.Tensor:
        data = image_from_json(parse_json(payload)) if payload.is_json else as_bytes(payload.value)
        grid = image_to_grid(decode_image(data))
        return torch.from_numpy(grid).reshape(1, 1, *grid.shape)

    def answer(self, outputs: torch.Tensor, request: torch.Tensor) -> image.ImageAnswer:
        probabilities = torch.softmax(outputs[0], dim=0).tolist()
        return image.answer(self.metadata["labels"], probabilities, self.metadata["top_k"])
