"""LitServe serving the three models, a benchmark peer (build/venv-litserve; make bench-peers).

    build/venv-litserve/bin/python -m bench.litserve_app --port 8000 [--models ...]

One LitAPI per model at /predictions/<model>, tuned as LitServe's docs advise for CPU: a
worker process per core (``workers_per_device``), each with one torch thread; dynamic
batching with the batch size and delay this project's TorchServe uses for the model
(config/models/<name>.yaml, read from its archive); the ZeroMQ queue (``fast_queue``);
one API server process per worker (LitServe's default). LitServe hands ``decode_request``
the body parsed as JSON (0.2.19: ``request.json()`` unless a form), so it is sent each
input in the model contract's JSON form (bench/workloads.py ``json_bodies``); the inputs
are read, the models called and the answers written by bench/serving.py, as for every
Python peer. GET /health is 200 once every worker has loaded its model.
"""

# No `from __future__ import annotations`: LitServe compares decode_request's annotation
# with the Request class itself (inspect.signature), and a string would not match.
import argparse
from typing import Any

import litserve as ls
from fastapi import Request, Response

from bench.contestants import CORES, model_settings
from bench.serving import JSON_TYPE, MODELS, Answer, Served, answered, one_thread, served
from server.settings import HOST


class ModelAPI(ls.LitAPI):
    """One model: each request read on its own (a mistake is that request's 4xx), the
    batch answered in one model call. The reading is done in ``predict``, not in
    ``decode_request``: LitServe answers an exception raised in any hook of a batched
    loop to the whole batch, which would fail a bad request's batch-mates too."""

    def __init__(self, model: str) -> None:
        settings = model_settings(model)
        super().__init__(
            max_batch_size=settings["batchSize"],
            batch_timeout=settings["maxBatchDelay"] / 1000,
            api_path=f"/predictions/{model}",
        )
        self.model = model
        self.served: Served | None = None

    def setup(self, device: str) -> None:
        one_thread()
        self.served = served(self.model)

    def decode_request(self, request: Request) -> Any:
        # Annotated Request, LitServe reads the body as JSON and passes the parsed value.
        return request

    def batch(self, inputs: list[Any]) -> list[Any]:
        return inputs  # the models take a list of requests' inputs

    def predict(self, documents: list[Any]) -> list[Answer]:
        assert self.served is not None, "setup() loads the model first"
        return answered(self.served, [(document, JSON_TYPE) for document in documents])

    def unbatch(self, output: list[Answer]) -> list[Answer]:
        return output

    def encode_response(self, output: Answer) -> Response:
        status, body = output
        return Response(body, status_code=status, media_type=JSON_TYPE)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    args = parser.parse_args(argv)
    server = ls.LitServer(
        [ModelAPI(model) for model in args.models],
        accelerator="cpu",
        workers_per_device=CORES,
        fast_queue=True,
        timeout=60,
    )
    server.run(host=HOST, port=args.port, log_level="warning", generate_client_file=False)


if __name__ == "__main__":
    main()
