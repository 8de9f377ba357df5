"""A decoded digit image -> the model's 8x8 grid, framed as the training scans were.

ink_to_grid frames the digit with two cached matrix products; the reference below is the
image round trip, resize, canvas and block sums they replace.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from handlers.digit_features import (
    CANVAS,
    GRID,
    INK_THRESHOLD,
    image_to_grid,
    ink_from_gray,
    ink_to_grid,
    to_gray,
)
from handlers.errors import InputError
from handlers.image_wire import decode_image
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


def test_blank_image_has_no_digit() -> None:
    with pytest.raises(InputError, match="image is blank"):
        grid_of(encode(Image.new("L", (64, 64), 255)))


@pytest.mark.parametrize(("size", "expected"), [(95, 95), (96, 48), (150, 75)])
def test_large_images_are_halved_before_the_numpy_work(size: int, expected: int) -> None:
    assert to_gray(decode_image(render(SEVEN, size))).shape == (expected, expected)


def test_a_halved_image_gives_the_grid_of_the_full_one() -> None:
    full = grid_of(render(SEVEN, 95))
    halved = grid_of(render(SEVEN, 96))
    assert np.abs(full - halved).mean() < 0.02


def reference_ink_to_grid(ink: np.ndarray) -> np.ndarray:
    """ink_to_grid as first written: an image round trip, a resize, a canvas, block sums."""
    strong = ink > INK_THRESHOLD
    rows = np.flatnonzero(strong.any(axis=1))
    cols = np.flatnonzero(strong.any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    digit = np.where(crop > INK_THRESHOLD / 2, crop, 0.0).astype(np.float32)
    height, width = digit.shape
    scale = CANVAS / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    fitted = np.asarray(Image.fromarray(digit, mode="F").resize(size, Image.Resampling.BOX))
    canvas = np.zeros((CANVAS, CANVAS), dtype=np.float32)
    top, left = (CANVAS - size[1]) // 2, (CANVAS - size[0]) // 2
    canvas[top : top + size[1], left : left + size[0]] = fitted
    block = CANVAS // GRID
    grid = canvas.reshape(GRID, block, GRID, block).sum(axis=(1, 3)) / (block * block)
    return np.clip(grid, 0.0, 1.0)


def dot(height: int, width: int, row: int, col: int) -> np.ndarray:
    ink = np.zeros((height, width))
    ink[row, col] = 1.0
    return ink


@pytest.mark.parametrize(
    "ink",
    [
        ink_from_gray(to_gray(decode_image(render(SEVEN, 96)))),
        ink_from_gray(to_gray(decode_image(render(SEVEN, 64)))),
        ink_from_gray(to_gray(decode_image(photo(SEVEN, np.random.default_rng(0))))),
        ink_from_gray(to_gray(decode_image(render(SEVEN, 150, "RGB", "JPEG")))),
        np.random.default_rng(5).random((40, 7)),  # tall: fitted by height
        np.random.default_rng(6).random((3, 90)),  # wide: fitted by width, shrunk
        dot(20, 20, 4, 15),  # a one-pixel digit, blown up to the canvas
    ],
    ids=["render-96", "render-64", "photo", "jpeg", "tall", "wide", "one-pixel"],
)
def test_framing_matches_the_resize_reference(ink: np.ndarray) -> None:
    grid = ink_to_grid(ink)
    assert grid.shape == (GRID, GRID)
    np.testing.assert_allclose(grid, reference_ink_to_grid(ink), rtol=0, atol=1e-6)
