"""Handler for image models: PNG/JPEG of one digit in, top-k labels with probabilities out.

Accepts the raw body (``--data-binary @x.png``), a multipart field (``-F data=@x.png``)
or JSON ``{"image": "<base64>"}``; on the KServe routes, a v2 ``image`` BYTES tensor of
one or more images, or v1 instances ``{"b64": "..."}`` (contracts/oip.py).
"""

from __future__ import annotations

from typing import Any

import torch

from contracts import image, oip
from handlers.batched_handler import BatchedHandler
from handlers.digit_features import image_to_grid
from handlers.errors import InputError, PayloadTooLarge
from handlers.image_wire import decode_image, image_from_json
from handlers.payload import Payload, as_bytes, parse_json
from handlers.protocols import V2Request, classification_tensors, element_bytes

MAX_IMAGES = 32  # per KServe request: a batch's worth (batchSize); the native body holds one


class ImageHandler(BatchedHandler):
    def parse(self, payload: Payload) -> torch.Tensor:
        data = image_from_json(parse_json(payload)) if payload.is_json else as_bytes(payload.value)
        return self._grids([data])

    def parse_v2(self, request: V2Request) -> torch.Tensor:
        tensor = request.inputs.get(oip.IMAGE)
        if tensor is None or tensor.datatype != "BYTES" or len(request.inputs) != 1:
            raise InputError(
                f'a v2 request to this model has one input, "{oip.IMAGE}": BYTES, one PNG or '
                f"JPEG per element; got {[(t.name, t.datatype) for t in request.inputs.values()]}"
            )
        return self._grids([element_bytes(item, oip.IMAGE) for item in tensor.data])

    def parse_v1(self, instances: list[Any]) -> torch.Tensor:
        images = []
        for index, instance in enumerate(instances):
            encoded = instance.get("b64") if isinstance(instance, dict) else instance
            if not isinstance(encoded, str):
                raise InputError(f'instance {index} must be {{"b64": "<base64 PNG or JPEG>"}}')
            images.append(image_from_json({"image": encoded}))
        return self._grids(images)

    def _grids(self, images: list[bytes]) -> torch.Tensor:
        if not images:
            raise InputError("no image given")
        if len(images) > MAX_IMAGES:
            raise PayloadTooLarge(f"{len(images)} images, at most {MAX_IMAGES} per request")
        grids = [torch.from_numpy(image_to_grid(decode_image(data))) for data in images]
        return torch.stack(grids).unsqueeze(1)  # N x 1 x 8 x 8

    def answer(self, outputs: torch.Tensor, request: torch.Tensor) -> image.ImageAnswer:
        probabilities = torch.softmax(outputs[0], dim=0).tolist()
        return image.answer(self.metadata["labels"], probabilities, self.metadata["top_k"])

    def answer_v1(self, outputs: torch.Tensor, request: torch.Tensor) -> list[image.ImageAnswer]:
        labels, top_k = self.metadata["labels"], self.metadata["top_k"]
        rows = torch.softmax(outputs, dim=1).tolist()
        return [image.answer(labels, row, top_k) for row in rows]

    def answer_v2(self, outputs: torch.Tensor, request: torch.Tensor) -> list[dict[str, Any]]:
        rows = torch.softmax(outputs, dim=1).tolist()
        return classification_tensors(self.metadata["labels"], rows)
