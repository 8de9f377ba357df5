"""Decode a PNG/JPEG of a handwritten digit into the 8x8 ink grid the digits model reads.

The same ``ink_to_grid`` normalisation runs on the training images (see models/digits.py),
so a photo of a digit drawn dark-on-light, a large render and an 8x8 scan all reach the
model framed the same way: ink high, background zero, cropped to the digit, centred.
"""

from __future__ import annotations

import base64
import binascii
import functools
import io
import math
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from handlers.errors import InputError, PayloadTooLarge, UnsupportedMediaType

FORMATS = ("PNG", "JPEG")
# 4096 x 4096: a 12 MP phone photo fits; decoding and framing one this big takes ~0.7 s of
# a worker here, the most one request may hold it (6300 x 6300 took 0.9 s and 107 MB).
MAX_SIDE = 4096
MAX_PIXELS = MAX_SIDE * MAX_SIDE
GRID = 8  # the model's input is GRID x GRID
CANVAS = 32  # the digit is fitted into CANVAS x CANVAS, then averaged into GRID x GRID
INK_THRESHOLD = 0.25  # fraction of the ink range that counts as part of the digit
# The numpy work below is per pixel: an image of HALVE_FROM px or more (long side) is first
# halved by a 2x2 box average, in C. Strokes keep their shape; a 96 px render costs 0.53 ->
# 0.34 ms, held-out accuracy unchanged. Reducing further costs photos detail: a 480 px
# photo brought to 48 px matches its training frame less (correlation 0.81 -> 0.77).
HALVE_FROM = 96
FIT_SIZE = 32  # the lighting fit runs on a copy at most this big: lighting is smooth
FIT_ROUNDS = 3  # fit on every pixel, then twice on the pixels Otsu's cut calls paper


def image_from_json(document: Any) -> bytes:
    """The image bytes of a JSON payload ``{"image": "<base64>"}`` (a data URL works too)."""
    if not isinstance(document, dict) or not isinstance(document.get("image"), str):
        raise InputError('JSON input must be an object {"image": "<base64 PNG or JPEG>"}')
    encoded = document["image"]
    if encoded.startswith("data:"):
        encoded = encoded.partition(",")[2]
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise InputError('"image" is not valid base64') from None


def decode_image(data: bytes) -> Image.Image:
    """Open PNG or JPEG bytes, refusing other formats, broken files and pixel bombs."""
    if not data:
        raise InputError("image is empty")
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise InputError("image could not be decoded as PNG or JPEG") from None
    except Image.DecompressionBombError as exc:  # PIL's own, far larger, limit
        raise PayloadTooLarge(f"image is too large: {exc}") from None
    except ValueError as exc:  # PNG text/ICC chunks over PIL's 1 MB (MAX_TEXT_CHUNK)
        raise PayloadTooLarge(f"image metadata is too large: {exc}") from None
    except Exception as exc:  # a known signature, then garbage: any error is the file's
        raise InputError(f"image could not be decoded as PNG or JPEG: {exc}") from None
    if image.format not in FORMATS:
        raise UnsupportedMediaType(f"image must be PNG or JPEG, got {image.format!r}")
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise PayloadTooLarge(
            f"image has {width}x{height} pixels, more than {MAX_PIXELS:,} ({MAX_SIDE} x {MAX_SIDE})"
        )
    try:
        image.load()
    except ValueError as exc:
        if "too large" in str(exc):  # a decompressed chunk over PIL's limit, met late
            raise PayloadTooLarge(f"image metadata is too large: {exc}") from None
        raise InputError(f"image could not be decoded as {image.format}: {exc}") from None
    except Exception as exc:  # truncated or corrupt data: Pillow's errors are many
        raise InputError(f"image could not be decoded as {image.format}: {exc}") from None
    return image


def to_gray(image: Image.Image) -> np.ndarray:
    """Luminance in [0, 1], with any transparency composited onto white paper; halved
    when its long side is HALVE_FROM or more."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, rgba)
    if image.mode != "L":
        image = image.convert("L")
    if max(image.size) >= HALVE_FROM:
        image = image.reduce(2)
    return np.asarray(image, dtype=np.float32) / 255.0


def ink_from_gray(gray: np.ndarray) -> np.ndarray:
    """Ink intensity in [0, 1] with the paper, even unevenly lit, mapped to 0.

    A light border means dark ink on paper, so the image is inverted; a dark border means
    light ink, as in the training scans. Then the lighting is estimated and subtracted.
    """
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    ink = 1.0 - gray if _median(border) > 0.5 else gray
    background = background_of(ink)
    ink = np.subtract(ink, background, out=background)  # into the fresh surface: no copy
    np.maximum(ink, 0.0, out=ink)  # in place, as are the clips below
    span = _percentile(ink, 99.9)
    if span < 0.1:
        raise InputError("image is blank: no digit stands out from the background")
    ink /= span
    return np.minimum(ink, 1.0, out=ink)


def _median(values: np.ndarray) -> float:
    """``np.median`` of a 1-D array, NaN included, by one partition and no generality."""
    if values.dtype not in (np.float32, np.float64):  # numpy's own rules for the rest
        return float(np.median(values))
    middle = values.size // 2
    part = np.partition(values, (middle - 1, middle, values.size - 1))
    if np.isnan(part[-1]):
        return float("nan")
    if values.size % 2:
        return float(part[middle])
    return float((part[middle - 1] + part[middle]) / 2)  # in the array's dtype, as numpy


def _percentile(values: np.ndarray, q: float) -> float:
    """``np.percentile(values, q)`` (linear method) without its general-case overhead."""
    if values.dtype != np.float64:  # the interpolation below is float64's
        return float(np.percentile(values, q))
    flat = values.ravel()
    position = (flat.size - 1) * (q / 100)
    lower = int(position)
    # One pivot is several times cheaper than two; the next value up is then the
    # smallest of those above it. np.partition copies, so ``values`` keeps its order.
    part = np.partition(flat, lower)
    low = float(part[lower])
    high = float(part[lower + 1 :].min()) if lower + 1 < flat.size else low
    gamma = position - lower
    # numpy's _lerp: interpolate from the nearer end, so q=100 gives the max exactly
    if gamma >= 0.5:
        return high - (high - low) * (1 - gamma)
    return low + (high - low) * gamma


def background_of(ink: np.ndarray, rounds: int = FIT_ROUNDS) -> np.ndarray:
    """The paper's level under the strokes: a quadratic surface fitted to paper pixels.

    Uneven lighting is smooth, so a quadratic in (x, y) captures it; the fit is repeated
    on the pixels that Otsu's threshold puts below the ink, so strokes don't lift it.
    """
    height, width = ink.shape
    scale = min(1.0, FIT_SIZE / max(height, width))  # fit on a small copy, evaluate everywhere
    small_height, small_width = max(1, round(height * scale)), max(1, round(width * scale))
    small = _box_weights(height, small_height).T @ ink @ _box_weights(width, small_width)
    paper: np.ndarray | None = None  # every pixel, to begin with
    coefficients = np.zeros(len(_TERMS))
    for round_ in range(rounds):
        coefficients = _fit_quadratic(small, paper)
        if round_ == rounds - 1:
            break  # the last fit is the answer: re-splitting the pixels would be wasted
        residual = small - _quadratic_surface(coefficients, *small.shape)
        paper = residual <= otsu_threshold(residual)
        if np.count_nonzero(paper) < len(_TERMS):
            break
    return _quadratic_surface(coefficients, height, width)


def _fit_quadratic(values: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """``lstsq(_quadratic_basis(h, w)[mask], values[mask])`` by the 6x6 normal equations.

    The basis on [-1, 1] is well conditioned, so squaring it loses nothing that matters
    in float64 and skips an SVD of a (pixels, 6) matrix; a singular or ill-conditioned
    system (a 1xN image, paper on one row) falls back to lstsq's minimum-norm answer.
    ``mask`` None means every pixel.
    """
    if mask is None:  # then the normal matrix depends only on the grid's size
        gram, solvable = _grid_gram(*values.shape)
        weighted = values
    else:
        weights = mask.astype(np.float64)
        gram = _gram(weights)
        solvable = _well_conditioned(gram)
        weighted = values * weights  # zero weight drops a pixel without copying rows out
    if solvable:
        return np.linalg.solve(gram, _moments(weighted))
    basis = _quadratic_basis(*values.shape)
    if mask is None:
        return np.linalg.lstsq(basis, values.ravel(), rcond=None)[0]
    flat_mask = mask.ravel()
    return np.linalg.lstsq(basis[flat_mask], values.ravel()[flat_mask], rcond=None)[0]


# The basis's columns as powers (i, j) of x^i y^j: 1, x, y, x^2, xy, y^2.
_TERMS = ((0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2))
_TERM_X, _TERM_Y = np.array(_TERMS).T
_GRAM_X = _TERM_X[:, None] + _TERM_X  # basis.T @ basis [a, b] sums x^_GRAM_X y^_GRAM_Y
_GRAM_Y = _TERM_Y[:, None] + _TERM_Y


def _gram(weights: np.ndarray) -> np.ndarray:
    """``basis.T @ (basis * weights.ravel()[:, None])`` for a (height, width) weight grid.

    Each entry is a weighted sum of x^i y^j, which on a grid is ypowers.T @ weights @
    xpowers: two small products instead of one over a (pixels, 6) matrix.
    """
    height, width = weights.shape
    sums = _axis_powers(height).T @ (weights @ _axis_powers(width))
    return sums[_GRAM_Y, _GRAM_X]


def _moments(weighted: np.ndarray) -> np.ndarray:
    """``basis.T @ weighted.ravel()``: the right-hand side of the normal equations."""
    height, width = weighted.shape
    sums = _axis_powers(height)[:, :3].T @ (weighted @ _axis_powers(width)[:, :3])
    return sums[_TERM_Y, _TERM_X]


def _well_conditioned(gram: np.ndarray) -> bool:
    """Whether the normal equations give lstsq's answer to far better than float32."""
    eigenvalues = np.linalg.eigvalsh(gram)
    return bool(eigenvalues[0] > eigenvalues[-1] * 1e-8)


@functools.lru_cache(maxsize=8)
def _grid_gram(height: int, width: int) -> tuple[np.ndarray, bool]:
    """The normal matrix over every pixel of a grid, read-only, and whether to use it."""
    gram = _gram(np.ones((height, width)))
    gram.flags.writeable = False
    return gram, _well_conditioned(gram)


@functools.lru_cache(maxsize=8)
def _axis(size: int) -> np.ndarray:
    """``linspace(-1, 1, size)``, read-only: the coordinates along one image axis."""
    axis = np.linspace(-1, 1, size)
    axis.flags.writeable = False
    return axis


@functools.lru_cache(maxsize=8)
def _axis_powers(size: int) -> np.ndarray:
    """Columns axis^0 .. axis^4, read-only: the powers the normal equations sum."""
    powers = _axis(size)[:, None] ** np.arange(5)
    powers.flags.writeable = False
    return powers


@functools.lru_cache(maxsize=4)
def _quadratic_basis(height: int, width: int) -> np.ndarray:
    """Columns 1, x, y, x^2, xy, y^2 over a height x width grid scaled to [-1, 1]."""
    rows, cols = np.meshgrid(_axis(height), _axis(width), indexing="ij")
    x, y = cols.ravel(), rows.ravel()
    basis = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1)
    basis.flags.writeable = False  # cached and shared between calls
    return basis


def _quadratic_surface(coefficients: np.ndarray, height: int, width: int) -> np.ndarray:
    """``(_quadratic_basis(height, width) @ coefficients).reshape(height, width)``.

    The surface is sum c[j, i] y^j x^i, i.e. ypowers @ c @ xpowers.T: one small matrix
    product from the 1-D axes, with no (height * width, 6) matrix made.
    """
    grid = np.zeros((3, 3))
    grid[_TERM_Y, _TERM_X] = coefficients
    return _axis_powers(height)[:, :3] @ grid @ _axis_powers(width)[:, :3].T


def otsu_threshold(values: np.ndarray, bins: int = 64) -> float:
    """The cut that best separates ``values`` into two classes (Otsu's method)."""
    counts, edges = _histogram(values, bins)
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = counts.cumsum()
    weight_high = weight_low[-1] - weight_low
    sum_low = (counts * centres).cumsum()
    mean_low = sum_low / np.maximum(weight_low, 1)
    mean_high = (sum_low[-1] - sum_low) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(edges[int(between.argmax()) + 1])


def _histogram(values: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.histogram(values, bins)`` for finite values: the same edges and counts.

    np.histogram's generality (weights, ranges, blocks) costs more than the counting on
    a few thousand values; this takes its uniform-bin path, corrections included.
    """
    flat = values.ravel()
    if flat.dtype != np.float64 or flat.size == 0:  # other edge types, or no range
        return np.histogram(flat, bins)
    low, high = float(flat.min()), float(flat.max())
    if not (math.isfinite(low) and math.isfinite(high)):  # np.histogram's own error
        return np.histogram(flat, bins)
    if low == high:  # np.histogram widens an empty range the same way
        low, high = low - 0.5, high + 0.5
    edges = _linspace(low, high, bins + 1)
    index = ((flat - low) * (bins / (high - low))).astype(np.intp)
    np.minimum(index, bins - 1, out=index)
    # The scaled value can land an ulp off near an edge: settle it against the edges
    # themselves, as np.histogram does. That is rare, so only check for it cheaply.
    below = flat < edges.take(index)
    above = flat >= np.append(edges[1:-1], np.inf).take(index)  # the last bin is closed
    if below.any() or above.any():
        index = index - below + above
    return np.bincount(index, minlength=bins), edges


def _linspace(start: float, stop: float, num: int) -> np.ndarray:
    """``np.linspace(start, stop, num)`` for floats, bit for bit, without its ~5 us of
    argument handling: the same steps in the same order (arange * step + start)."""
    if num < 2 or stop == start:  # numpy's own special cases (no step, a zero step)
        return np.linspace(start, stop, num)
    step = (stop - start) / (num - 1)
    if step == 0:  # a denormal range: numpy divides first, then multiplies
        return np.linspace(start, stop, num)
    values = np.arange(num, dtype=np.float64)
    values *= step
    values += start
    values[-1] = stop
    return values


def ink_to_grid(ink: np.ndarray) -> np.ndarray:
    """Crop ink to the digit, fit it centred in a square canvas, average it into 8x8."""
    strong = ink > INK_THRESHOLD
    rows = np.flatnonzero(strong.any(axis=1))
    cols = np.flatnonzero(strong.any(axis=0))
    if rows.size == 0:
        raise InputError("image is blank: no digit stands out from the background")
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    digit = np.where(crop > INK_THRESHOLD / 2, crop, 0.0)  # specks to 0
    to_rows, to_cols = _framing(*digit.shape)
    grid = to_rows @ digit @ to_cols
    return np.minimum(np.maximum(grid, 0.0), 1.0)  # np.clip, without its wrapper's cost


@functools.lru_cache(maxsize=512)
def _framing(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(to_rows, to_cols): ``to_rows @ crop @ to_cols`` is a height x width crop resized to
    fit CANVAS x CANVAS (box filter), centred, and averaged in blocks into GRID x GRID.

    Each step is linear, so the three fold into two small matrices per crop size: two
    matrix products replace an image round trip, a resize, a canvas and a block sum.
    """
    scale = CANVAS / max(height, width)
    fitted_height, fitted_width = max(1, round(height * scale)), max(1, round(width * scale))
    top, left = (CANVAS - fitted_height) // 2, (CANVAS - fitted_width) // 2
    block = CANVAS // GRID
    pool = np.kron(np.eye(GRID), np.full(block, 1 / block))  # (GRID, CANVAS) block means
    to_rows = pool[:, top : top + fitted_height] @ _box_weights(height, fitted_height).T
    to_cols = _box_weights(width, fitted_width) @ pool[:, left : left + fitted_width].T
    to_rows.flags.writeable = to_cols.flags.writeable = False  # cached and shared
    return to_rows, to_cols


@functools.lru_cache(maxsize=512)
def _box_weights(size: int, new_size: int) -> np.ndarray:
    """(size, new_size): PIL's box-filter resize of a line of ``size`` pixels to
    ``new_size`` as a matrix, so that ``line @ weights`` is the resized line.

    Read off PIL itself (row i is unit vector i, resized): a matrix product then gives
    what Image.resize gives, to float32 rounding, without converting any image.
    """
    unit = Image.fromarray(np.eye(size, dtype=np.float32), mode="F")
    resized = unit.resize((new_size, size), Image.Resampling.BOX)
    weights = np.asarray(resized).astype(np.float64)
    weights.flags.writeable = False
    return weights


def image_to_grid(image: Image.Image) -> np.ndarray:
    """A decoded image of one digit -> the model's 8x8 float32 input in [0, 1]."""
    return ink_to_grid(ink_from_gray(to_gray(image))).astype(np.float32)
