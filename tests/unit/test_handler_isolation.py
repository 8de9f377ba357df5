"""Whatever one request raises, in any hook, only that request fails; its batch-mates are
served. Served as a TorchServe worker serves them (tests/handler_support.py), no server."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

from contracts.vector import VectorAnswer
from handlers.errors import PayloadTooLarge
from handlers.image_wire import decode_image
from handlers.payload import Payload
from handlers.text_parsing import text_request
from handlers.vector_handler import VectorHandler
from tests.answers import agrees
from tests.handler_support import part
from tests.unit.test_handlers import cancer_worker

GOOD = [part({"inputs": [1.0] * 30})]
POISON = -12345.0  # a first feature the test's model or parser chokes on


class Broken(VectorHandler):
    """A cancer handler with a bug that one request's input trips, at ``stage``."""

    def __init__(self, stage: str) -> None:
        super().__init__()
        self.stage = stage

    def parse(self, payload: Payload) -> torch.Tensor:
        rows = super().parse(payload)
        if self.stage == "parse" and rows[0, 0] == POISON:
            raise RuntimeError("bug in parse")
        return rows

    def forward(self, parts: list[Any]) -> torch.Tensor:
        if self.stage == "forward" and any(part[0, 0] == POISON for part in parts):
            raise RuntimeError("bug in forward")
        return super().forward(parts)

    def answer(self, outputs: torch.Tensor, request: torch.Tensor) -> VectorAnswer:
        if self.stage == "answer" and request[0, 0] == POISON:
            raise KeyError("bug in answer")
        return super().answer(outputs, request)


@pytest.mark.parametrize("stage", ["parse", "forward", "answer"])
def test_a_bug_hit_by_one_request_fails_that_request_alone(
    stage: str, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    worker = cancer_worker(tmp_path, Broken(stage))
    poison = [part({"inputs": [POISON] + [1.0] * 29})]
    answers = worker.handle([GOOD, poison, GOOD])
    assert worker.statuses() == [200, 500, 200], answers
    assert answers[1]["type"] == "InternalError"
    assert "bug in" not in answers[1]["message"], "a fault's details stay in the log"
    # The same row twice in one batch: the same answer, within the float noise of where a
    # row sits in a batch (tests/answers.py TOLERANCE; seen 1e-6 apart in CI).
    assert "predictions" in answers[0] and agrees(answers[0], answers[2]) == []
    assert any(record.exc_info for record in caplog.records), "the fault is logged, traceback"


def test_a_refused_request_is_one_log_line_without_traceback(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    worker = cancer_worker(tmp_path)
    caplog.set_level("INFO", logger="handlers.batched_handler")
    worker.handle([[part({"inputs": [1.0] * 2})]])
    lines = [r for r in caplog.records if r.name == "handlers.batched_handler"]
    assert [r.getMessage() for r in lines] == [
        "refused request 0: 400 InputError: row 0: expected 30 features, got 2"
    ]
    assert lines[0].exc_info is None


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,  # deeper than the interpreter's stack
        b'{"inputs": [' + b"9" * 4301 + b"]}",  # over Python's int-string limit
        b"\xff\xfe{}",  # not UTF-8
    ],
)
def test_undecodable_json_is_a_400_for_its_request(body: bytes, tmp_path: Path) -> None:
    worker = cancer_worker(tmp_path)
    answers = worker.handle([[part(body)], GOOD])
    assert worker.statuses() == [400, 200], answers[0]
    assert answers[0]["message"].startswith("body is not valid JSON")
    assert "predictions" in answers[1]


def test_a_lone_surrogate_in_a_text_is_refused_before_the_tokenizer() -> None:
    with pytest.raises(ValueError, match=r"text is not valid Unicode: surrogates not allowed"):
        text_request(Payload(b'{"text": "a\\ud800b"}', "application/json"))
    with pytest.raises(ValueError, match=r"labels\[1\] is not valid Unicode"):
        text_request(Payload({"text": "a", "labels": ["x", "\udfff"]}, "application/json"))


def png_with_chunk(kind: bytes, payload: bytes) -> bytes:
    """A small valid PNG with one extra chunk right after IHDR."""
    buffer = io.BytesIO()
    Image.new("L", (8, 8), 0).save(buffer, "PNG")
    png = buffer.getvalue()
    crc = struct.pack(">I", zlib.crc32(kind + payload))
    chunk = struct.pack(">I", len(payload)) + kind + payload + crc
    return png[:33] + chunk + png[33:]  # 8-byte signature + 25-byte IHDR chunk


@pytest.mark.parametrize(
    "chunk",
    [
        (b"zTXt", b"k\x00\x00" + zlib.compress(b"A" * (20 << 20), 9)),
        (b"iCCP", b"p\x00\x00" + zlib.compress(b"A" * (20 << 20), 9)),
    ],
)
def test_a_metadata_chunk_bomb_is_a_413(chunk: tuple[bytes, bytes]) -> None:
    with pytest.raises(PayloadTooLarge, match="image metadata is too large"):
        decode_image(png_with_chunk(*chunk))


def test_texts_over_the_token_budget_are_a_413_with_the_number() -> None:
    from transformers import AutoTokenizer

    from handlers.text_handler import MAX_TOKENS_PER_REQUEST, TextHandler
    from models.minilm import MAX_TOKENS, source_dir

    handler = TextHandler()
    handler.tokenizer = AutoTokenizer.from_pretrained(source_dir(), local_files_only=True)
    handler.max_tokens = MAX_TOKENS
    fits = MAX_TOKENS_PER_REQUEST // MAX_TOKENS  # full-length texts that fit the budget
    long_text = "word " * 1000
    handler._check_tokens([long_text] * fits)  # exactly at the budget: accepted
    handler._check_tokens(["short"] * 64)  # many short texts: accepted, not tokenized
    with pytest.raises(PayloadTooLarge, match=f"at most {MAX_TOKENS_PER_REQUEST:,} per request"):
        handler._check_tokens([long_text] * (fits + 1))
