"""Each fast stand-in against the numpy (or PIL) call it replaces.

histogram and linspace must give numpy's answer bit for bit, median numpy's exactly,
percentile to float noise, and box_weights PIL's box resize to float32 rounding: on
chosen hard cases and on what Hypothesis generates, any finite values for all but
histogram, which is held to the values the pipeline bins (see its docstring).
Derandomized: every run tries the same examples.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from handlers.fast_numpy import box_weights, histogram, linspace, median, percentile

PROPERTY = settings(max_examples=300, derandomize=True, database=None, deadline=None)
FINITE = st.floats(allow_nan=False, allow_infinity=False)
VALUES = arrays(np.float64, st.integers(1, 300), elements=FINITE)
# Values as the pipeline has them: ink and residuals around [0, 1], from float32 pixels.
PIXELS = arrays(np.float64, st.integers(1, 300), elements=st.floats(-2, 2, width=32))


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


def assert_histogram_is_numpys(values: np.ndarray, bins: int) -> None:
    counts, edges = histogram(values, bins)
    expected_counts, expected_edges = np.histogram(values, bins=bins)
    np.testing.assert_array_equal(edges, expected_edges)
    np.testing.assert_array_equal(counts, expected_counts)


def test_histogram_is_np_histogram_exactly() -> None:
    for values in samples(np.random.default_rng(0)):
        assert_histogram_is_numpys(values, 64)


@PROPERTY
@given(values=PIXELS, bins=st.integers(1, 100))
def test_histogram_is_np_histogram_on_pixel_values(values: np.ndarray, bins: int) -> None:
    assert_histogram_is_numpys(values, bins)


@pytest.mark.parametrize("size", [1, 2, 3, 10, 384, 9216])
def test_percentile_and_median_are_numpys(size: int) -> None:
    rng = np.random.default_rng(size)
    for values in (rng.random(size), rng.integers(0, 3, size).astype(np.float32)):
        kept = values.copy()
        for q in (0, 12.5, 50, 99.9, 100):
            assert percentile(values, q) == pytest.approx(np.percentile(values, q), abs=1e-15)
        assert median(values) == np.median(values)
        np.testing.assert_array_equal(values, kept)  # the caller's array is left alone
    assert np.isnan(median(np.array([1.0, np.nan, 2.0, 3.0])))


@PROPERTY
@given(values=PIXELS | VALUES, q=st.floats(0, 100))
def test_percentile_is_numpys_on_any_values(values: np.ndarray, q: float) -> None:
    kept = values.copy()
    assert percentile(values, q) == pytest.approx(np.percentile(values, q), abs=1e-15)
    np.testing.assert_array_equal(values, kept)


@PROPERTY
@given(values=PIXELS | VALUES | PIXELS.map(lambda a: a.astype(np.float32)))
def test_median_is_numpys_on_any_values(values: np.ndarray) -> None:
    kept = values.copy()
    assert median(values) == np.median(values)
    np.testing.assert_array_equal(values, kept)


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
    np.testing.assert_array_equal(linspace(start, stop, num), np.linspace(start, stop, num))


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # both overflow
@PROPERTY
@given(start=FINITE, stop=FINITE, num=st.integers(0, 200))
def test_linspace_is_numpys_on_any_range(start: float, stop: float, num: int) -> None:
    np.testing.assert_array_equal(linspace(start, stop, num), np.linspace(start, stop, num))


def pil_box_resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    resized = Image.fromarray(image.astype(np.float32), mode="F").resize(
        (width, height), Image.Resampling.BOX
    )
    return np.asarray(resized)


@PROPERTY
@given(size=st.integers(1, 100), new_size=st.integers(1, 100), seed=st.integers(0, 2**32 - 1))
def test_box_weights_resize_a_line_as_pil_does(size: int, new_size: int, seed: int) -> None:
    line = np.random.default_rng(seed).random(size)
    expected = pil_box_resize(line[None], 1, new_size)[0]
    np.testing.assert_allclose(line @ box_weights(size, new_size), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("shape", "new_shape"),
    [((1, 1), (32, 32)), ((96, 96), (32, 32)), ((40, 7), (32, 6)), ((3, 90), (1, 32))],
)
def test_box_weights_resize_an_image_as_pil_does(
    shape: tuple[int, int], new_shape: tuple[int, int]
) -> None:
    image = np.random.default_rng(7).random(shape)
    (height, new_height), (width, new_width) = zip(shape, new_shape, strict=True)
    resized = box_weights(height, new_height).T @ image @ box_weights(width, new_width)
    np.testing.assert_allclose(resized, pil_box_resize(image, *new_shape), rtol=0, atol=1e-6)
    assert not box_weights(height, new_height).flags.writeable  # cached and shared
