"""The front door (HAProxy) in front of a real TorchServe: keys, health, hostile HTTP, limits.

Most tests use the session's server; the ones that need other keys, tight limits or a
model taken down start a small server of their own (cancer and minilm only).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from server.api_keys import digest
from server.door import KEY_MAX_INFLIGHT
from server.launcher import TorchServe, local_url
from server.settings import API_KEYS_ENV, EXAMPLES, KEY_MAX_INFLIGHT_ENV, KEY_RATE_LIMIT_ENV
from tests.integration.conftest import Api, running_server

KEYS = ["first-key-for-tests-0123456789", "second-key-for-tests-0123456789"]
RATE_LIMIT = 20  # requests per second per key on the `keyed` server
CANCER_ROW = json.dumps({"inputs": [14.0] * 30}).encode()


def door_address(server: TorchServe) -> tuple[str, int]:
    host, port = local_url(server.inference_url).rsplit("//", 1)[1].split(":")
    return host, int(port)


def exchange(
    server: TorchServe, raw: bytes, timeout: float = 15.0
) -> tuple[int, dict[str, str], bytes]:
    """Send ``raw`` bytes on a new connection; the status, headers and body of the answer
    (read until the server closes or the body is complete). Fails on a reset or a hang."""
    with socket.create_connection(door_address(server), timeout=timeout) as sock:
        sock.sendall(raw)
        return read_answer(sock)


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One answer's status, headers and body, read until it is whole or the peer closes."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length: *(\d+)", head)
        if length and len(body) >= int(length.group(1)):
            break
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in lines[1:])}
    return status, headers, body


def post(server: TorchServe, path: str, headers: str, body: bytes) -> bytes:
    auth = server.headers()["Authorization"]
    return (
        f"POST {path} HTTP/1.1\r\nHost: door\r\nAuthorization: {auth}\r\n{headers}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


# -- Credentials


def test_no_key_or_a_wrong_key_is_401_with_json_and_www_authenticate(server: TorchServe) -> None:
    url = f"{server.inference_url}/predictions/cancer"
    for headers in ({}, {"Authorization": "Bearer wrong-key-0123456789abcdef"}, {"X": "y"}):
        answer = requests.post(url, json={"inputs": [0] * 30}, headers=headers, timeout=30)
        assert answer.status_code == 401, answer.text
        assert answer.json()["type"] == "Unauthorized"
        assert answer.headers["WWW-Authenticate"].startswith("Bearer ")
        assert answer.headers["X-Request-ID"]


def test_torchserves_own_key_does_not_open_the_door(server: TorchServe) -> None:
    """TorchServe's inference key is the door's to send, not a client's."""
    answer = requests.post(
        f"{server.inference_url}/predictions/cancer",
        json={"inputs": [0] * 30},
        headers=server.headers("backend"),
        timeout=30,
    )
    assert answer.status_code == 401


def access_line(server: TorchServe, request_id: str) -> dict[str, Any]:
    """The door's access-log line of ``request_id`` (HAProxy writes it once the answer is
    sent, so it may come a moment after the client has the answer)."""
    found: dict[str, Any] = {}

    def logged() -> bool:
        for line in server.door.log_file.read_text().splitlines():
            if not line.startswith("{"):  # HAProxy's own notices ("Proxy ... stopped")
                continue
            entry = json.loads(line)
            if entry["request_id"] == request_id:
                found.update(entry)
                return True
        return False

    assert _until(logged, timeout=10), f"no access-log line for {request_id}"
    return found


def test_the_key_is_never_logged(server: TorchServe, api: Api) -> None:
    answer = api.predict("cancer", data=CANCER_ROW, headers={"Content-Type": "application/json"})
    assert answer.ok
    key = server.api_key()
    assert key
    assert access_line(server, answer.headers["X-Request-ID"])["key"] == digest(key)[:8]
    logged = b"".join(path.read_bytes() for path in (server.run_dir / "logs").iterdir())
    assert key.encode() not in logged


# -- Health


def test_health_needs_no_key_and_says_ready(server: TorchServe) -> None:
    live = requests.get(f"{server.inference_url}/health/live", timeout=10)
    ready = requests.get(f"{server.inference_url}/health/ready", timeout=10)
    assert (live.status_code, live.json()) == (200, {"status": "alive"})
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "models": dict.fromkeys(server.models, 1)}
    assert requests.post(f"{server.inference_url}/health/ready", timeout=10).status_code == 405


# -- Hostile HTTP: a clear 4xx, an answer on every connection, never a hang or a reset


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(
            b"POST /predictions/cancer HTTP/1.1\r\nContent-Length: -5\r\n\r\nhello", id="cl-5"
        ),
        pytest.param(bytes(range(256)) * 4, id="random-bytes"),
        pytest.param(bytes.fromhex("16030100a5010000a10303") + bytes(160), id="tls-hello"),
        pytest.param(
            b"POST /predictions/cancer HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nab\r\n",
            id="chunk-size--1",
        ),
        pytest.param(b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", id="huge-header"),
    ],
)
def test_what_is_not_http_gets_a_400(server: TorchServe, raw: bytes) -> None:
    """HAProxy 2.6 answers a request it cannot parse with its own short HTML 400 (its
    errorfiles do not apply to parse errors before 3.2: haproxy/haproxy#3032)."""
    status, headers, _ = exchange(server, raw)
    assert status == 400
    assert headers.get("connection") == "close"


def test_a_binary_body_sent_as_a_form_is_415_naming_the_fix(server: TorchServe) -> None:
    png = (EXAMPLES / "seven.png").read_bytes()
    raw = post(
        server, "/predictions/digits", "Content-Type: application/x-www-form-urlencoded\r\n", png
    )
    status, headers, body = exchange(server, raw)
    assert status == 415 and headers["content-type"] == "application/json"
    message = json.loads(body)["message"]
    assert "-H 'Content-Type: image/png'" in message and png[:4] not in body


def test_a_body_with_no_content_type_reaches_the_model(server: TorchServe) -> None:
    status, _, body = exchange(
        server, post(server, "/predictions/digits", "", (EXAMPLES / "seven.png").read_bytes())
    )
    assert status == 200 and json.loads(body)["label"] == "7"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data; boundary=", b"0123456789"),
        ("multipart/form-data", b"0123456789"),
        (
            "multipart/form-data; boundary=XX",
            b"--XX\r\nContent-Disposition: form-data\r\n\r\nabc\r\n--XX--\r\n",
        ),
        (
            "multipart/form-data; boundary=XX",
            b'--XX\r\nContent-Disposition: form-data; name="data"\r\n\r\nabc',
        ),
        ("multipart/form-data; boundary=XX", b"garbage without any boundary"),
    ],
)
def test_malformed_multipart_is_a_json_400(
    server: TorchServe, content_type: str, body: bytes
) -> None:
    raw = post(server, "/predictions/digits", f"Content-Type: {content_type}\r\n", body)
    status, headers, answer = exchange(server, raw)
    assert status == 400, answer
    assert headers["content-type"] == "application/json"
    assert json.loads(answer)["type"] == "InputError"


def test_an_over_size_body_is_413_with_json(server: TorchServe) -> None:
    limit = server.door.max_body
    head = post(server, "/predictions/digits", "Content-Type: image/png\r\n", b"")
    raw = head.replace(b"Content-Length: 0", f"Content-Length: {limit + 1}".encode())
    status, _, body = exchange(server, raw)
    assert status == 413 and str(limit) in json.loads(body)["message"]


def test_an_over_size_chunked_body_is_413_with_json(server: TorchServe) -> None:
    """No Content-Length to refuse it by: TorchServe's own 413 (empty) gets a JSON body.
    The answer comes while the body is still arriving, as HTTP/1.1 allows, and the
    connection then closes; so it is read while sending, as a streaming client must (one
    that reads only once all is sent may find the connection reset under it)."""
    chunk = b"x" * (1 << 20)
    head = (
        f"POST /predictions/digits HTTP/1.1\r\nHost: door\r\n"
        f"Authorization: {server.headers()['Authorization']}\r\n"
        "Content-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()

    def send(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):  # the door closes once it has answered
            sock.sendall(head)
            for _ in range(server.door.max_body // len(chunk) + 1):
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sock.sendall(b"0\r\n\r\n")

    with socket.create_connection(door_address(server), timeout=60) as sock:
        sender = threading.Thread(target=send, args=(sock,))
        sender.start()
        try:
            status, _, body = read_answer(sock)
        finally:
            with contextlib.suppress(OSError):  # already closed by the door
                sock.shutdown(socket.SHUT_RDWR)  # unblocks the sender
            sender.join()
    assert status == 413, body
    assert json.loads(body)["type"] == "PayloadTooLarge"


def test_a_slow_client_gets_408(server: TorchServe) -> None:
    with socket.create_connection(door_address(server), timeout=30) as sock:
        sock.sendall(b"POST /predictions/cancer HTTP/1.1\r\nHost: door\r\n")  # and no more
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 408"), answer


def test_pipelined_requests_are_answered_in_order(server: TorchServe) -> None:
    """A slow minilm request then a fast cancer one on one connection: minilm first."""
    # 7 texts cut at 256 tokens: under the 2,048-token budget, the most work a request may ask.
    texts = json.dumps({"inputs": ["a long sentence to embed " * 60] * 7}).encode()
    first = post(server, "/predictions/minilm", "Content-Type: application/json\r\n", texts)
    second = post(server, "/predictions/cancer", "Content-Type: application/json\r\n", CANCER_ROW)
    with socket.create_connection(door_address(server), timeout=60) as sock:
        sock.sendall(first + second)
        data = b""
        while data.count(b"HTTP/1.1 ") < 2 or not data.rstrip().endswith(b"}"):
            chunk = sock.recv(1 << 20)
            assert chunk, "connection closed early"
            data += chunk
    answers = data.split(b"HTTP/1.1 ")[1:]
    assert b'"embeddings"' in answers[0] and b'"predictions"' in answers[1]


def test_every_answer_has_the_request_id_of_its_access_log_line(
    server: TorchServe, api: Api
) -> None:
    answers = [
        api.predict("cancer", data=CANCER_ROW, headers={"Content-Type": "application/json"}),
        api.predict("cancer", data=b"[1]", headers={"Content-Type": "application/json"}),
        requests.get(f"{server.inference_url}/health/ready", timeout=10),
        requests.post(f"{server.inference_url}/predictions/cancer", timeout=10),
    ]
    assert [answer.status_code for answer in answers] == [200, 400, 200, 401]
    ids = [answer.headers["X-Request-ID"] for answer in answers]
    assert len(set(ids)) == 4
    logged = {request_id: access_line(server, request_id) for request_id in ids}
    for answer, request_id in zip(answers, ids, strict=True):
        assert logged[request_id]["status"] == answer.status_code
    assert logged[ids[3]]["error"] == "Unauthorized"


def test_metrics_port_serves_torchserve_and_door_metrics_without_a_key(server: TorchServe) -> None:
    model = requests.get(f"{server.metrics_url}/metrics", timeout=10)
    door = requests.get(f"{server.metrics_url}/door/metrics", timeout=10)
    workers = requests.get(f"{server.metrics_url}/workers/metrics", timeout=10)
    other = requests.get(f"{server.metrics_url}/models", timeout=10)
    assert model.status_code == 200 and "ts_inference_requests_total" in model.text
    assert workers.status_code == 200
    assert (
        'ts_model_workers{model_name="cancer",model_version="1.0",status="READY"}' in workers.text
    )
    assert door.status_code == 200 and "haproxy_frontend_http_requests_total" in door.text
    assert other.status_code == 404 and other.json()["type"] == "NotFound"


def test_two_thousand_connections_at_once_all_get_an_answer(server: TorchServe) -> None:
    """2,000 clients, one cancer request each, at the same time: every one answered (200,
    or 429/503 with Retry-After), none reset or left hanging. They share one key, so the
    door serves up to TSERVE_KEY_MAX_INFLIGHT (256) of them at once and refuses the rest."""
    host, port = door_address(server)
    request = post(server, "/predictions/cancer", "Content-Type: application/json\r\n", CANCER_ROW)

    async def one(opened: asyncio.Event, count: list[int]) -> bytes:
        reader, writer = await asyncio.open_connection(host, port)
        count[0] += 1
        if count[0] == 2000:
            opened.set()
        await opened.wait()  # every connection open before any request is sent
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
        await reader.readexactly(length)
        writer.close()
        return head

    async def all_of_them() -> list[bytes]:
        opened, count = asyncio.Event(), [0]
        return await asyncio.wait_for(
            asyncio.gather(*(one(opened, count) for _ in range(2000))), timeout=120
        )

    heads = asyncio.run(all_of_them())
    statuses = [int(head.split()[1]) for head in heads]
    assert len(statuses) == 2000
    assert set(statuses) <= {200, 429, 503}, sorted(set(statuses))
    assert all(b"retry-after" in head.lower() for head in heads if head.split()[1] != b"200")
    assert statuses.count(200) >= KEY_MAX_INFLIGHT, {s: statuses.count(s) for s in set(statuses)}


# -- A server of their own: configured keys, a tight per-key limit, a model taken down


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TorchServe]:
    environment = {
        API_KEYS_ENV: ",".join(KEYS),
        KEY_MAX_INFLIGHT_ENV: "2",
        KEY_RATE_LIMIT_ENV: str(RATE_LIMIT),
    }
    with running_server(
        tmp_path_factory.mktemp("keyed"), models=["cancer", "minilm"], environment=environment
    ) as instance:
        yield instance


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_every_configured_key_works_and_no_local_key_is_made(keyed: TorchServe) -> None:
    for key in KEYS:
        answer = requests.post(
            f"{keyed.inference_url}/predictions/cancer",
            data=CANCER_ROW,
            headers=bearer(key) | {"Content-Type": "application/json"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
    assert not (keyed.run_dir / "api-key").exists()
    assert keyed.api_key() == KEYS[0]


def test_a_key_over_its_inflight_limit_gets_429_and_others_are_served(keyed: TorchServe) -> None:
    # 8 texts of about 200 tokens: within the 2,048-token budget, some 100 ms of work.
    body = json.dumps({"inputs": ["a sentence to embed, slowly " * 30] * 8})
    url = f"{keyed.inference_url}/predictions/minilm"
    start = threading.Barrier(8)

    def call(key: str) -> requests.Response:
        start.wait()
        return requests.post(
            url, data=body, headers=bearer(key) | {"Content-Type": "application/json"}, timeout=120
        )

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(call, [KEYS[0]] * 6 + [KEYS[1]] * 2))
    first = [answer.status_code for answer in answers[:6]]
    assert first.count(429) >= 1 and first.count(200) >= 2, first
    limited = next(answer for answer in answers if answer.status_code == 429)
    assert limited.headers["Retry-After"] == "1" and limited.json()["type"] == "TooManyRequests"
    assert [answer.status_code for answer in answers[6:]] == [200, 200]


def test_a_key_over_its_rate_gets_429_and_others_are_served(keyed: TorchServe) -> None:
    """Twice the rate from one key, as fast as the door answers (a form body: its own
    instant 415, counted like any request): the excess is 429, the other key is not."""
    url = f"{keyed.inference_url}/predictions/cancer"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    with requests.Session() as session:
        answers = [
            session.post(url, data=b"a=1", headers=bearer(KEYS[0]) | form, timeout=30)
            for _ in range(2 * RATE_LIMIT)
        ]
        other = session.post(url, data=b"a=1", headers=bearer(KEYS[1]) | form, timeout=30)
    statuses = [answer.status_code for answer in answers]
    assert set(statuses) == {415, 429}, statuses
    assert statuses.count(415) >= RATE_LIMIT // 2, statuses
    limited = next(answer for answer in answers if answer.status_code == 429)
    assert limited.headers["Retry-After"] == "1" and "rate" in limited.json()["message"]
    assert other.status_code == 415, other.text


def test_readiness_is_false_while_a_model_has_no_ready_worker(keyed: TorchServe) -> None:
    admin = keyed.client(retries=0)
    url = f"{keyed.inference_url}/health/ready"
    admin.scale("cancer", 0)
    try:
        waited = _until(lambda: requests.get(url, timeout=5).status_code == 503)
        assert waited, "readiness stayed 200 with no cancer worker"
        answer = requests.get(url, timeout=5)
        assert answer.json() == {"status": "not ready", "models": {"cancer": 0, "minilm": 1}}
        busy = requests.post(
            f"{keyed.inference_url}/predictions/cancer",
            data=CANCER_ROW,
            headers=bearer(KEYS[1]) | {"Content-Type": "application/json"},
            timeout=30,
        )
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "1"
        assert "no ready worker" in busy.json()["message"]
    finally:
        admin.scale("cancer", 2)
    assert _until(lambda: requests.get(url, timeout=5).status_code == 200, timeout=120)


def _until(condition: object, timeout: float = 30.0) -> bool:
    """Poll ``condition()`` every 0.2 s until true or ``timeout`` s."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.2)  # polling interval of a state change
    return False


def test_the_run_folder_tells_clients_where_the_door_is(server: TorchServe) -> None:
    written = json.loads((server.run_dir / "server.json").read_text())
    assert written["inference_url"] == local_url(server.inference_url)
    assert Path(server.run_dir / "api-key").stat().st_mode & 0o777 == 0o600
