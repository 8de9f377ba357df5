"""Score through a running TorchServe: concurrent HTTP calls, retried with backoff.

Requests go to ``/predictions/<model>/<version>``, so rows are only ever recorded against
the version the server really ran. Refused connections and 502/503/504 (a full queue, a
worker restarting) are retried with exponential backoff by urllib3; a server that stays
unreachable, refuses the token or lacks the model stops the run with one clear line.

The token: ``TSERVE_TOKEN``, else the inference key in ``key_file.json`` of the server's run
folder (``TSERVE_RUN_DIR``, default ``.run`` of this checkout, where ``make serve`` runs).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from batch.archive import Archive
from batch.calls import Reply, Request
from batch.errors import BatchError
from server.launcher import ROOT

RETRY_STATUSES = (502, 503, 504)


def find_token() -> str | None:
    """The inference token from the environment or the server's key file (None: auth off)."""
    if os.environ.get("TSERVE_TOKEN"):
        return os.environ["TSERVE_TOKEN"]
    key_file = Path(os.environ.get("TSERVE_RUN_DIR", ROOT / ".run")) / "key_file.json"
    try:
        return str(json.loads(key_file.read_text())["inference"]["key"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise BatchError(f"cannot read the inference key from {key_file}: {exc}") from None


class ServerEngine:
    name = "server"
    requests_per_call = 1  # the server batches concurrent requests itself

    def __init__(
        self,
        url: str,
        archive: Archive,
        token: str | None,
        concurrency: int = 8,
        timeout: float = 120.0,
        retries: int = 5,
        backoff: float = 0.25,  # seconds before the first retry, doubled for each next one
    ) -> None:
        self.url = url.rstrip("/")
        self.endpoint = f"{self.url}/predictions/{archive.name}/{archive.version}"
        self.concurrency = concurrency
        self.timeout = timeout
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.retry = Retry(
            total=retries,
            backoff_factor=backoff,
            backoff_jitter=backoff,  # requests failed together must not retry together
            status_forcelist=RETRY_STATUSES,
            allowed_methods=None,  # POST too: scoring the same input twice is harmless
            raise_on_status=False,  # the last answer comes back and becomes an error row
        )
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._check_reachable()

    def _session(self) -> requests.Session:
        """This thread's session: requests does not promise a Session is thread-safe."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.mount("http://", HTTPAdapter(max_retries=self.retry))
            session.mount("https://", HTTPAdapter(max_retries=self.retry))
            session.headers.update(self.headers)
            self._local.session = session
            self._sessions.append(session)
        return session

    def _check_reachable(self) -> None:
        try:  # no retries: a server that is not up when the run starts is reported at once
            response = requests.get(f"{self.url}/ping", headers=self.headers, timeout=10)
        except requests.RequestException as exc:
            raise BatchError(f"TorchServe at {self.url} is not reachable: {_reason(exc)}") from None
        if response.status_code != 200:
            raise BatchError(
                f"TorchServe at {self.url} answered /ping with {response.status_code}: "
                f"{response.text.strip()} (token from TSERVE_TOKEN or TSERVE_RUN_DIR/key_file.json)"
            )

    def call(self, requests: Sequence[Request]) -> list[Reply]:
        return [self._post(request) for request in requests]

    def _post(self, request: Request) -> Reply:
        started = time.perf_counter()
        try:
            response = self._session().post(
                self.endpoint,
                data=request.body,
                headers={"Content-Type": request.content_type},
                timeout=self.timeout,
            )
        except requests.Timeout:
            message = f"no answer from TorchServe within {self.timeout:g} s"
            return Reply(504, {"message": message}, time.perf_counter() - started)
        except requests.RequestException as exc:
            raise BatchError(f"TorchServe at {self.url} is not reachable: {_reason(exc)}") from None
        seconds = time.perf_counter() - started
        try:
            body = response.json()
        except ValueError:
            body = {"code": response.status_code, "message": response.text}
        if response.status_code == 404 or (
            isinstance(body, dict) and body.get("type") == "InvalidKeyException"
        ):
            raise BatchError(f"TorchServe refused {self.endpoint}: {body.get('message', body)}")
        return Reply(response.status_code, body, seconds)

    def close(self) -> None:
        for session in self._sessions:
            session.close()


def _reason(exc: Exception) -> str:
    """The OS's reason inside a requests error (e.g. 'Connection refused'), not its repr."""
    match = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(exc))
    return match.group(1) if match else type(exc).__name__
