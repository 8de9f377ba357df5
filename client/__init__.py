"""Python client for this project's TorchServe: ``Client`` and its typed errors."""

from client.api import Client
from client.errors import (
    AuthError,
    BadInputError,
    BusyError,
    ClientError,
    ConflictError,
    HTTPError,
    NotAllowedError,
    NotFoundError,
    ServerFaultError,
    TokenFileError,
    TransportError,
    TServeError,
    WorkerDiedError,
)
from client.tokens import TokenSource

__all__ = [
    "AuthError",
    "BadInputError",
    "BusyError",
    "Client",
    "ClientError",
    "ConflictError",
    "HTTPError",
    "NotAllowedError",
    "NotFoundError",
    "ServerFaultError",
    "TServeError",
    "TokenFileError",
    "TokenSource",
    "TransportError",
    "WorkerDiedError",
]
