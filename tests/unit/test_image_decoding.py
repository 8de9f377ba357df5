import base64

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from handlers.errors import InputError, PayloadTooLarge, UnsupportedMediaType
from handlers.image_decoding import (
    MAX_PIXELS,
    decode_image,
    image_from_json,
    image_to_grid,
    otsu_threshold,
    to_gray,
)
from models.digits import framed
from tests.images import encode, photo, render

SEVEN = load_digits().images[7]  # a 7 in the data set's own 0..16 scale


def grid_of(data: bytes) -> np.ndarray:
    return image_to_grid(decode_image(data))


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P"])
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_every_mode_and_format_gives_the_same_grid(mode: str, fmt: str) -> None:
    if fmt == "JPEG" and mode in ("RGBA", "P"):
        pytest.skip("JPEG has no alpha or palette")
    reference = grid_of(render(SEVEN, 64, "L", "PNG"))
    grid = grid_of(render(SEVEN, 64, mode, fmt))
    assert grid.shape == (8, 8) and grid.dtype == np.float32
    assert np.abs(grid - reference).mean() < 0.05, (mode, fmt)


def test_light_on_dark_and_dark_on_light_agree() -> None:
    dark_on_light = grid_of(render(SEVEN, 64))
    scan = Image.fromarray((SEVEN / 16 * 255).astype(np.uint8))
    light_on_dark = grid_of(encode(scan.resize((64, 64), Image.Resampling.BILINEAR)))
    assert np.abs(dark_on_light - light_on_dark).mean() < 0.05


def test_a_large_render_reaches_the_model_as_the_training_scan_did() -> None:
    trained_on = framed(SEVEN[None], Image.Resampling.BILINEAR)[0, 0]
    correlation = np.corrcoef(grid_of(render(SEVEN, 128)).ravel(), trained_on.ravel())[0, 1]
    assert correlation > 0.95, correlation


def test_uneven_lighting_is_removed_from_a_photo() -> None:
    trained_on = framed(SEVEN[None], Image.Resampling.BILINEAR)[0, 0]
    grid = grid_of(photo(SEVEN, np.random.default_rng(0)))
    correlation = np.corrcoef(grid.ravel(), trained_on.ravel())[0, 1]
    assert correlation > 0.8, correlation  # noise and blur cost a little


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


def test_blank_image_has_no_digit() -> None:
    with pytest.raises(InputError, match="image is blank"):
        grid_of(encode(Image.new("L", (64, 64), 255)))


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


def test_otsu_splits_two_clusters() -> None:
    values = np.concatenate([np.full(100, 0.1), np.full(30, 0.9)])
    assert 0.1 < otsu_threshold(values) < 0.9


@pytest.mark.parametrize(("size", "expected"), [(95, 95), (96, 48), (150, 75)])
def test_large_images_are_halved_before_the_numpy_work(size: int, expected: int) -> None:
    assert to_gray(decode_image(render(SEVEN, size))).shape == (expected, expected)


def test_a_halved_image_gives_the_grid_of_the_full_one() -> None:
    full = grid_of(render(SEVEN, 95))
    halved = grid_of(render(SEVEN, 96))
    assert np.abs(full - halved).mean() < 0.02
