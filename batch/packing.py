"""Pack inputs into requests the handlers accept, and unpack one prediction per input.

The vector and text handlers take many inputs per request (``{"inputs": [...]}``), up to
their documented limits; the image handler takes one image per request. A prediction is
what an online client gets for that one input: the cancer model's entry of
``predictions``, MiniLM's embedding with its truncation flag, the digits model's answer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from batch.calls import Request
from batch.errors import BatchError
from batch.sources import Item, content_type_of
from handlers.text_parsing import MAX_TEXTS
from handlers.vector_parsing import MAX_ROWS

JSON = "application/json"


class Packer:
    max_items: int  # inputs per request

    def pack(self, items: Sequence[Item]) -> Request:
        raise NotImplementedError

    def unpack(self, body: Any, count: int) -> list[Any]:
        """Per input, in order, its prediction from the answer to a request of ``count``."""
        raise NotImplementedError


def _json_request(document: Any) -> Request:
    # default=str: a Parquet cell of another type reaches the handler, which names it.
    return Request(json.dumps(document, default=str).encode("utf-8"), JSON)


def _checked(predictions: list[Any], count: int) -> list[Any]:
    if len(predictions) != count:
        raise BatchError(f"the model answered {len(predictions)} predictions for {count} inputs")
    return predictions


class VectorPacker(Packer):
    max_items = MAX_ROWS

    def pack(self, items: Sequence[Item]) -> Request:
        return _json_request({"inputs": [item.value for item in items]})

    def unpack(self, body: Any, count: int) -> list[Any]:
        return _checked(body["predictions"], count)


class TextPacker(Packer):
    max_items = MAX_TEXTS

    def pack(self, items: Sequence[Item]) -> Request:
        return _json_request({"inputs": [item.value for item in items]})

    def unpack(self, body: Any, count: int) -> list[Any]:
        pairs = zip(body["embeddings"], body["truncated"], strict=True)
        return _checked([{"embedding": e, "truncated": t} for e, t in pairs], count)


class ImagePacker(Packer):
    max_items = 1

    def pack(self, items: Sequence[Item]) -> Request:
        (image,) = items
        return Request(image.value, content_type_of(image.id))

    def unpack(self, body: Any, count: int) -> list[Any]:
        return _checked([body], count)


PACKERS: dict[str, type[Packer]] = {
    "vector": VectorPacker,
    "text": TextPacker,
    "image": ImagePacker,
}
