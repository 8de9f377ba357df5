"""The client's one table from a server answer to an error type."""

from __future__ import annotations

import json

import pytest

from client.errors import (
    STATUS_ERRORS,
    AuthError,
    BadInputError,
    BusyError,
    ClientError,
    ConflictError,
    HTTPError,
    NotAllowedError,
    NotFoundError,
    ServerFaultError,
    WorkerDiedError,
    error_class,
    from_response,
    is_retryable,
)

INVALID_KEY = json.dumps(
    {"code": 400, "type": "InvalidKeyException", "message": "Token Authorization failed."}
)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, BadInputError),
        (401, AuthError),
        (403, ConflictError),
        (404, NotFoundError),
        (405, NotAllowedError),
        (409, ConflictError),
        (413, BadInputError),
        (415, BadInputError),
        (429, ClientError),
        (500, ServerFaultError),
        (503, ServerFaultError),
        (507, ServerFaultError),
        (302, HTTPError),
    ],
)
def test_status_maps_to_its_error_type(status: int, expected: type[HTTPError]) -> None:
    assert error_class(status) is expected


def test_status_table_holds_only_client_errors() -> None:
    assert all(400 <= status < 500 for status in STATUS_ERRORS), STATUS_ERRORS
    assert all(issubclass(cls, ClientError) for cls in STATUS_ERRORS.values())


def test_bad_token_is_an_auth_error_although_torchserve_sends_400() -> None:
    error = from_response(400, INVALID_KEY, auth_hint="token: $TSERVE_TOKEN")
    assert type(error) is AuthError
    assert (error.status, error.type) == (400, "InvalidKeyException")
    assert str(error) == (
        "400 InvalidKeyException: Token Authorization failed. (token: $TSERVE_TOKEN)"
    )


def test_error_carries_the_servers_message_and_body() -> None:
    body = {"code": 400, "type": "InputError", "message": "row 0: expected 30 features, got 2"}
    error = from_response(400, json.dumps(body), auth_hint="token: ignored for bad input")
    assert type(error) is BadInputError
    assert error.message == "row 0: expected 30 features, got 2"
    assert error.body == body
    assert str(error) == "400 InputError: row 0: expected 30 features, got 2"


@pytest.mark.parametrize(
    ("text", "reason"),
    [("upstream down\n", "502: upstream down"), ("", "502: (empty body)"), ("[1]", "502: [1]")],
)
def test_a_body_that_is_not_torchserve_json_is_the_message(text: str, reason: str) -> None:
    error = from_response(502, text)
    assert type(error) is ServerFaultError
    assert str(error) == reason


@pytest.mark.parametrize(
    ("status", "type_", "message", "expected", "retryable"),
    [
        (507, "InternalServerException", "Worker died.", WorkerDiedError, True),
        (500, "InternalServerException", "Worker died.", WorkerDiedError, True),
        (503, "ServiceUnavailableException", 'Model "cancer" has no worker', BusyError, True),
        (503, "InternalServerException", "Prediction failed", ServerFaultError, False),
        (507, "InternalServerException", "Out of resources", ServerFaultError, False),
        (500, "InternalServerException", "Worker died", ServerFaultError, False),  # exact text
        (413, "InternalServerException", "Worker died.", BadInputError, False),  # never a 4xx
        (400, "ServiceUnavailableException", "x", BadInputError, False),
    ],
)
def test_only_answers_the_model_never_gave_are_retryable(
    status: int, type_: str, message: str, expected: type[HTTPError], retryable: bool
) -> None:
    text = json.dumps({"code": status, "type": type_, "message": message})
    error = from_response(status, text)
    assert type(error) is expected
    assert is_retryable(error) is retryable, (status, type_, message)
