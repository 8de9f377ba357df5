"""The TorchServe under test: its URLs and tokens, how a request is sent to it, and the
process ids of its workers (a changed pid is a worker that died and was restarted)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from client import Client
from client.tokens import TokenSource
from fuzz.wire import Request
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

    def worker_pids(self, model: str) -> list[int]:
        """Process ids of the workers of ``model``'s default version, sorted."""
        return sorted(int(worker["pid"]) for worker in self.manager.describe(model)[0]["workers"])


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def pieces(body: bytes) -> Iterator[bytes]:
    """``body`` in chunks: requests then sends it with Transfer-Encoding: chunked."""
    for start in range(0, len(body), CHUNK):
        yield body[start : start + CHUNK]
