"""Find the client's payload in one TorchServe request and read it as JSON when asked.

TorchServe hands a handler one dict per request: a raw body arrives under ``body``, a
multipart field under its own name, query parameters under theirs. With this project's
``decode_input_request=false`` (config.properties) every payload arrives as bytes and JSON
is read here, so an undecodable body costs no worker traceback; TorchServe's default hands
JSON over parsed and ``text/*`` as ``str``, and both are accepted too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from handlers.errors import InputError

# Where a payload may be: the raw body, or a multipart field with one of these names.
PAYLOAD_FIELDS = ("body", "data", "file")
# curl -d / --data-binary send this type unless told otherwise; TorchServe then parses the
# body as form fields, so the payload is lost before it reaches the handler.
FORM_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Payload:
    """The value of one request's payload and the media type it was sent with."""

    value: Any
    content_type: str = ""

    @property
    def is_json(self) -> bool:
        return self.content_type == "application/json" or self.content_type.endswith("+json")


def media_type(header: str | None) -> str:
    """``'Application/JSON; charset=utf-8'`` -> ``'application/json'``; ``None`` -> ``''``."""
    return (header or "").split(";", 1)[0].strip().lower()


def find_payload(
    row: Mapping[str, Any], content_types: Mapping[str, str], form: bool = False
) -> Payload:
    """The payload of one request: its body or first multipart field in ``PAYLOAD_FIELDS``.

    ``content_types`` maps a field name to the content type it was sent with; ``form``
    says the request was sent as a URL-encoded form.
    """
    for name in PAYLOAD_FIELDS:
        if name in row and row[name] is not None:
            return Payload(row[name], media_type(content_types.get(name)))
    if form:
        raise InputError(
            f"the body was sent as {FORM_TYPE} (curl's default for -d/--data-binary); "
            "set its real type, e.g. -H 'Content-Type: image/png' or "
            "-H 'Content-Type: application/json', or send a multipart field -F data=@file"
        )
    raise InputError(
        "no input found: send it as the request body (with its Content-Type) "
        f"or as a multipart field named one of {list(PAYLOAD_FIELDS[1:])}"
    )


def as_bytes(value: Any) -> bytes:
    """The raw bytes of a payload that TorchServe did not decode."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    raise InputError(f"expected raw bytes, got JSON {type(value).__name__}")


def parse_json(payload: Payload) -> Any:
    """The payload as a JSON value, whether or not TorchServe already parsed it."""
    if not isinstance(payload.value, (bytes, bytearray, str)):
        return payload.value  # TorchServe parsed it (Content-Type: application/json)
    try:
        return json.loads(payload.value)
    except RecursionError:  # nesting deeper than the interpreter's stack
        raise InputError("body is not valid JSON: nested too deeply") from None
    except UnicodeDecodeError as exc:  # binary: often a file sent to the wrong model
        raise InputError(
            f"body is not valid JSON: not UTF-8 text ({exc.reason} at byte {exc.start}); "
            f"it starts like {kind_of(as_bytes(payload.value)[:16])}"
        ) from None
    except ValueError as exc:  # syntax, or an integer over 4,300 digits
        raise InputError(f"body is not valid JSON: {exc}") from None


# Leading bytes of what a client most often sends to the wrong model.
SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"PK\x03\x04": "a zip archive",
    b"%PDF": "a PDF document",
}


def kind_of(head: bytes) -> str:
    """What binary data starting with ``head`` looks like, for an error message."""
    return next(
        (kind for magic, kind in SIGNATURES.items() if head.startswith(magic)), "binary data"
    )
