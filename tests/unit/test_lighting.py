"""The lighting fit against the plain numpy it replaces.

background_of solves its least squares by normal equations and bins Otsu's histogram with
bincount; each must give what np.linalg.lstsq and np.histogram give, to float noise or
exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from handlers.digit_features import to_gray
from handlers.image_wire import decode_image
from handlers.lighting import (
    FIT_ROUNDS,
    FIT_SIZE,
    axis_powers,
    background_of,
    fit_quadratic,
    grid_gram,
    otsu_threshold,
    quadratic_basis,
    quadratic_surface,
)
from tests.images import photo, render
from tests.unit.test_fast_numpy import samples

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


def test_otsu_splits_two_clusters() -> None:
    values = np.concatenate([np.full(100, 0.1), np.full(30, 0.9)])
    assert 0.1 < otsu_threshold(values) < 0.9


def test_otsu_threshold_is_the_np_histogram_one_exactly() -> None:
    for values in samples(np.random.default_rng(1)):
        assert otsu_threshold(values) == reference_otsu(values)


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
        np.testing.assert_allclose(fit_quadratic(values, mask), expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize(("height", "width"), [(1, 1), (1, 5), (6, 1), (96, 96), (30, 70)])
def test_separable_surface_is_the_basis_product(height: int, width: int) -> None:
    coefficients = np.random.default_rng(2).normal(0, 1, 6)
    expected = (reference_basis(height, width) @ coefficients).reshape(height, width)
    np.testing.assert_allclose(
        quadratic_surface(coefficients, height, width), expected, rtol=0, atol=1e-12
    )


def test_cached_grids_are_read_only() -> None:
    assert not axis_powers(5).flags.writeable
    assert not quadratic_basis(3, 4).flags.writeable
    assert not grid_gram(3, 4)[0].flags.writeable


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
