"""Errors a handler answers for one client request, each with its HTTP status.

    RequestError                    answered for its own request; the rest of the batch runs
    ├── InputError (400)            the request is malformed or fails validation
    │   ├── UnsupportedMediaType (415)  a format the model does not decode
    │   └── PayloadTooLarge (413)   more rows, texts, tokens or pixels than one request may hold
    └── InternalError (500)         our code failed on this request; logged with its request id

``STATUS`` is the one table from error type to status.
"""

from __future__ import annotations

import json

from contracts.errors import error_body as error_document
from contracts.oip import error_body as protocol_document


class RequestError(Exception):
    """One request's failure, answered to that request alone."""


class InputError(RequestError, ValueError):
    """The client sent something the model cannot use; the message says what and why."""


class UnsupportedMediaType(InputError):
    """The payload is in a format the handler does not decode (e.g. a GIF image)."""


class PayloadTooLarge(InputError):
    """The request carries more than the documented limit."""


class InternalError(RequestError):
    """A bug met while serving this request: a 500 for it, never for its batch-mates."""


STATUS: dict[type[RequestError], int] = {
    InputError: 400,
    UnsupportedMediaType: 415,
    PayloadTooLarge: 413,
    InternalError: 500,
}


def status_of(error: RequestError) -> int:
    """The HTTP status for ``error``: the entry of its nearest class in ``STATUS``."""
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    raise TypeError(f"{type(error).__name__} has no HTTP status")


def error_body(error: RequestError) -> str:
    """JSON body shaped like TorchServe's own errors: ``{"code", "type", "message"}``."""
    return json.dumps(error_document(status_of(error), type(error).__name__, str(error)))


def protocol_error(error: RequestError) -> str:
    """The KServe protocols' error body (v1 and v2): ``{"error": "..."}``; the status is
    the same as for the native body."""
    return json.dumps(protocol_document(str(error)))
