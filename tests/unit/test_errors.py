import json

import pytest

from handlers.errors import (
    STATUS,
    InputError,
    InternalError,
    PayloadTooLarge,
    UnsupportedMediaType,
    error_body,
    status_of,
)


@pytest.mark.parametrize(
    ("error", "status"),
    [(InputError("x"), 400), (UnsupportedMediaType("x"), 415), (PayloadTooLarge("x"), 413)],
)
def test_every_error_type_maps_to_its_status(error: InputError, status: int) -> None:
    assert status_of(error) == status


def test_status_table_gives_client_mistakes_4xx_and_our_faults_500() -> None:
    for error_type, code in STATUS.items():
        expected = range(400, 500) if issubclass(error_type, InputError) else range(500, 501)
        assert code in expected, (error_type, code)
    assert status_of(InternalError("x")) == 500


def test_subclass_without_entry_inherits_parent_status() -> None:
    class TooManyTexts(PayloadTooLarge):
        pass

    assert status_of(TooManyTexts("x")) == 413


def test_error_body_is_torchserve_shaped_json() -> None:
    body = json.loads(error_body(UnsupportedMediaType("image must be PNG or JPEG, got 'GIF'")))
    assert body == {
        "code": 415,
        "type": "UnsupportedMediaType",
        "message": "image must be PNG or JPEG, got 'GIF'",
    }
