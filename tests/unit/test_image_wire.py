"""The digits wire input: PNG or JPEG in, anything else refused with its own 4xx."""

import base64

import pytest
from PIL import Image
from sklearn.datasets import load_digits

from handlers.errors import InputError, PayloadTooLarge, UnsupportedMediaType
from handlers.image_wire import MAX_PIXELS, decode_image, image_from_json
from tests.images import encode, render

SEVEN = load_digits().images[7]  # a 7 in the data set's own 0..16 scale


def test_gif_is_unsupported_media_type() -> None:
    with pytest.raises(UnsupportedMediaType, match="image must be PNG or JPEG, got 'GIF'"):
        decode_image(encode(Image.new("L", (8, 8)), "GIF"))


def test_garbage_cannot_be_decoded() -> None:
    with pytest.raises(InputError, match="image could not be decoded as PNG or JPEG"):
        decode_image(b"definitely not an image")


def test_truncated_png_cannot_be_decoded() -> None:
    data = render(SEVEN, 256)
    with pytest.raises(InputError, match="image could not be decoded as PNG"):
        decode_image(data[: len(data) // 2])


def test_png_signature_then_garbage_cannot_be_decoded() -> None:
    with pytest.raises(InputError, match="image could not be decoded as PNG or JPEG: "):
        decode_image(b"\x89PNG\r\n\x1a\n-truncated")


def test_empty_body_is_rejected() -> None:
    with pytest.raises(InputError, match="image is empty"):
        decode_image(b"")


def test_pixel_bomb_is_refused_before_decoding() -> None:
    side = int(MAX_PIXELS**0.5) + 1
    with pytest.raises(PayloadTooLarge, match=f"image has {side}x{side} pixels"):
        decode_image(encode(Image.new("1", (side, side))))


def test_giant_pixel_bomb_is_refused_by_pil_itself() -> None:
    with pytest.raises(PayloadTooLarge, match="image is too large: Image size"):
        decode_image(encode(Image.new("1", (15_000, 15_000))))


def test_json_image_accepts_base64_and_data_urls() -> None:
    data = render(SEVEN)
    encoded = base64.b64encode(data).decode()
    assert image_from_json({"image": encoded}) == data
    assert image_from_json({"image": f"data:image/png;base64,{encoded}"}) == data


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"img": "x"}, 'JSON input must be an object {"image"'),
        ([1, 2], 'JSON input must be an object {"image"'),
        ({"image": "not base64!"}, '"image" is not valid base64'),
    ],
)
def test_bad_json_image_is_named(document: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        image_from_json(document)
