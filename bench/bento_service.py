"""BentoML serving the three models, a benchmark peer (build/venv-bentoml; make bench-peers).

    build/venv-bentoml/bin/python -m bench.bento_service --port 3000

One service, an API per model at /predictions/<model>, tuned as BentoML's docs advise for
CPU: a worker process per core (``workers``), one torch thread each, adaptive batching
(``batchable``, ``max_batch_size`` = the model's batchSize in this project's TorchServe;
``max_latency_ms`` BentoML's default, past which it refuses rather than queues), no access
log line per request (as no contestant writes one). The body is read raw, as TorchServe
hands it to a handler (``Body``, a BentoML IODescriptor), so BentoML is sent what
TorchServe is; the inputs are read, the models called and the answers written by
bench/serving.py, as for every Python peer. GET /readyz is 200 once the models are loaded.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import bentoml
from starlette.requests import Request
from starlette.responses import Response

from bench.contestants import CORES, model_settings
from bench.serving import JSON_TYPE, MODELS, Answer, Item, answered, one_thread, served
from server.settings import HOST


class Body(bentoml.IODescriptor):
    """A request's raw body and Content-Type, as one item of a batchable API's list."""

    items: list[Item]

    @classmethod
    async def from_http_request(cls, request: Request, serde: Any) -> Body:
        return cls(items=[(await request.body(), request.headers.get("content-type", ""))])


class Answered(bentoml.IODescriptor):
    """The request's answer: its status and JSON body as bench/serving.py wrote them."""

    @classmethod
    async def to_http_response(cls, obj: Any, serde: Any) -> Response:
        status, body = obj[0]  # a batchable API answers each request a list of one
        return Response(body, status_code=status, media_type=JSON_TYPE)


def api(model: str) -> Any:
    """The batchable API of ``model`` at /predictions/<model>."""

    def predict(self: Models, items: list[Item]) -> list[Answer]:
        return answered(self.models[model], items)

    predict.__name__ = model
    return bentoml.api(
        route=f"/predictions/{model}",
        input_spec=Body,
        output_spec=Answered,
        batchable=True,
        max_batch_size=model_settings(model)["batchSize"],
    )(predict)


@bentoml.service(
    workers=CORES,
    threads=1,
    logging={"access": {"enabled": False}},
)
class Models:
    def __init__(self) -> None:
        one_thread()
        self.models = {model: served(model) for model in MODELS}

    digits = api("digits")
    cancer = api("cancer")
    minilm = api("minilm")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    args = parser.parse_args(argv)  # every model is served; --models as the other peers take
    command = [
        str(Path(sys.executable).with_name("bentoml")),
        "serve",
        "bench.bento_service:Models",
    ]
    os.execv(command[0], [*command, "--host", HOST, "--port", str(args.port)])


if __name__ == "__main__":
    main()
