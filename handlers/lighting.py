"""The paper's uneven lighting under a digit, estimated so that it can be subtracted.

Lighting is smooth, so a quadratic surface in (x, y) captures it. ``background_of`` fits
one by least squares to a small copy of the image, then refits on the pixels that Otsu's
threshold calls paper, so that the strokes don't lift it. The least squares go through
6x6 normal equations instead of np.linalg.lstsq on a (pixels, 6) matrix;
tests/unit/test_lighting.py checks them against lstsq.
(measured: docs/load-and-bench.md#image-pipeline-measurements)
"""

from __future__ import annotations

import functools

import numpy as np

from handlers.fast_numpy import box_weights, histogram

FIT_SIZE = 32  # the lighting fit runs on a copy at most this big: lighting is smooth
FIT_ROUNDS = 3  # fit on every pixel, then twice on the pixels Otsu's cut calls paper

# The basis's columns as powers (i, j) of x^i y^j: 1, x, y, x^2, xy, y^2.
_TERMS = ((0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2))
_TERM_X, _TERM_Y = np.array(_TERMS).T
_GRAM_X = _TERM_X[:, None] + _TERM_X  # basis.T @ basis [a, b] sums x^_GRAM_X y^_GRAM_Y
_GRAM_Y = _TERM_Y[:, None] + _TERM_Y


def background_of(ink: np.ndarray, rounds: int = FIT_ROUNDS) -> np.ndarray:
    """The paper's level under the strokes: a quadratic surface fitted to paper pixels.

    The fit is repeated on the pixels that Otsu's threshold puts below the ink.
    """
    height, width = ink.shape
    scale = min(1.0, FIT_SIZE / max(height, width))  # fit on a small copy, evaluate everywhere
    small_height, small_width = max(1, round(height * scale)), max(1, round(width * scale))
    small = box_weights(height, small_height).T @ ink @ box_weights(width, small_width)
    paper: np.ndarray | None = None  # every pixel, to begin with
    coefficients = np.zeros(len(_TERMS))
    for round_ in range(rounds):
        coefficients = fit_quadratic(small, paper)
        if round_ == rounds - 1:
            break  # the last fit is the answer: re-splitting the pixels would be wasted
        residual = small - quadratic_surface(coefficients, *small.shape)
        paper = residual <= otsu_threshold(residual)
        if np.count_nonzero(paper) < len(_TERMS):
            break
    return quadratic_surface(coefficients, height, width)


def otsu_threshold(values: np.ndarray, bins: int = 64) -> float:
    """The cut that best separates ``values`` into two classes (Otsu's method)."""
    counts, edges = histogram(values, bins)
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = counts.cumsum()
    weight_high = weight_low[-1] - weight_low
    sum_low = (counts * centres).cumsum()
    mean_low = sum_low / np.maximum(weight_low, 1)
    mean_high = (sum_low[-1] - sum_low) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(edges[int(between.argmax()) + 1])


def fit_quadratic(values: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """``lstsq(quadratic_basis(h, w)[mask], values[mask])`` by the 6x6 normal equations.

    The basis on [-1, 1] is well conditioned, so squaring it loses nothing that matters
    in float64 and skips an SVD of a (pixels, 6) matrix; a singular or ill-conditioned
    system (a 1xN image, paper on one row) falls back to lstsq's minimum-norm answer.
    ``mask`` None means every pixel.
    """
    if mask is None:  # then the normal matrix depends only on the grid's size
        gram, solvable = grid_gram(*values.shape)
        weighted = values
    else:
        weights = mask.astype(np.float64)
        gram = _gram(weights)
        solvable = _well_conditioned(gram)
        weighted = values * weights  # zero weight drops a pixel without copying rows out
    if solvable:
        return np.linalg.solve(gram, _moments(weighted))
    basis = quadratic_basis(*values.shape)
    if mask is None:
        return np.linalg.lstsq(basis, values.ravel(), rcond=None)[0]
    flat_mask = mask.ravel()
    return np.linalg.lstsq(basis[flat_mask], values.ravel()[flat_mask], rcond=None)[0]


def quadratic_surface(coefficients: np.ndarray, height: int, width: int) -> np.ndarray:
    """``(quadratic_basis(height, width) @ coefficients).reshape(height, width)``.

    The surface is sum c[j, i] y^j x^i, i.e. ypowers @ c @ xpowers.T: one small matrix
    product from the 1-D axes, with no (height * width, 6) matrix made.
    """
    grid = np.zeros((3, 3))
    grid[_TERM_Y, _TERM_X] = coefficients
    return axis_powers(height)[:, :3] @ grid @ axis_powers(width)[:, :3].T


@functools.lru_cache(maxsize=4)
def quadratic_basis(height: int, width: int) -> np.ndarray:
    """Columns 1, x, y, x^2, xy, y^2 over a height x width grid scaled to [-1, 1],
    read-only."""
    rows, cols = np.meshgrid(_axis(height), _axis(width), indexing="ij")
    x, y = cols.ravel(), rows.ravel()
    basis = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1)
    basis.flags.writeable = False  # cached and shared between calls
    return basis


@functools.lru_cache(maxsize=8)
def grid_gram(height: int, width: int) -> tuple[np.ndarray, bool]:
    """The normal matrix over every pixel of a grid, read-only, and whether to use it."""
    gram = _gram(np.ones((height, width)))
    gram.flags.writeable = False
    return gram, _well_conditioned(gram)


@functools.lru_cache(maxsize=8)
def axis_powers(size: int) -> np.ndarray:
    """Columns axis^0 .. axis^4 along one axis of ``size`` pixels scaled to [-1, 1],
    read-only: the powers the normal equations sum."""
    powers = _axis(size)[:, None] ** np.arange(5)
    powers.flags.writeable = False
    return powers


def _gram(weights: np.ndarray) -> np.ndarray:
    """``basis.T @ (basis * weights.ravel()[:, None])`` for a (height, width) weight grid.

    Each entry is a weighted sum of x^i y^j, which on a grid is ypowers.T @ weights @
    xpowers: two small products instead of one over a (pixels, 6) matrix.
    """
    height, width = weights.shape
    sums = axis_powers(height).T @ (weights @ axis_powers(width))
    return sums[_GRAM_Y, _GRAM_X]


def _moments(weighted: np.ndarray) -> np.ndarray:
    """``basis.T @ weighted.ravel()``: the right-hand side of the normal equations."""
    height, width = weighted.shape
    sums = axis_powers(height)[:, :3].T @ (weighted @ axis_powers(width)[:, :3])
    return sums[_TERM_Y, _TERM_X]


def _well_conditioned(gram: np.ndarray) -> bool:
    """Whether the normal equations give lstsq's answer to far better than float32."""
    eigenvalues = np.linalg.eigvalsh(gram)
    return bool(eigenvalues[0] > eigenvalues[-1] * 1e-8)


@functools.lru_cache(maxsize=8)
def _axis(size: int) -> np.ndarray:
    """``linspace(-1, 1, size)``, read-only: the coordinates along one image axis."""
    axis = np.linspace(-1, 1, size)
    axis.flags.writeable = False
    return axis
