"""Fast stand-ins for the numpy calls the digit pipeline makes on every image.

Each gives what the call it names gives, on the inputs the pipeline feeds it, without that
call's general-purpose overhead (argument handling, weights, methods), which costs more
than the work itself on a few thousand values; other inputs (other dtypes, empty or
non-finite arrays) go to numpy itself. ``box_weights`` stands in for PIL's box resize,
as a matrix. tests/unit/test_fast_numpy.py compares each with the original.
(measured: docs/load-and-bench.md#image-pipeline-measurements)
"""

from __future__ import annotations

import functools
import math

import numpy as np
from PIL import Image


def median(values: np.ndarray) -> float:
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


def percentile(values: np.ndarray, q: float) -> float:
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


def histogram(values: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.histogram(values, bins)`` for finite values: the same edges and counts.

    Takes np.histogram's uniform-bin path, its corrections included, and counts with
    bincount. Not at the float extremes, which the pipeline's values (around [0, 1]) never
    reach: a range of a few ulps far from zero, where numpy refuses to make the bins, or
    one near 2**52 or among subnormals, where this divides by zero or indexes out of range.
    """
    flat = values.ravel()
    if flat.dtype != np.float64 or flat.size == 0:  # other edge types, or no range
        return np.histogram(flat, bins)
    low, high = float(flat.min()), float(flat.max())
    if not (math.isfinite(low) and math.isfinite(high)):  # np.histogram's own error
        return np.histogram(flat, bins)
    if low == high:  # np.histogram widens an empty range the same way
        low, high = low - 0.5, high + 0.5
    edges = linspace(low, high, bins + 1)
    index = ((flat - low) * (bins / (high - low))).astype(np.intp)
    np.minimum(index, bins - 1, out=index)
    # The scaled value can land an ulp off near an edge: settle it against the edges
    # themselves, as np.histogram does. That is rare, so only check for it cheaply.
    below = flat < edges.take(index)
    above = flat >= np.append(edges[1:-1], np.inf).take(index)  # the last bin is closed
    if below.any() or above.any():
        index = index - below + above
    return np.bincount(index, minlength=bins), edges


def linspace(start: float, stop: float, num: int) -> np.ndarray:
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


@functools.lru_cache(maxsize=512)
def box_weights(size: int, new_size: int) -> np.ndarray:
    """(size, new_size), read-only: PIL's box-filter resize of a line of ``size`` pixels
    to ``new_size`` as a matrix, so that ``line @ weights`` is the resized line.

    Read off PIL itself (row i is unit vector i, resized): a matrix product then gives
    what Image.resize gives, to float32 rounding, without converting any image.
    """
    unit = Image.fromarray(np.eye(size, dtype=np.float32), mode="F")
    resized = unit.resize((new_size, size), Image.Resampling.BOX)
    weights = np.asarray(resized).astype(np.float64)
    weights.flags.writeable = False
    return weights
