"""Pack inputs into requests the handlers accept, and unpack one prediction per input.

Each kind's request body and answer shape are its contract's (``contracts/``); here is
only how many inputs one request carries: many rows or texts (up to the handlers' limits),
one image. A prediction is what an online client gets for that one input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from batch.calls import Request
from batch.errors import BatchError
from batch.sources import Item, content_type_of
from contracts import text, vector
from contracts.metadata import Kind
from contracts.wire import Wire
from handlers.text_parsing import MAX_TEXTS
from handlers.vector_parsing import MAX_ROWS


class Packer:
    max_items: int  # inputs per request

    def pack(self, items: Sequence[Item]) -> Request:
        raise NotImplementedError

    def predictions(self, body: Any, count: int) -> Sequence[Any]:
        raise NotImplementedError

    def unpack(self, body: Any, count: int) -> list[Any]:
        """Per input, in order, its prediction from the answer to a request of ``count``."""
        try:
            return list(self.predictions(body, count))
        except ValueError as exc:
            raise BatchError(str(exc)) from None


def _request(wire: Wire) -> Request:
    return Request(wire.body, wire.content_type)


class VectorPacker(Packer):
    max_items = MAX_ROWS

    def pack(self, items: Sequence[Item]) -> Request:
        return _request(vector.request([item.value for item in items]))

    def predictions(self, body: Any, count: int) -> Sequence[Any]:
        return vector.predictions(body, count)


class TextPacker(Packer):
    max_items = MAX_TEXTS

    def pack(self, items: Sequence[Item]) -> Request:
        return _request(text.request([item.value for item in items]))

    def predictions(self, body: Any, count: int) -> Sequence[Any]:
        return text.predictions(body, count)


class ImagePacker(Packer):
    max_items = 1

    def pack(self, items: Sequence[Item]) -> Request:
        (image,) = items
        # The file's extension names the type: a mislabelled file is the handler's to refuse.
        return Request(image.value, content_type_of(image.id))

    def predictions(self, body: Any, count: int) -> Sequence[Any]:
        if count != 1:
            raise ValueError(f"an image request carries one image, not {count}")
        return [body]


PACKERS: dict[Kind, type[Packer]] = {
    "vector": VectorPacker,
    "text": TextPacker,
    "image": ImagePacker,
}
