"""A worker's CPU per request, in this process: what TorchServe's Python side spends.

    python -m profiling.in_worker --model digits [--batch 1] [--requests 2000] [--profile]

Loads the model from its real archive (model_store/<model>.mar) with TorchServe's own loader
(ts/model_loader.py, the worker's metrics cache), then calls ``Service.predict`` on batches
of the bench's request body, built as the frontend's message reaches the worker, and encodes
the reply as the worker does (``create_predict_response``). Prints the time per request
of: the whole worker step, the handler's ``handle``, the decoding alone (for digits), and
with ``--profile`` the functions that take the most (cProfile, cumulative).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import logging
import os
import pstats
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.workloads import WORKLOADS
from server.settings import MODEL_STORE


def load(model: str, folder: Path) -> Any:
    import ts
    from ts.metrics.metric_cache_yaml_impl import MetricsCacheYamlImpl
    from ts.model_loader import ModelLoaderFactory

    with zipfile.ZipFile(MODEL_STORE / f"{model}.mar") as archive:
        archive.extractall(folder)
    metrics = MetricsCacheYamlImpl(str(Path(ts.__file__).parent / "configs" / "metrics.yaml"))
    metrics.initialize_cache()
    manifest = json.loads((folder / "MAR-INF" / "MANIFEST.json").read_text())
    loader = ModelLoaderFactory.get_model_loader()
    handler = manifest["model"]["handler"]
    return loader.load(model, str(folder), handler, None, 32, metrics_cache=metrics)


def batch_of(model: str, size: int) -> list[dict[str, Any]]:
    """A PREDICT batch as ts/protocol/otf_message_handler.py hands it to Service.predict."""
    workload = WORKLOADS[model]
    return [
        {
            "requestId": f"req-{index}".encode(),
            "parameters": [
                {
                    "name": "body",
                    "contentType": workload.content_type,
                    "value": bytearray(workload.bodies[index % len(workload.bodies)]),
                }
            ],
            "headers": [
                {"name": b"Content-Type", "value": workload.content_type.encode()},
                {"name": b"Host", "value": b"127.0.0.1:8080"},
                {"name": b"User-Agent", "value": b"wrk"},
                {"name": b"body", "value": workload.content_type.encode()},
            ],
        }
        for index in range(size)
    ]


def per_request(step: Any, requests: int, batch: int) -> float:
    """Microseconds of ``step()`` per request."""
    rounds = max(1, requests // batch)
    began = time.perf_counter()
    for _ in range(rounds):
        step()
    return (time.perf_counter() - began) / (rounds * batch) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(WORKLOADS), default="digits")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    # The worker logs at INFO (its stdout goes to the frontend): keep that cost, not the text.
    logging.basicConfig(handlers=[logging.NullHandler()], level=logging.INFO, force=True)
    with tempfile.TemporaryDirectory(prefix="inworker-") as folder:
        sys.path.insert(0, folder)
        service = load(args.model, Path(folder))
        service.set_cl_socket(None)
        batch = batch_of(args.model, args.batch)
        handler = service._entry_point.__self__
        headers, data, ids = service.retrieve_data_for_inference(batch)

        def worker_step() -> None:
            service.predict(batch)  # the reply's bytes are built inside (create_predict_response)

        def handle() -> None:
            service.context.request_ids = ids
            service.context.request_processor = headers
            handler.handle(data, service.context)

        for _ in range(200):
            worker_step()
        steps: dict[str, tuple[Callable[[], object], int]] = {
            "worker step (Service.predict + reply)": (worker_step, args.batch)
        }
        steps["handler.handle"] = (handle, args.batch)
        if args.model == "digits":
            from handlers.digit_features import image_to_grid
            from handlers.image_wire import decode_image

            body = WORKLOADS["digits"].bodies[0]
            steps["decoding (PNG -> 8x8 grid)"] = (lambda: image_to_grid(decode_image(body)), 1)
        print(f"{args.model}, batch {args.batch}, per request (best of 5):")
        for name, (step, size) in steps.items():
            best = min(per_request(step, args.requests, size) for _ in range(5))
            print(f"  {name:40} {best:8.1f} us")
        if args.profile:
            profile = cProfile.Profile()
            for _ in range(args.requests // args.batch):
                profile.runcall(worker_step)
            pstats.Stats(profile).sort_stats("cumulative").print_stats(35)


if __name__ == "__main__":
    main()
