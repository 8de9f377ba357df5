"""A request ready to send: the body and its Content-Type."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
OCTET_STREAM = "application/octet-stream"


@dataclass(frozen=True)
class Wire:
    body: bytes
    content_type: str


def json_wire(document: Any) -> Wire:
    """``document`` as a JSON body; ``default=str`` lets a value of another type (a date
    from a Parquet file) reach the handler, whose 400 then names it."""
    return Wire(json.dumps(document, default=str).encode("utf-8"), JSON)
