import pytest

from handlers.errors import InputError, PayloadTooLarge
from handlers.payload import Payload
from handlers.text_parsing import MAX_CHARS, MAX_TEXTS, TextRequest, text_request


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (Payload("hello", "text/plain"), TextRequest(["hello"])),
        (Payload(bytearray("héllo".encode()), "application/octet-stream"), TextRequest(["héllo"])),
        (Payload({"text": "hi"}, "application/json"), TextRequest(["hi"])),
        (Payload({"inputs": ["a", "b"]}, "application/json"), TextRequest(["a", "b"])),
        (Payload(b'{"inputs": ["a"]}', "application/json"), TextRequest(["a"])),
        (
            Payload({"text": "t", "labels": ["x", "y"]}, "application/json"),
            TextRequest(["t"], ["x", "y"]),
        ),
    ],
)
def test_accepted_forms(payload: Payload, expected: TextRequest) -> None:
    assert text_request(payload) == expected


def test_rows_are_texts_then_labels() -> None:
    assert TextRequest(["t"], ["x", "y"]).rows == ["t", "x", "y"]


@pytest.mark.parametrize(
    ("payload", "error", "message"),
    [
        (Payload("   ", "text/plain"), InputError, "text is empty"),
        (Payload(b"\xff\xfe", "text/plain"), InputError, "text is not valid UTF-8: invalid start"),
        (Payload({"inputs": []}, "application/json"), InputError, '"inputs" is empty'),
        (Payload({"inputs": "a"}, "application/json"), InputError, '"inputs" must be a list'),
        (Payload({"inputs": ["a", 3]}, "application/json"), InputError, r"inputs\[1\] must be a"),
        (Payload({"inputs": ["a", ""]}, "application/json"), InputError, r"inputs\[1\] is empty"),
        (Payload({"txt": "a"}, "application/json"), InputError, "JSON input must be"),
        (Payload(["a"], "application/json"), InputError, "JSON input must be"),
        (
            Payload({"inputs": ["a"], "labels": ["x"]}, "application/json"),
            InputError,
            '"labels" goes with a single "text"',
        ),
        (
            Payload({"inputs": ["a"] * (MAX_TEXTS + 1)}, "application/json"),
            PayloadTooLarge,
            f"too many inputs: {MAX_TEXTS + 1}, at most {MAX_TEXTS}",
        ),
        (
            Payload("x" * (MAX_CHARS + 1), "text/plain"),
            PayloadTooLarge,
            f"text has {MAX_CHARS + 1:,} characters, at most {MAX_CHARS:,}",
        ),
    ],
)
def test_bad_text_is_named(payload: Payload, error: type[InputError], message: str) -> None:
    with pytest.raises(error, match=message):
        text_request(payload)
