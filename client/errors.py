"""Errors the client raises, each carrying what the server said.

    TServeError                    anything this client raises
    ├── TransportError             no answer: refused connection, timeout, broken response
    ├── TokenFileError             the key file is there but unreadable
    └── HTTPError                  the server answered with an error status
        ├── ClientError (4xx)      the request must change before it can succeed
        │   ├── BadInputError      400, 413, 415: the input or a parameter is invalid
        │   ├── AuthError          401, and 400 InvalidKeyException: token missing or wrong
        │   ├── NotFoundError      404: unknown model or version, URL not allowed
        │   ├── NotAllowedError    405: the API is switched off (registration)
        │   └── ConflictError      403, 409: refused in the current state (default version,
        │                          already registered)
        └── ServerFaultError (5xx) the server failed
            ├── BusyError          503 ServiceUnavailableException: not queued (queue full,
            │                      no worker); the model never saw the request
            └── WorkerDiedError    500 or 507 "Worker died.": the worker process holding the
                                   request died (killed, crashed, hung past its timeout)
                                   before the model answered

TorchServe answers a bad token with 400, like bad input; the body's ``type`` tells them
apart. ``STATUS_ERRORS`` and ``TYPE_ERRORS`` are the one table from an answer to a type;
``fault_class`` tells the two server faults that are safe to resend from the rest.

Safe to resend (``RETRYABLE``): a ``BusyError`` and a ``WorkerDiedError``, and nothing else.
Both mean the request got no answer from the model, and a prediction has no side effect,
so sending the same request again cannot do anything twice. TorchServe 0.12 sends no
header that says so (no ``Retry-After``): the status and the body's ``type``/``message``
are the signal. Measured (docs/client.md): ``kill -9`` of a worker answers each request of
the batch it held 507 "Worker died." (500 when the frontend has not yet reaped the process);
requests still queued for the model wait and are answered by the next worker. Any other 5xx
(503 "Prediction failed": the handler ran and raised; 507 "Out of resources") is the
model's answer, and a 4xx needs a changed request: neither is resent.
"""

from __future__ import annotations

import json
from typing import Any


class TServeError(Exception):
    """Anything the client raises; ``str()`` is a one-line reason."""


class TransportError(TServeError):
    """The server gave no usable answer (not running, wrong URL, timed out)."""


class TokenFileError(TServeError):
    """The server's key file exists but is not the JSON TorchServe writes."""


class HTTPError(TServeError):
    """An error status from the server, with the ``type`` and ``message`` of its body."""

    def __init__(
        self, status: int, type_: str, message: str, body: Any = None, hint: str = ""
    ) -> None:
        reason = f"{status} {type_}: {message}" if type_ else f"{status}: {message}"
        super().__init__(f"{reason} ({hint})" if hint else reason)
        self.status = status
        self.type = type_
        self.message = message
        self.body = body


class ClientError(HTTPError):
    """A 4xx: the request has to change."""


class BadInputError(ClientError):
    """The input or a parameter was refused (the message names what and why)."""


class AuthError(ClientError):
    """The token is missing, wrong, expired, or of the wrong kind."""


class NotFoundError(ClientError):
    """No such model or version, or a registration URL outside ``allowed_urls``."""


class NotAllowedError(ClientError):
    """The server has this API switched off (registration while ``enable_model_api=false``)."""


class ConflictError(ClientError):
    """Refused in the current state: the model exists already, or the version is the default."""


class ServerFaultError(HTTPError):
    """A 5xx: the server failed; the same request may succeed later."""


class BusyError(ServerFaultError):
    """503 ServiceUnavailableException: TorchServe did not queue the request (queue full,
    no worker for the model); the model never saw it."""


class WorkerDiedError(ServerFaultError):
    """500 or 507 "Worker died.": the worker holding the request died before answering."""


# TorchServe's frontend (WorkerThread) answers every request a dying worker held with this
# message: 507 when the worker's exit status was 137 (SIGKILL, read as out of memory),
# else 500 (the process not yet reaped, or killed after ``responseTimeout``).
WORKER_DIED = "Worker died."
BUSY_TYPE = "ServiceUnavailableException"  # queue full or no worker: refused, never queued
RETRYABLE: tuple[type[HTTPError], ...] = (BusyError, WorkerDiedError)


STATUS_ERRORS: dict[int, type[HTTPError]] = {
    400: BadInputError,
    401: AuthError,
    403: ConflictError,
    404: NotFoundError,
    405: NotAllowedError,
    409: ConflictError,
    413: BadInputError,
    415: BadInputError,
}

# Body types that override the status: TorchServe sends a bad token as 400.
TYPE_ERRORS: dict[str, type[HTTPError]] = {"InvalidKeyException": AuthError}


def error_class(status: int, type_: str = "", message: str = "") -> type[HTTPError]:
    """The error type for an answer: its body type, its status, else its status family."""
    if type_ in TYPE_ERRORS:
        return TYPE_ERRORS[type_]
    if status in STATUS_ERRORS:
        return STATUS_ERRORS[status]
    if 400 <= status < 500:
        return ClientError
    if status >= 500:
        return fault_class(status, type_, message)
    return HTTPError


def fault_class(status: int, type_: str, message: str) -> type[ServerFaultError]:
    """The type of a 5xx answer: the two that the model never answered, else the plain one."""
    if message == WORKER_DIED:
        return WorkerDiedError
    if status == 503 and type_ == BUSY_TYPE:
        return BusyError
    return ServerFaultError


def is_retryable(error: TServeError) -> bool:
    """Whether ``error`` is an answer that the same request may be sent again for."""
    return isinstance(error, RETRYABLE)


def from_response(status: int, text: str, auth_hint: str = "") -> HTTPError:
    """The error for an answer with ``status`` and body ``text`` (TorchServe's JSON or not);
    an auth error also says where the token came from (``auth_hint``)."""
    try:
        body: Any = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        type_, message = str(body.get("type", "")), str(body.get("message", text))
    else:
        type_, message = "", text.strip() or "(empty body)"
    cls = error_class(status, type_, message)
    return cls(status, type_, message, body, auth_hint if issubclass(cls, AuthError) else "")
