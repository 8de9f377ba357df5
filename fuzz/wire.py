"""One HTTP request as the fuzzer sends it, and the wire formats it is built from.

Bodies are bytes written here by hand (JSON, multipart), never by a library that would
refuse to write something malformed: the point is to send what a careless or hostile
client could.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

JSON = "application/json"
TEXT = "text/plain"
PNG = "image/png"
JPEG = "image/jpeg"
FORM = "application/x-www-form-urlencoded"
BOUNDARY = "fuzzboundary7MA4YWxkTrZu0gW"
CRLF = b"\r\n"
AUTH = b"<authorization>"  # in a raw request: replaced by "Authorization: Bearer <key>"


@dataclass(frozen=True)
class Request:
    """A POST to ``/predictions/<model>``; ``content_type`` None sends no such header."""

    model: str
    body: bytes
    content_type: str | None
    headers: Mapping[str, str] = field(default_factory=dict)
    query: str = ""  # raw, already percent-encoded (or deliberately not)
    chunked: bool = False  # sent with Transfer-Encoding: chunked instead of Content-Length
    # Bytes sent verbatim on a new connection instead (HTTP that an HTTP library would not
    # write); AUTH in them stands for the Authorization header line.
    raw: bytes | None = None

    def all_headers(self) -> dict[str, str]:
        typed = {} if self.content_type is None else {"Content-Type": self.content_type}
        return typed | dict(self.headers)


def dumps(document: Any) -> bytes:
    """JSON as Python writes it, NaN/Infinity literals and lone surrogates (as escapes) kept."""
    return json.dumps(document).encode("ascii")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class Part:
    """One multipart part; ``name`` None leaves the Content-Disposition header out."""

    body: bytes
    name: str | None = "data"
    content_type: str | None = None
    filename: str | None = None

    def encode(self, newline: bytes = CRLF) -> bytes:
        lines = []
        if self.name is not None:
            disposition = f'form-data; name="{self.name}"'
            if self.filename is not None:
                disposition += f'; filename="{self.filename}"'
            lines.append(f"Content-Disposition: {disposition}".encode())
        if self.content_type is not None:
            lines.append(f"Content-Type: {self.content_type}".encode())
        return newline.join(lines) + newline + newline + self.body


def multipart(parts: list[Part], boundary: str = BOUNDARY, newline: bytes = CRLF) -> bytes:
    """A multipart/form-data body: each part after ``--boundary``, then the closing line."""
    dash = b"--" + boundary.encode("latin-1")
    body = b"".join(dash + newline + part.encode(newline) + newline for part in parts)
    return body + dash + b"--" + newline


def multipart_type(boundary: str = BOUNDARY) -> str:
    return f"multipart/form-data; boundary={boundary}"
