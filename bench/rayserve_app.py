"""Ray Serve serving the three models, a benchmark peer (build/venv-rayserve; make bench-peers).

    build/venv-rayserve/bin/python -m bench.rayserve_app --port 8000 [--models ...]

A local Ray (``ray.init``, this machine's cores) and Serve's HTTP proxy on ``--port``; an
application per model at /predictions/<model>, tuned as Ray Serve's docs advise for CPU: a
replica per core (``num_replicas``), one torch thread each, ``@serve.batch`` with the batch
size and wait this project's TorchServe uses for the model. The body is read raw, as
TorchServe hands it to a handler; the inputs are read, the models called and the answers
written by bench/serving.py, as for every Python peer. GET /bench-ready is 200 once every
application is deployed (``serve.run`` returns when its replicas are healthy).
"""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

import ray
from ray import serve
from starlette.requests import Request
from starlette.responses import Response

from bench.contestants import CORES, model_settings
from bench.serving import JSON_TYPE, MODELS, Answer, Item, answered, one_thread, served
from server.settings import HOST

READY_ROUTE = "/bench-ready"


@serve.deployment(ray_actor_options={"num_cpus": 0})  # threads are capped in the replica
class ModelDeployment:
    def __init__(self, model: str) -> None:
        one_thread()
        self.served = served(model)
        settings = model_settings(model)
        batch: Any = self.batch  # @serve.batch's wrapper, whose settings change at runtime
        batch.set_max_batch_size(settings["batchSize"])
        batch.set_batch_wait_timeout_s(settings["maxBatchDelay"] / 1000)

    @serve.batch
    async def batch(self, items: list[Item]) -> list[Answer]:
        return answered(self.served, items)

    async def __call__(self, request: Request) -> Response:
        item = (await request.body(), request.headers.get("content-type", ""))
        status, body = await self.batch(item)
        return Response(body, status_code=status, media_type=JSON_TYPE)


@serve.deployment(ray_actor_options={"num_cpus": 0})
class Ready:
    async def __call__(self, request: Request) -> dict[str, Any]:
        return {"status": "ready"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ray.init(num_cpus=CORES, include_dashboard=False, log_to_driver=False)
    try:
        serve.start(http_options={"host": HOST, "port": args.port})
        deployment: Any = ModelDeployment  # a serve Deployment, not the class, once decorated
        for model in args.models:
            app = deployment.options(name=model, num_replicas=CORES).bind(model)
            serve.run(app, name=model, route_prefix=f"/predictions/{model}")
        ready: Any = Ready
        serve.run(ready.bind(), name="ready", route_prefix=READY_ROUTE)
        stop.wait()
    finally:
        serve.shutdown()
        ray.shutdown()


if __name__ == "__main__":
    main()
