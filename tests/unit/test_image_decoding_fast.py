"""The image decoder's fast numerics against the plain numpy they stand in for.

background_of solves its least squares by normal equations, bins Otsu's histogram with
bincount and takes percentiles by one partition; ink_to_grid frames the digit with two
matrix products. Each must give what np.linalg.lstsq, np.histogram, np.percentile and
Image.resize give, to float noise or exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from handlers import image_decoding
from handlers.image_decoding import (
    CANVAS,
    FIT_ROUNDS,
    FIT_SIZE,
    GRID,
    INK_THRESHOLD,
    _fit_quadratic,
    _histogram,
    _linspace,
    _median,
    _percentile,
    _quadratic_surface,
    background_of,
    decode_image,
    ink_from_gray,
    ink_to_grid,
    otsu_threshold,
    to_gray,
)
from tests.images import photo, render

SEVEN = load_digits().images[7]


def reference_basis(height: int, width: int) -> np.ndarray:
    rows, cols = np.meshgrid(np.linspace(-1, 1, height), np.linspace(-1, 1, width), indexing="ij")
    x, y = cols.ravel(), rows.ravel()
    return np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1)


def reference_otsu(values: np.ndarray, bins: int = 64) -> float:
    counts, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(counts)
    weight_high = weight_low[-1] - weight_low
    sum_low = np.cumsum(counts * centres)
    mean_low = sum_low / np.maximum(weight_low, 1)
    mean_high = (sum_low[-1] - sum_low) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(edges[int(np.argmax(between)) + 1])


def reference_background(ink: np.ndarray, rounds: int = FIT_ROUNDS) -> np.ndarray:
    """background_of as first written: lstsq on a (pixels, 6) basis, np.histogram Otsu."""
    from PIL import Image

    height, width = ink.shape
    scale = min(1.0, FIT_SIZE / max(height, width))
    small_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small_image = Image.fromarray(ink.astype(np.float32), mode="F")
    small = np.asarray(small_image.resize(small_size, Image.Resampling.BOX)).ravel()
    basis = reference_basis(small_size[1], small_size[0])
    paper = np.ones(small.shape, dtype=bool)
    coefficients = np.zeros(6)
    for _ in range(rounds):
        coefficients = np.linalg.lstsq(basis[paper], small[paper], rcond=None)[0]
        residual = small - basis @ coefficients
        paper = residual <= reference_otsu(residual)
        if paper.sum() < 6:
            break
    return (reference_basis(height, width) @ coefficients).reshape(height, width)


def samples(rng: np.random.Generator) -> list[np.ndarray]:
    """Value sets that stress the binning: clusters, ties, constants, values on edges."""
    on_edges = np.linspace(-0.3, 1.7, 65)
    return [
        rng.normal(0, 1, 4096),
        np.concatenate([rng.normal(0.1, 0.02, 3000), rng.normal(0.8, 0.1, 1000)]),
        rng.random(7),
        rng.integers(0, 5, 500).astype(np.float64),
        np.full(100, 0.25),
        np.array([3.0]),
        on_edges,
        np.concatenate([on_edges, np.nextafter(on_edges, np.inf), np.nextafter(on_edges, -np.inf)]),
        np.linspace(0, 1, 4096) ** 3,
        rng.random((64, 48)) * 1e-9 + 1e3,  # a narrow range far from zero
    ]


def test_histogram_is_np_histogram_exactly() -> None:
    for values in samples(np.random.default_rng(0)):
        counts, edges = _histogram(values, 64)
        expected_counts, expected_edges = np.histogram(values, bins=64)
        np.testing.assert_array_equal(edges, expected_edges)
        np.testing.assert_array_equal(counts, expected_counts)


def test_otsu_threshold_is_the_np_histogram_one_exactly() -> None:
    for values in samples(np.random.default_rng(1)):
        assert otsu_threshold(values) == reference_otsu(values)


@pytest.mark.parametrize(
    ("height", "width"), [(1, 1), (1, 7), (9, 1), (2, 3), (3, 3), (7, 5), (48, 64), (64, 64)]
)
def test_normal_equations_give_lstsq_answer(height: int, width: int) -> None:
    rng = np.random.default_rng(height * 100 + width)
    basis = reference_basis(height, width)
    surface = basis @ rng.normal(0, 1, 6)
    values = (surface + rng.normal(0, 0.05, surface.shape)).reshape(height, width)
    masks = [
        None,
        rng.random((height, width)) < 0.7,
        rng.random((height, width)) < 0.1,
        np.zeros((height, width), dtype=bool),  # no pixels at all: lstsq gives zeros
    ]
    row = np.zeros((height, width), dtype=bool)
    row[height // 2] = True  # one row: singular in y, lstsq's minimum-norm answer
    masks.append(row)
    for mask in masks:
        chosen = np.ones(height * width, dtype=bool) if mask is None else mask.ravel()
        expected = np.linalg.lstsq(basis[chosen], values.ravel()[chosen], rcond=None)[0]
        np.testing.assert_allclose(_fit_quadratic(values, mask), expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize(("height", "width"), [(1, 1), (1, 5), (6, 1), (96, 96), (30, 70)])
def test_separable_surface_is_the_basis_product(height: int, width: int) -> None:
    coefficients = np.random.default_rng(2).normal(0, 1, 6)
    expected = (reference_basis(height, width) @ coefficients).reshape(height, width)
    np.testing.assert_allclose(
        _quadratic_surface(coefficients, height, width), expected, rtol=0, atol=1e-12
    )


def test_cached_grids_are_read_only() -> None:
    assert not image_decoding._axis_powers(5).flags.writeable
    assert not image_decoding._quadratic_basis(3, 4).flags.writeable
    assert not image_decoding._grid_gram(3, 4)[0].flags.writeable


@pytest.mark.parametrize("size", [1, 2, 3, 10, 384, 9216])
def test_percentile_and_median_are_numpys(size: int) -> None:
    rng = np.random.default_rng(size)
    for values in (rng.random(size), rng.integers(0, 3, size).astype(np.float32)):
        kept = values.copy()
        for q in (0, 12.5, 50, 99.9, 100):
            assert _percentile(values, q) == pytest.approx(np.percentile(values, q), abs=1e-15)
        assert _median(values) == np.median(values)
        np.testing.assert_array_equal(values, kept)  # the caller's array is left alone
    assert np.isnan(_median(np.array([1.0, np.nan, 2.0, 3.0])))


@pytest.mark.parametrize(
    "ink",
    [
        1 - to_gray(decode_image(render(SEVEN, 96))),
        1 - to_gray(decode_image(photo(SEVEN, np.random.default_rng(0)))),
        1 - to_gray(decode_image(render(SEVEN, 150, "RGB", "JPEG"))),
        np.random.default_rng(3).random((1, 40)).astype(np.float32),
        np.random.default_rng(4).random((2, 2)).astype(np.float32),
    ],
    ids=["render", "photo", "jpeg", "one-row", "two-by-two"],
)
def test_background_matches_the_lstsq_reference(ink: np.ndarray) -> None:
    # The reference shrinks with Image.resize, which rounds its two passes to float32;
    # background_of applies the same weights as float64 matrix products.
    np.testing.assert_allclose(background_of(ink), reference_background(ink), rtol=0, atol=1e-6)


def reference_ink_to_grid(ink: np.ndarray) -> np.ndarray:
    """ink_to_grid as first written: an image round trip, a resize, a canvas, block sums."""
    from PIL import Image

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


def _dot(height: int, width: int, row: int, col: int) -> np.ndarray:
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
        _dot(20, 20, 4, 15),  # a one-pixel digit, blown up to the canvas
    ],
    ids=["render-96", "render-64", "photo", "jpeg", "tall", "wide", "one-pixel"],
)
def test_framing_matches_the_resize_reference(ink: np.ndarray) -> None:
    grid = ink_to_grid(ink)
    assert grid.shape == (GRID, GRID)
    np.testing.assert_allclose(grid, reference_ink_to_grid(ink), rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "values",
    [
        np.array([0.1, 0.1, 0.9], dtype=np.float32),  # float32 edges, as np.histogram makes
        np.array([1, 1, 5, 9]),
        np.array([], dtype=np.float64),
    ],
    ids=["float32", "int", "empty"],
)
def test_other_inputs_follow_np_histogram(values: np.ndarray) -> None:
    assert otsu_threshold(values) == reference_otsu(values)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_values_raise_np_histograms_error(bad: float) -> None:
    with pytest.raises(ValueError, match="autodetected range of"):
        otsu_threshold(np.array([0.0, bad, 1.0]))


@pytest.mark.parametrize(
    ("start", "stop", "num"),
    [
        (0.0, 1.0, 65),
        (-0.3, 1.7, 65),
        (1e3, 1e3 + 1e-9, 65),
        (0.1, 0.7, 7),
        (2.0, 2.0, 5),
        (0.0, 5e-324, 3),
        (0.5, 1.5, 1),
        (0.0, 1.0, 2),
    ],
)
def test_linspace_is_numpys_bit_for_bit(start: float, stop: float, num: int) -> None:
    np.testing.assert_array_equal(_linspace(start, stop, num), np.linspace(start, stop, num))
