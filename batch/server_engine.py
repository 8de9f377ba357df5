"""Score through a running TorchServe with the project's client: concurrent calls, retried.

Requests go to ``/predictions/<model>/<version>``, so rows are only ever recorded against
the version the server really ran. The client (client/) finds the server unless given its
URL (``TSERVE_INFERENCE_URL``, else the running server's ``server.json``) and the token
(``TSERVE_TOKEN``, else the front door's key in the run folder), and resends, with
jittered backoff, every answer the model never gave (``client.errors.RETRYABLE``: 503
queue full or no worker, 500/507 "Worker died." when the worker holding the request was
killed or crashed), so a worker that dies mid-run costs no error rows. An input the
server refuses, or fails on after the retries, gets its answer as a reply (then an error
row); a server that is unreachable, refuses the token or lacks the model version stops the
run with one clear line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from batch.archive import Archive
from batch.calls import Reply, Request
from batch.errors import BatchError
from client import AuthError, Client, HTTPError, NotFoundError, TokenSource, TServeError
from contracts.errors import error_body


class ServerEngine:
    name = "server"
    inputs_per_call = 1  # one request per call: the server batches concurrent requests

    def __init__(
        self,
        url: str | None,  # None: found as the client finds it
        archive: Archive,
        token: str | None = None,  # None: found as the client finds it
        concurrency: int | None = None,  # None: the default for the model's input kind
        timeout: float = 120.0,
        retries: int = 4,  # resends of an answer the model never gave (worker died, busy)
        backoff: float = 0.25,  # seconds before the first resend, doubled for each next one
    ) -> None:
        # One image per request: as many in flight as TorchServe batches (batchSize). Many
        # rows or texts per request: a few, so the server's batches stay small enough to pad
        # little (measured in docs/batch.md).
        default = archive.batch_size if archive.kind == "image" else 4
        self.concurrency = concurrency or default
        self.tokens = TokenSource(inference=token)
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self._local = threading.local()
        self._clients: list[Client] = []
        try:
            first = self._new_client(url)  # the client's own choice of URL when not given
        except (ValueError, TServeError) as exc:  # a URL that is not one, a bad server.json
            raise BatchError(str(exc)) from None
        self.url = first.inference_url
        self.endpoint = f"{self.url}/predictions/{archive.name}/{archive.version}"
        self._check_reachable()

    def _client(self) -> Client:
        """This thread's client: requests does not promise a Session is thread-safe."""
        client: Client | None = getattr(self._local, "client", None)
        return self._new_client(self.url) if client is None else client

    def _new_client(self, url: str | None) -> Client:
        client = Client(
            url,
            tokens=self.tokens,
            timeout=self.timeout,
            retries=self.retries,
            backoff=self.backoff,
        )
        self._local.client = client
        self._clients.append(client)
        return client

    def _check_reachable(self) -> None:
        try:
            self._client().request("GET", f"{self.url}/ping", "inference")
        except TServeError as exc:
            raise BatchError(f"TorchServe at {self.url}: {exc}") from None

    def call(self, requests: Sequence[Request]) -> list[Reply]:
        return [self._post(request) for request in requests]

    def _post(self, request: Request) -> Reply:
        started = time.perf_counter()
        try:
            response = self._client().request(
                "POST",
                self.endpoint,
                "inference",
                data=request.body,
                headers={"Content-Type": request.content_type},
            )
        except (AuthError, NotFoundError) as exc:
            raise BatchError(f"TorchServe refused {self.endpoint}: {exc}") from None
        except HTTPError as exc:
            body = error_body(exc.status, exc.type, exc.message)
            return Reply(exc.status, body, time.perf_counter() - started)
        except TServeError as exc:  # no answer at all: stop, a rerun resumes
            raise BatchError(f"TorchServe at {self.url}: {exc}") from None
        return Reply(response.status_code, response.json(), time.perf_counter() - started)

    def close(self) -> None:
        for client in self._clients:
            client.session.close()
