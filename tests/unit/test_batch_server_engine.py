"""The server engine against a stub HTTP server: retries, token, refusals."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from batch.archive import Archive
from batch.calls import Reply, Request
from batch.errors import BatchError
from batch.server_engine import ServerEngine

ARCHIVE = Archive(Path("cancer.mar"), "cancer", "1.0", "vector_handler.py", "vector", "0" * 64, {})
REQUEST = Request(b'{"inputs": [[1.0]]}', "application/json")
ANSWER = {"predictions": [{"label": "benign"}]}


class Stub(ThreadingHTTPServer):
    """Answers POSTs with the scripted (status, body) pairs in turn; records each request."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), StubHandler)
        self.script: list[tuple[int, Any]] = []
        self.ping: tuple[int, Any] = (200, {"status": "Healthy"})
        self.seen: list[tuple[str, dict[str, str], bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class StubHandler(BaseHTTPRequestHandler):
    server: Stub

    def do_GET(self) -> None:
        self._answer(*self.server.ping)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.seen.append((self.path, dict(self.headers), body))
        self._answer(*self.server.script.pop(0))

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass  # keep the test output clean


@pytest.fixture
def stub() -> Iterator[Stub]:
    server = Stub()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def engine(stub: Stub, retries: int = 3) -> ServerEngine:
    return ServerEngine(stub.url, ARCHIVE, "secret", retries=retries, backoff=0.01)


def test_503_is_retried_until_answered(stub: Stub) -> None:
    busy = {"code": 503, "type": "ServiceUnavailableException", "message": "queue full"}
    stub.script = [(503, busy), (503, busy), (200, ANSWER)]
    (reply,) = engine(stub).call([REQUEST])
    assert (reply.status, reply.body) == (200, ANSWER)
    assert len(stub.seen) == 3, "two retries"
    path, headers, body = stub.seen[-1]
    assert path == "/predictions/cancer/1.0", "the archive's version, pinned in the URL"
    assert headers["Authorization"] == "Bearer secret"
    assert headers["Content-Type"] == "application/json"
    assert body == REQUEST.body


@pytest.mark.parametrize("status", [507, 500])
def test_a_request_whose_worker_died_is_resent(stub: Stub, status: int) -> None:
    died = {"code": status, "type": "InternalServerException", "message": "Worker died."}
    stub.script = [(status, died), (200, ANSWER)]
    (reply,) = engine(stub).call([REQUEST])
    assert (reply.status, reply.body) == (200, ANSWER)
    assert [seen[2] for seen in stub.seen] == [REQUEST.body] * 2, "the same request, once more"


def test_a_worker_death_that_outlasts_the_retries_is_the_reply(stub: Stub) -> None:
    died = {"code": 507, "type": "InternalServerException", "message": "Worker died."}
    stub.script = [(507, died)] * 3
    (reply,) = engine(stub, retries=2).call([REQUEST])
    assert reply == Reply(507, died, reply.seconds)
    assert len(stub.seen) == 3, "one try and two retries"


def test_a_handler_failure_is_the_reply_at_once(stub: Stub) -> None:
    # The handler ran and raised: the model's answer, not resent (the runner retries the
    # input alone at the end of the run, docs/batch.md).
    failed = {"code": 503, "type": "InternalServerException", "message": "Prediction failed"}
    stub.script = [(503, failed), (200, ANSWER)]
    (reply,) = engine(stub).call([REQUEST])
    assert reply == Reply(503, failed, reply.seconds)
    assert reply.message == "Prediction failed"
    assert len(stub.seen) == 1


def test_a_client_error_is_not_retried(stub: Stub) -> None:
    refused = {"code": 400, "type": "InputError", "message": "row 0: expected 30 features, got 1"}
    stub.script = [(400, refused)]
    (reply,) = engine(stub).call([REQUEST])
    assert (reply.status, reply.message) == (400, "row 0: expected 30 features, got 1")
    assert len(stub.seen) == 1


def test_a_refused_token_stops_the_run_before_it_starts(stub: Stub) -> None:
    refused = {"code": 400, "type": "InvalidKeyException", "message": "Token Authorization failed"}
    stub.ping = (400, refused)
    with pytest.raises(BatchError) as caught:
        engine(stub)
    assert str(caught.value) == (
        f"TorchServe at {stub.url}: 400 InvalidKeyException: Token Authorization failed "
        "(token: the token given to the client)"
    )


def test_a_model_version_the_server_lacks_stops_the_run(stub: Stub) -> None:
    missing = {"code": 404, "type": "ModelNotFoundException", "message": "Model not found: cancer"}
    stub.script = [(404, missing)]
    with pytest.raises(BatchError) as caught:
        engine(stub).call([REQUEST])
    assert str(caught.value) == (
        f"TorchServe refused {stub.url}/predictions/cancer/1.0: "
        "404 ModelNotFoundException: Model not found: cancer"
    )


def test_without_a_token_it_comes_from_the_servers_key_file(
    stub: Stub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TSERVE_TOKEN", raising=False)
    monkeypatch.setenv("TSERVE_RUN_DIR", str(tmp_path))
    keys = {"inference": {"key": "from-file"}, "management": {"key": "not-this"}}
    (tmp_path / "key_file.json").write_text(json.dumps(keys))
    stub.script = [(200, ANSWER)]
    ServerEngine(stub.url, ARCHIVE).call([REQUEST])
    assert stub.seen[0][1]["Authorization"] == "Bearer from-file"
