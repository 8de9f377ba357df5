"""The body of every error answer, TorchServe's own shape: ``{"code", "type", "message"}``.

The handlers write it for their refusals, TorchServe's frontend for its own (``type`` is a
Java exception name there, e.g. ``ServiceUnavailableException``), and the batch engines
record it for an input that was refused.
"""

from __future__ import annotations

from typing import TypedDict


class ErrorBody(TypedDict):
    code: int
    type: str
    message: str


# What TorchServe's frontend names a failure the handler raised past its hooks
# (503 "Prediction failed") or a worker lost (507 "Worker died.").
FRONTEND_FAILURE = "InternalServerException"


def error_body(code: int, type_: str, message: str) -> ErrorBody:
    return {"code": code, "type": type_, "message": message}
