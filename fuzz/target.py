"""The TorchServe under test: its URLs and tokens, how a request is sent to it, and the
process ids of its workers (a changed pid is a worker that died and was restarted)."""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests

from client import Client
from client.tokens import TokenSource
from fuzz.wire import AUTH, Request
from server.launcher import TorchServe
from server.settings import RUN_DIR_ENV

CHUNK = 1 << 20  # bytes per chunk of a chunked upload
CONNECT_TIMEOUT = 5.0


@dataclass(frozen=True)
class Target:
    inference_url: str
    inference_headers: dict[str, str]
    manager: Client  # management calls (the workers' pids)

    @classmethod
    def of(cls, server: TorchServe) -> Target:
        """The server a ``TorchServe`` object started (its run folder holds the keys)."""
        return cls(server.inference_url, server.headers("inference"), server.client())

    @classmethod
    def at(cls, inference_url: str, management_url: str, run_dir: Path | None) -> Target:
        """A running server; tokens found as the client finds them (env, else key file)."""
        env = {RUN_DIR_ENV: str(run_dir)} if run_dir else None
        tokens = TokenSource(env=env)
        manager = Client(inference_url, management_url, tokens=tokens)
        return cls(manager.inference_url, bearer(tokens.get("inference")), manager)

    def send(
        self, session: requests.Session, request: Request, timeout: float
    ) -> requests.Response:
        """POST ``request``; raises requests' exceptions for no answer within ``timeout``."""
        url = f"{self.inference_url}/predictions/{request.model}"
        if request.query:
            url += "?" + request.query
        return session.post(
            url,
            data=pieces(request.body) if request.chunked else request.body,
            headers=self.inference_headers | request.all_headers(),
            timeout=(CONNECT_TIMEOUT, timeout),
        )

    def send_raw(self, request: Request, timeout: float) -> tuple[int, bytes]:
        """Send ``request.raw`` verbatim on a new connection; the status and body of the
        answer. OSError (a reset, a close) when no answer came; TimeoutError on a hang."""
        assert request.raw is not None
        parts = urlsplit(self.inference_url)
        auth = "".join(f"{k}: {v}\r\n" for k, v in self.inference_headers.items()).encode()
        raw = request.raw.replace(AUTH + b"\r\n", auth).replace(AUTH, auth)
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or 80), timeout=CONNECT_TIMEOUT
        ) as sock:
            sock.settimeout(timeout)
            # The door may answer (400) and close before it has read everything sent.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(raw)
            data = read_answer(sock)
            while re.match(rb"HTTP/1\.[01] 1\d\d ", data):  # interim (100 Continue): next
                data = data.partition(b"\r\n\r\n")[2] or read_answer(sock)
        head, _, body = data.partition(b"\r\n\r\n")
        status = re.match(rb"HTTP/1\.[01] (\d{3})", head)
        if status is None:
            raise ConnectionError(f"no HTTP answer, got {data[:60]!r}")
        return int(status.group(1)), body

    def worker_pids(self, model: str) -> list[int]:
        """Process ids of the workers of ``model``'s default version, sorted."""
        return sorted(int(worker["pid"]) for worker in self.manager.describe(model)[0]["workers"])


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def read_answer(sock: socket.socket) -> bytes:
    """The first answer on ``sock``: its head and as much body as it announces."""
    data = b""
    while True:
        try:
            chunk = sock.recv(1 << 16)
        except ConnectionResetError:
            if b"\r\n\r\n" in data:  # answered, then reset: the answer counts
                return data
            raise
        if not chunk:
            return data
        data += chunk
        head, found, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length: *(\d+)", head)
        if found and length and len(body) >= int(length.group(1)):
            return data


def pieces(body: bytes) -> Iterator[bytes]:
    """``body`` in chunks: requests then sends it with Transfer-Encoding: chunked."""
    for start in range(0, len(body), CHUNK):
        yield body[start : start + CHUNK]
