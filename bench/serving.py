"""One model's request bodies to its answer bodies, batched: what every Python peer serves.

The Flask app, LitServe, BentoML and Ray Serve each wrap these in their own server, so they
all read the same inputs and give the same answers as TorchServe's handlers: requests are
read with the handlers' pure modules (handlers/payload.py, image_wire.py, text_parsing.py,
vector_parsing.py), the models called as bench/direct.py loads them, answers built by the
contracts and written with orjson, as the handlers write them. ``read`` runs per request
(it raises InputError, a 4xx); ``answer`` per batch, one body per request, in order.
Raw bodies and JSON as the handlers read them; no multipart and no zero-shot labels.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from bench.direct import Cancer, Digits, MiniLM
from contracts import text, vector
from handlers.errors import InputError, error_body, status_of
from handlers.image_wire import image_from_json
from handlers.payload import Payload, media_type, parse_json
from handlers.text_parsing import text_request
from handlers.vector_parsing import rows_from_json

MODELS = ("digits", "cancer", "minilm")
JSON_TYPE = "application/json"

Item = tuple[Any, str]  # a request's body (bytes, or JSON a server parsed) and Content-Type
Answer = tuple[int, bytes]  # its status and JSON body


class Served(Protocol):
    def read(self, body: bytes, content_type: str) -> Any: ...

    def answer(self, items: list[Any]) -> list[bytes]: ...


class DigitsServed:
    def __init__(self) -> None:
        self.model = Digits()

    def read(self, body: bytes, content_type: str) -> Any:
        """The image's grid, decoded here so that a bad image is this request's 4xx: the
        raw body, or base64 in JSON ``{"image": ...}``."""
        payload = Payload(body, media_type(content_type))
        return self.model.grid(image_from_json(parse_json(payload)) if payload.is_json else body)

    def answer(self, items: list[Any]) -> list[bytes]:
        import torch

        answers = self.model.answers(torch.stack(items).unsqueeze(1))
        return [orjson.dumps(answer) for answer in answers]


class CancerServed:
    def __init__(self) -> None:
        self.model = Cancer()

    def read(self, body: bytes, content_type: str) -> list[list[float]]:
        """The request's rows, checked as the vector handler checks them."""
        document = parse_json(Payload(body, media_type(content_type)))
        return rows_from_json(document, self.model.features)

    def answer(self, items: list[list[list[float]]]) -> list[bytes]:
        """All requests' rows in one model call, then one answer per request."""
        import torch

        rows = [row for item in items for row in item]
        probabilities = self.model.probabilities(torch.tensor(rows, dtype=torch.float32))
        bodies, start = [], 0
        for item in items:
            chunk = probabilities[start : start + len(item)].tolist()
            bodies.append(orjson.dumps(vector.answer(self.model.labels, chunk)))
            start += len(item)
        return bodies


class MiniLMServed:
    def __init__(self) -> None:
        self.model = MiniLM()

    def read(self, body: bytes, content_type: str) -> list[str]:
        return text_request(Payload(body, media_type(content_type))).texts

    def answer(self, items: list[list[str]]) -> list[bytes]:
        """All requests' texts in one model call (padded together), one answer each."""
        vectors, truncated = self.model.embed([t for item in items for t in item])
        array = vectors.contiguous().numpy()
        bodies, start = [], 0
        for item in items:
            end = start + len(item)
            answer = text.embedding_answer(array[start:end], truncated[start:end])
            bodies.append(orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY))
            start = end
        return bodies


def served(model: str) -> Served:
    """The model's reader and answerer, its weights loaded."""
    kinds: dict[str, type[Served]] = {
        "digits": DigitsServed,
        "cancer": CancerServed,
        "minilm": MiniLMServed,
    }
    return kinds[model]()


def error(exc: InputError) -> Answer:
    """The status and JSON body a handler answers for a client's mistake."""
    return status_of(exc), error_body(exc).encode()


def answered(model: Served, items: list[Item]) -> list[Answer]:
    """A batch of requests: each read on its own (a mistake is its own 4xx, as in the
    handlers), the rest answered in one model call; one (status, body) per request."""
    read: list[Any] = []
    answers: list[Answer | None] = []
    for body, content_type in items:
        try:
            read.append(model.read(body, content_type))
            answers.append(None)
        except InputError as exc:
            answers.append(error(exc))
    bodies = iter(model.answer(read) if read else [])
    return [answer or (200, next(bodies)) for answer in answers]


def one_thread() -> None:
    """One torch and one BLAS thread per server process: the peers run a process per core,
    as TorchServe's workers and gunicorn's do here."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(limits=1)
