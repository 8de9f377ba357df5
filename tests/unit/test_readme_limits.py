"""The README's limits table states the limits the code enforces."""

from __future__ import annotations

import re
from pathlib import Path

from PIL import PngImagePlugin

from handlers.image_wire import MAX_PIXELS
from handlers.text_handler import MAX_TOKENS_PER_REQUEST
from handlers.text_parsing import MAX_CHARS, MAX_TEXTS
from handlers.vector_parsing import MAX_ROWS
from server.launcher import read_properties
from server.settings import CONFIG

README = Path(__file__).resolve().parents[2] / "README.md"


def documented_limits() -> dict[str, int]:
    """Each row of the README's limit table: its name and the first number of its value."""
    section = README.read_text().split("| limit | value |", 1)[1].split("\n\n", 1)[0]
    rows = [line.strip("|").split("|") for line in section.splitlines()[2:]]
    return {name.strip(): int(re.sub(r"\D", "", value.split("(")[0])) for name, value in rows}


def test_every_documented_limit_is_the_enforced_one() -> None:
    properties = read_properties(CONFIG.read_text())
    assert documented_limits() == {
        "cancer rows per request": MAX_ROWS,
        "minilm texts (or labels) per request": MAX_TEXTS,
        "minilm characters per text": MAX_CHARS,
        "minilm tokens per request (texts and labels, each cut at 256)": MAX_TOKENS_PER_REQUEST,
        "digits pixels per image": MAX_PIXELS,
        "image metadata chunk (PNG text or ICC profile, decompressed)": (
            PngImagePlugin.MAX_TEXT_CHUNK
        ),
        "request body (TorchServe's `max_request_size`, answered by the front door)": int(
            properties["max_request_size"]
        ),
    }
