"""Errors a handler reports to one client request, each with its HTTP status.

    InputError (400)                the request is malformed or fails validation
    ├── UnsupportedMediaType (415)  the payload is in a format the model does not decode
    └── PayloadTooLarge (413)       too many rows, texts or pixels in one request

Only these are answered per request; anything else is a server fault and TorchServe
answers it for the whole batch. ``STATUS`` is the one table from error type to status.
"""

from __future__ import annotations

import json


class InputError(ValueError):
    """The client sent something the model cannot use; the message says what and why."""


class UnsupportedMediaType(InputError):
    """The payload is in a format the handler does not decode (e.g. a GIF image)."""


class PayloadTooLarge(InputError):
    """The request carries more than the documented limit."""


STATUS: dict[type[InputError], int] = {
    InputError: 400,
    UnsupportedMediaType: 415,
    PayloadTooLarge: 413,
}


def status_of(error: InputError) -> int:
    """The HTTP status for ``error``: the entry of its nearest class in ``STATUS``."""
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    raise TypeError(f"{type(error).__name__} has no HTTP status")


def error_body(error: InputError) -> str:
    """JSON body shaped like TorchServe's own errors: ``{"code", "type", "message"}``."""
    return json.dumps(
        {"code": status_of(error), "type": type(error).__name__, "message": str(error)}
    )
