"""The client's request building, retries and error mapping, against a stub server.

The stub is a few lines of ``http.server`` on a free loopback port: it answers each request
with the next status in its script and records what arrived, so retries are counted, not
assumed.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from client.api import MODEL_API_OFF, OWN_STORE_ONLY, Client, prediction_body
from client.errors import (
    BadInputError,
    NotAllowedError,
    NotFoundError,
    ServerFaultError,
    TransportError,
    WorkerDiedError,
)
from client.tokens import TokenSource
from contracts.image import content_type as image_content_type
from server.settings import free_ports
from tests.unit.test_client_archives import mar

OK = {"predictions": [{"label": "benign"}]}
BUSY = {"code": 503, "type": "ServiceUnavailableException", "message": "Model busy"}
# What TorchServe 0.12 answered each request of a batch whose worker was SIGKILLed
# (measured, docs/client.md): 507, or 500 when the frontend had not reaped the worker yet.
DIED_507 = {"code": 507, "type": "InternalServerException", "message": "Worker died."}
DIED_500 = {"code": 500, "type": "InternalServerException", "message": "Worker died."}
FAILED = {"code": 503, "type": "InternalServerException", "message": "Prediction failed"}
NO_MEMORY = {"code": 507, "type": "InternalServerException", "message": "Out of resources"}


class Stub(ThreadingHTTPServer):
    """Answers with ``script`` in order (the last entry repeats); keeps what it received."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), StubHandler)
        self.script: list[tuple[int, dict[str, Any]]] = [(200, OK)]
        self.received: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class StubHandler(BaseHTTPRequestHandler):
    server: Stub

    def answer(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.server.received.append(
            {
                "method": self.command,
                "path": self.path,
                "headers": dict(self.headers),
                "body": self.rfile.read(length),
            }
        )
        script = self.server.script
        status, body = script.pop(0) if len(script) > 1 else script[0]
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = answer

    def log_message(self, *args: Any) -> None:  # keep pytest output clean
        pass


@pytest.fixture
def stub() -> Iterator[Stub]:
    server = Stub()
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def client_of(stub: Stub, **kwargs: Any) -> Client:
    tokens = TokenSource("inf-key", "mgmt-key", env={})
    return Client(stub.url, stub.url, stub.url, tokens=tokens, backoff=0.01, **kwargs)


def test_503_is_retried_until_an_answer(stub: Stub) -> None:
    stub.script = [(503, BUSY), (503, BUSY), (200, OK)]
    assert client_of(stub, retries=3).predict("cancer", vector=[1.0] * 30) == OK
    assert len(stub.received) == 3
    assert all(r["body"] == stub.received[0]["body"] for r in stub.received), "same body resent"


def test_503_after_the_last_retry_is_a_server_fault(stub: Stub) -> None:
    stub.script = [(503, BUSY)]
    with pytest.raises(ServerFaultError) as caught:
        client_of(stub, retries=2).predict("cancer", vector=[1.0] * 30)
    assert str(caught.value) == "503 ServiceUnavailableException: Model busy"
    assert len(stub.received) == 3, "one try and two retries"


@pytest.mark.parametrize("died", [DIED_507, DIED_500], ids=["507", "500"])
def test_a_worker_death_is_resent_with_the_same_request(stub: Stub, died: dict[str, Any]) -> None:
    stub.script = [(died["code"], died), (200, OK)]
    client = client_of(stub, retries=3)
    assert client.predict("digits", image=b"\x89PNG\r\n\x1a\n...") == OK
    first, again = stub.received
    assert again["body"] == first["body"], "the same body resent"
    assert again["headers"]["Content-Type"] == "image/png", "headers kept on the resend"
    assert again["headers"]["Authorization"] == "Bearer inf-key"
    assert client.retried == {f"{died['code']} Worker died.": 1}


def test_a_worker_death_after_the_last_retry_is_a_worker_died_error(stub: Stub) -> None:
    stub.script = [(507, DIED_507)]
    with pytest.raises(WorkerDiedError, match=r"^507 InternalServerException: Worker died\.$"):
        client_of(stub, retries=2).predict("cancer", vector=[1.0] * 30)
    assert len(stub.received) == 3, "one try and two retries"


def test_no_retries_means_one_attempt(stub: Stub) -> None:
    stub.script = [(507, DIED_507), (200, OK)]
    with pytest.raises(WorkerDiedError):
        client_of(stub, retries=0).predict("cancer", vector=[1.0] * 30)
    assert len(stub.received) == 1


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (500, {"code": 500, "type": "X", "message": "no"}, ServerFaultError),
        (503, FAILED, ServerFaultError),  # the handler ran and raised: that is its answer
        (507, NO_MEMORY, ServerFaultError),  # resending would run out of memory again
        (400, {"code": 400, "type": "X", "message": "no"}, BadInputError),
        (404, {"code": 404, "type": "X", "message": "no"}, NotFoundError),
        (413, {"code": 413, "type": "X", "message": "Worker died."}, BadInputError),  # a 4xx
    ],
    ids=["500", "503-prediction-failed", "507-out-of-resources", "400", "404", "413"],
)
def test_other_errors_are_not_retried(
    stub: Stub, status: int, body: dict[str, Any], error: type[Exception]
) -> None:
    stub.script = [(status, body), (200, OK)]
    with pytest.raises(error) as caught:
        client_of(stub).predict("cancer", vector=[1.0] * 30)
    assert type(caught.value) is error
    assert len(stub.received) == 1, "not resent"


def test_backoff_doubles_with_jitter_below_one_backoff() -> None:
    client = Client(tokens=TokenSource(env={}), env={}, backoff=0.5)
    for attempt, base in enumerate([0.5, 1.0, 2.0]):
        delays = [client.delay(attempt) for _ in range(200)]
        assert all(base <= d <= base + 0.5 for d in delays), (attempt, min(delays), max(delays))
        assert len(set(delays)) > 1, "jittered"


def test_each_api_gets_its_own_token(stub: Stub) -> None:
    client = client_of(stub)
    client.predict("cancer", vector=[1.0])
    stub.script = [(200, {"models": []})]
    client.list_models()
    client.metrics()
    auth = [r["headers"].get("Authorization") for r in stub.received]
    assert auth == ["Bearer inf-key", "Bearer mgmt-key", None]


def test_calls_build_torchserve_urls(stub: Stub) -> None:
    client = client_of(stub)
    stub.script = [(200, {"status": "ok"})]
    client.predict("digits", image=b"\x89PNG\r\n\x1a\n...", version="2.0")
    client.register("cancer-2.0.mar", batch_size=8, max_batch_delay=20, initial_workers=1)
    client.scale("digits", 2)
    client.set_default("cancer", "2.0")
    client.unregister("cancer", "1.0")
    client.describe("a/b", customized=True)
    client.metrics(["ts_inference_requests_total"])
    assert [(r["method"], r["path"]) for r in stub.received] == [
        ("POST", "/predictions/digits/2.0"),
        (
            "POST",
            "/models?url=cancer-2.0.mar&batch_size=8&max_batch_delay=20&initial_workers=1"
            "&synchronous=true",
        ),
        ("PUT", "/models/digits?min_worker=2&max_worker=2&synchronous=true"),
        ("PUT", "/models/cancer/2.0/set-default"),
        ("DELETE", "/models/cancer/1.0"),
        ("GET", "/models/a%2Fb?customized=true"),  # a name cannot reach another path
        ("GET", "/metrics?name%5B%5D=ts_inference_requests_total"),
    ]
    assert stub.received[0]["headers"]["Content-Type"] == "image/png"


@pytest.mark.parametrize(("low", "high"), [(-1, None), (-1, 2), (3, 2)])
def test_scale_refuses_a_range_that_is_not_one(stub: Stub, low: int, high: int | None) -> None:
    with pytest.raises(ValueError, match=r"0 <= min <= max, got min=-?\d+ max=-?\d+"):
        client_of(stub).scale("digits", low, high)
    assert stub.received == [], "nothing may reach the server"


def test_list_models_follows_pages(stub: Stub) -> None:
    stub.script = [
        (200, {"models": [{"modelName": "a"}], "nextPageToken": "1"}),
        (200, {"models": [{"modelName": "b"}]}),
    ]
    assert [m["modelName"] for m in client_of(stub).list_models()] == ["a", "b"]
    assert [r["path"] for r in stub.received] == [
        "/models?limit=100",
        "/models?limit=100&next_page_token=1",
    ]


def test_no_server_is_a_transport_error_at_once() -> None:
    (port,) = free_ports(1)
    client = Client(f"http://127.0.0.1:{port}", tokens=TokenSource(env={}), env={})
    with pytest.raises(TransportError, match="cannot connect"):
        client.predict("cancer", vector=[1.0])


def test_urls_come_from_the_environment_else_the_defaults() -> None:
    client = Client(env={"TSERVE_MANAGEMENT_URL": "http://10.0.0.1:9081/"})
    assert (client.inference_url, client.management_url, client.metrics_url) == (
        "http://127.0.0.1:8080",
        "http://10.0.0.1:9081",
        "http://127.0.0.1:8082",
    )


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        (b"\x89PNG\r\n\x1a\nrest", "image/png"),
        (b"\xff\xd8\xff\xe0rest", "image/jpeg"),
        (b"GIF89a", "application/octet-stream"),
    ],
)
def test_image_type_from_magic_bytes(data: bytes, media_type: str) -> None:
    assert image_content_type(data) == media_type


def test_prediction_bodies(tmp_path: Path) -> None:
    png = tmp_path / "seven.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\nrest")
    assert prediction_body(image=png) == {
        "data": png.read_bytes(),
        "headers": {"Content-Type": "image/png"},
    }
    assert prediction_body(text="hi") == {"json": {"text": "hi"}}
    assert prediction_body(text=["a", "b"]) == {"json": {"inputs": ["a", "b"]}}
    assert prediction_body(text="hi", labels=("x", "y")) == {
        "json": {"text": "hi", "labels": ["x", "y"]}
    }
    assert prediction_body(vector=(1, 2)) == {"json": {"inputs": [1, 2]}}
    assert prediction_body(document=[1, 2]) == {"json": [1, 2]}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, r"exactly one of image, text, vector, document; got \[\]"),
        ({"text": "a", "vector": [1]}, r"got \['text', 'vector'\]"),
        ({"vector": [1], "labels": ["x"]}, "labels go with text"),
    ],
)
def test_prediction_body_needs_exactly_one_input(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        prediction_body(**kwargs)


def test_an_image_in_memory_is_sent_as_png() -> None:
    pixels = np.zeros((8, 8), dtype=np.uint8)
    pixels[2:6, 3] = 255
    for image in (pixels, Image.fromarray(pixels), np.stack([pixels] * 3, axis=-1)):
        body = prediction_body(image=image)
        assert body["headers"] == {"Content-Type": "image/png"}, type(image)
        decoded = np.asarray(Image.open(io.BytesIO(body["data"])).convert("L"))
        assert (decoded == pixels).all(), type(image)
    with pytest.raises(TypeError, match="got dict"):
        prediction_body(image={"not": "an image"})


def test_register_sends_the_copy_by_name(stub: Stub, tmp_path: Path) -> None:
    store = tmp_path / "model_store"
    store.mkdir()
    local = mar(tmp_path / "v2" / "cancer.mar")
    seen: list[Any] = []
    client = client_of(stub)
    stub.script = [(200, {"status": "ok"})]
    register = client._registration

    def spy(url: str, params: dict[str, Any]) -> dict[str, Any]:
        seen.append((url, (store / url).exists()))
        return register(url, params)

    client._registration = spy  # type: ignore[method-assign]
    assert client.register(local, model_name="v2", model_store=store) == {"status": "ok"}
    assert seen == [("cancer-2.0.mar", True)], "in the store while TorchServe reads it"
    assert [r["path"] for r in stub.received] == [
        "/models?url=cancer-2.0.mar&model_name=v2&synchronous=true"
    ]
    assert list(store.iterdir()) == []


def test_registration_refusals_name_the_cure(stub: Stub) -> None:
    off = {"code": 405, "type": "MethodNotAllowedException", "message": "Requested method..."}
    stub.script = [(405, off)]
    client = client_of(stub)
    for call in (lambda: client.register("cancer.mar"), lambda: client.unregister("cancer")):
        with pytest.raises(NotAllowedError) as caught:
            call()
        assert caught.value.message == "Requested method...", "the server's words kept"
        assert (
            str(caught.value)
            == f"405 MethodNotAllowedException: Requested method... ({MODEL_API_OFF})"
        )
    url = "https://example.com/cancer.mar"
    outside = {
        "code": 404,
        "type": "ModelNotFoundException",
        "message": f"Given URL {url} does not match any allowed URL(s)",
    }
    stub.script = [(404, outside)]
    with pytest.raises(NotFoundError) as outside_url:
        client.register(url)
    assert str(outside_url.value).endswith(f"({OWN_STORE_ONLY})"), outside_url.value
    unknown = {
        "code": 404,
        "type": "ModelNotFoundException",
        "message": "Model not found in model store: x.mar",
    }
    stub.script = [(404, unknown)]
    with pytest.raises(NotFoundError) as not_in_store:
        client.register("x.mar")
    assert str(not_in_store.value) == f"404 ModelNotFoundException: {unknown['message']}"
