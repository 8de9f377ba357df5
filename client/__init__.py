"""Python client for this project's TorchServe: ``Client`` and its typed errors."""

from client.api import Client
from client.errors import (
    AuthError,
    BadInputError,
    ClientError,
    ConflictError,
    HTTPError,
    NotAllowedError,
    NotFoundError,
    ServerFaultError,
    TokenFileError,
    TransportError,
    TServeError,
)
from client.tokens import TokenSource

__all__ = [
    "AuthError",
    "BadInputError",
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
]
