"""The handlers' batch behaviour, driven through TorchServe's own ``handle`` with no server."""

from __future__ import annotations

import json
from typing import Any

import torch
from sklearn.datasets import load_digits
from ts.metrics.dimension import Dimension

from handlers.batched_handler import BatchedHandler
from handlers.image_handler import ImageHandler
from handlers.vector_handler import VectorHandler
from models.cancer_net import CancerNet
from models.digits_net import DigitsNet
from tests.images import render


class FakeMetrics:
    """Records the handler's own metrics as (name, value, unit, dimensions, type)."""

    def __init__(self) -> None:
        self.added: list[tuple[str, float, str, dict[str, str], str]] = []

    def add_time(self, *args: Any, **kwargs: Any) -> None:
        pass

    def add_metric(
        self, name: str, value: float, unit: str, dimensions: list[Any], metric_type: Any
    ) -> None:
        labels = {dimension.name: dimension.value for dimension in dimensions}
        self.added.append((name, value, unit, labels, metric_type.name))


class FakeContext:
    """The parts of ts.context.Context a handler touches, recording what it sets."""

    def __init__(self, headers: list[dict[str, Any]]) -> None:
        self.headers = headers
        self.model_name = "model"
        self.metrics = FakeMetrics()
        self.status: dict[int, int] = {}
        self.content_type: dict[int, str] = {}
        self.response_headers: dict[int, dict[str, str]] = {}

    def get_request_header(self, idx: int, key: str) -> Any:
        return self.headers[idx].get(key)

    def set_response_status(self, code: int = 200, phrase: str = "", idx: int = 0) -> None:
        self.status[idx] = code

    def set_response_content_type(self, idx: int, value: str) -> None:
        self.content_type[idx] = value

    def set_response_header(self, idx: int, key: str, value: str) -> None:
        self.response_headers.setdefault(idx, {})[key] = value


def ready(handler: BatchedHandler, model: torch.nn.Module, metadata: dict[str, Any]) -> Any:
    """A handler as initialize() would leave it, without a model archive."""
    handler.model = model.eval()
    handler.device = torch.device("cpu")
    handler.metadata = metadata
    handler.settings = {"top_k": 3}
    handler.batch_size_labels = [Dimension("ModelName", "model"), Dimension("Level", "Model")]
    handler.initialized = True
    return handler


CANCER = {"labels": ["malignant", "benign"], "input": {"features": [f"f{i}" for i in range(30)]}}
DIGITS = {"labels": [str(d) for d in range(10)]}
JSON_PART = {"body": {"content-type": "application/json"}}


def run(
    handler: BatchedHandler, data: list[dict[str, Any]], headers: list[Any]
) -> tuple[list[Any], FakeContext]:
    context = FakeContext(headers)
    answers = handler.handle(data, context)
    return [json.loads(answer) for answer in answers], context


def test_vector_batch_calls_the_model_once_and_answers_each_request() -> None:
    model = CancerNet()
    calls = []
    model.register_forward_hook(lambda module, args, out: calls.append(args[0].shape[0]))
    handler = ready(VectorHandler(), model, CANCER)
    data: list[dict[str, Any]] = [
        {"body": {"inputs": [[1.0] * 30, [2.0] * 30]}},
        {"body": [3.0] * 30},
    ]
    answers, context = run(handler, data, [JSON_PART, JSON_PART])
    assert calls == [3], "one model call over all three rows"
    assert [len(a["predictions"]) for a in answers] == [2, 1]
    assert context.status == {}
    assert context.response_headers[0] == {"X-Batch-Size": "2", "X-Batch-Rejected": "0"}


def test_bad_request_in_a_batch_fails_alone_with_its_own_status() -> None:
    handler = ready(VectorHandler(), CancerNet(), CANCER)
    data = [
        {"body": {"inputs": [1.0] * 30}},
        {"body": {"inputs": [1.0] * 29}},
        {"body": {"inputs": [1.0] * 30}},
    ]
    answers, context = run(handler, data, [JSON_PART] * 3)
    assert context.status == {1: 400}
    assert answers[1] == {
        "code": 400,
        "type": "InputError",
        "message": "row 0: expected 30 features, got 29",
    }
    assert answers[0] == answers[2] and "predictions" in answers[0]
    assert context.content_type == {
        0: "application/json",
        1: "application/json",
        2: "application/json",
    }
    assert context.response_headers[0]["X-Batch-Rejected"] == "1"


def test_each_batch_records_its_size_once() -> None:
    handler = ready(VectorHandler(), CancerNet(), CANCER)
    _, context = run(handler, [{"body": [1.0] * 30}] * 3, [JSON_PART] * 3)
    assert context.metrics.added == [
        ("BatchSize", 3, "count", {"ModelName": "model", "Level": "Model"}, "HISTOGRAM")
    ]


def test_a_batch_of_only_bad_requests_never_runs_the_model() -> None:
    model = CancerNet()
    model.register_forward_hook(lambda *args: (_ for _ in ()).throw(AssertionError("ran")))
    handler = ready(VectorHandler(), model, CANCER)
    answers, context = run(handler, [{"body": b"[1, 2"}], [{"body": {"content-type": ""}}])
    assert context.status == {0: 400}
    assert answers[0]["message"].startswith("body is not valid JSON")


def test_image_batch_mixes_formats_and_errors() -> None:
    seven = render(load_digits().images[7], 64)
    handler = ready(ImageHandler(), DigitsNet(), DIGITS)
    data = [{"body": seven}, {"data": b"GIF89a-not-really"}, {"data": seven}]
    headers = [
        {"body": {"content-type": "image/png"}},
        {"data": {"content-type": "image/gif"}},
        {"data": {"content-type": "image/png"}},
    ]
    answers, context = run(handler, data, headers)
    assert context.status == {1: 400}
    assert answers[1]["message"] == "image could not be decoded as PNG or JPEG"
    assert answers[0] == answers[2]
    assert len(answers[0]["top_k"]) == 3
    probabilities = [entry["probability"] for entry in answers[0]["top_k"]]
    assert probabilities == sorted(probabilities, reverse=True)
    assert answers[0]["label"] == answers[0]["top_k"][0]["label"]


def test_describe_returns_the_build_metadata() -> None:
    handler = ready(VectorHandler(), CancerNet(), CANCER)
    assert handler.describe_handle() is CANCER
