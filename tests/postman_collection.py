"""postman/collection.json as data: where it is and its requests, for the tests that read it."""

from __future__ import annotations

import json
from typing import Any

from server.settings import ROOT

POSTMAN = ROOT / "postman"
COLLECTION = POSTMAN / "collection.json"


def collection() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(COLLECTION.read_text())
    return document


def requests_of(folder: dict[str, Any]) -> list[dict[str, Any]]:
    """Every request item of a collection or folder, depth first."""
    items = folder.get("item", [])
    return [leaf for item in items for leaf in (requests_of(item) if "item" in item else [item])]
