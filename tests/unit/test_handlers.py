"""The handlers' batch behaviour, served as a TorchServe worker serves them (TorchServe's own
``Context``, loader and ``handle``) from a model folder built here: no archive, no server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sklearn.datasets import load_digits

from contracts.metadata import Metadata
from handlers.image_handler import ImageHandler
from handlers.vector_handler import VectorHandler
from models.cancer_net import CancerNet
from models.digits_net import DigitsNet
from tests.handler_support import JSON, Worker, model_folder, part
from tests.images import render

CANCER: Metadata = {
    "kind": "vector",
    "labels": ["malignant", "benign"],
    "input": {"features": [f"f{i}" for i in range(30)]},
}
DIGITS: Metadata = {"kind": "image", "labels": [str(d) for d in range(10)], "top_k": 3}


def cancer_worker(tmp_path: Path, handler: VectorHandler | None = None) -> Worker:
    """``handler`` (a VectorHandler by default) serving an untrained cancer model."""
    folder = model_folder(tmp_path, "cancer", CancerNet(), CANCER)
    return Worker(handler or VectorHandler(), folder)


def test_vector_batch_calls_the_model_once_and_answers_each_request(tmp_path: Path) -> None:
    worker = cancer_worker(tmp_path)
    calls = []
    worker.handler.model.register_forward_hook(
        lambda module, args, out: calls.append(args[0].shape[0])
    )
    answers = worker.handle([[part({"inputs": [[1.0] * 30, [2.0] * 30]})], [part([3.0] * 30)]])
    assert calls == [3], "one model call over all three rows"
    assert [len(a["predictions"]) for a in answers] == [2, 1]
    assert worker.statuses() == [200, 200]
    assert worker.context.get_response_headers(0) == {
        "content-type": JSON,
        "X-Batch-Size": "2",
        "X-Batch-Rejected": "0",
    }


def test_bad_request_in_a_batch_fails_alone_with_its_own_status(tmp_path: Path) -> None:
    worker = cancer_worker(tmp_path)
    answers = worker.handle(
        [
            [part({"inputs": [1.0] * 30})],
            [part({"inputs": [1.0] * 29})],
            [part({"inputs": [1.0] * 30})],
        ]
    )
    assert worker.statuses() == [200, 400, 200]
    assert worker.context.get_response_status(1) == (400, "Bad Request")
    assert answers[1] == {
        "code": 400,
        "type": "InputError",
        "message": "row 0: expected 30 features, got 29",
    }
    assert answers[0] == answers[2] and "predictions" in answers[0]
    assert [worker.context.get_response_content_type(i) for i in range(3)] == [JSON] * 3
    assert worker.context.get_response_headers(0)["X-Batch-Rejected"] == "1"


def test_each_batch_records_its_size_once(tmp_path: Path) -> None:
    worker = cancer_worker(tmp_path)
    worker.handler.metrics_interval = 0  # send after every batch (default: once a second)
    worker.handle([[part([1.0] * 30)]] * 3)
    # The lines the frontend reads: a histogram's cumulative buckets, one per size up to
    # the model's batchSize (32), sent as gauges of this worker's totals.
    buckets = {m[3]["le"]: m[1] for m in worker.recorded("ts_handler_batch_size_bucket")}
    assert list(buckets) == [f"{size}.0" for size in range(1, 33)] + ["+Inf"]
    assert buckets["2.0"] == 0 and buckets["3.0"] == 1 and buckets["+Inf"] == 1
    (count,) = worker.recorded("ts_handler_batch_size_count")
    assert count[1:3] == (1, "Count") and count[4] == "GAUGE"
    assert set(count[3]) == {"model_name", "model_version", "worker"}
    assert (count[3]["model_name"], count[3]["model_version"]) == ("cancer", "1.0")


def test_a_batch_of_only_bad_requests_never_runs_the_model(tmp_path: Path) -> None:
    worker = cancer_worker(tmp_path)
    worker.handler.model.register_forward_hook(
        lambda *args: (_ for _ in ()).throw(AssertionError("ran"))
    )
    answers = worker.handle([[part(b"[1, 2", content_type="")]])
    assert worker.statuses() == [400]
    assert answers[0]["message"].startswith("body is not valid JSON")


def test_image_batch_mixes_formats_and_errors(tmp_path: Path) -> None:
    seven = render(load_digits().images[7], 64)
    worker = Worker(ImageHandler(), model_folder(tmp_path, "digits", DigitsNet(), DIGITS))
    answers: list[Any] = worker.handle(
        [
            [part(seven, "image/png")],
            [part(b"GIF89a-not-really", "image/gif", name="data")],
            [part(seven, "image/png", name="data")],
        ]
    )
    assert worker.statuses() == [200, 400, 200]
    assert answers[1]["message"] == "image could not be decoded as PNG or JPEG"
    assert answers[0] == answers[2]
    assert len(answers[0]["top_k"]) == 3
    probabilities = [entry["probability"] for entry in answers[0]["top_k"]]
    assert probabilities == sorted(probabilities, reverse=True)
    assert answers[0]["label"] == answers[0]["top_k"][0]["label"]


def test_describe_returns_the_build_metadata(tmp_path: Path) -> None:
    worker = cancer_worker(tmp_path)
    # The frontend's describe call (GET /models/<m>?customized=true): a request header.
    assert worker.handle([[]], headers={"describe": "True"}) == [CANCER]
