"""A decoded image of a handwritten digit -> the 8x8 ink grid the digits model reads.

The same ``ink_from_gray`` + ``ink_to_grid`` steps run on the training images (see
models/digits.py), so a photo of a digit drawn dark-on-light, a large render and an 8x8
scan all reach the model framed the same way: ink high, background zero, cropped to the
digit, centred.
"""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image

from handlers.errors import InputError
from handlers.fast_numpy import box_weights, median, percentile
from handlers.lighting import background_of

GRID = 8  # the model's input is GRID x GRID
CANVAS = 32  # the digit is fitted into CANVAS x CANVAS, then averaged into GRID x GRID
INK_THRESHOLD = 0.25  # fraction of the ink range that counts as part of the digit
# The numpy work is per pixel: an image of HALVE_FROM px or more (long side) is first
# halved by a 2x2 box average, in C: strokes keep their shape, held-out accuracy stays
# within a point. Reducing further costs photos detail: a large photo brought to 48 px
# matches its training frame less.
# (measured: docs/load-and-bench.md#image-pipeline-measurements)
HALVE_FROM = 96


def image_to_grid(image: Image.Image) -> np.ndarray:
    """A decoded image of one digit -> the model's 8x8 float32 input in [0, 1]."""
    return ink_to_grid(ink_from_gray(to_gray(image))).astype(np.float32)


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
    ink = 1.0 - gray if median(border) > 0.5 else gray
    background = background_of(ink)
    ink = np.subtract(ink, background, out=background)  # into the fresh surface: no copy
    np.maximum(ink, 0.0, out=ink)  # in place, as are the clips below
    span = percentile(ink, 99.9)
    if span < 0.1:
        raise InputError("image is blank: no digit stands out from the background")
    ink /= span
    return np.minimum(ink, 1.0, out=ink)


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
    matrix products replace an image round trip, a resize, a canvas and a block sum
    (measured: docs/load-and-bench.md#image-pipeline-measurements).
    """
    scale = CANVAS / max(height, width)
    fitted_height, fitted_width = max(1, round(height * scale)), max(1, round(width * scale))
    top, left = (CANVAS - fitted_height) // 2, (CANVAS - fitted_width) // 2
    block = CANVAS // GRID
    pool = np.kron(np.eye(GRID), np.full(block, 1 / block))  # (GRID, CANVAS) block means
    to_rows = pool[:, top : top + fitted_height] @ box_weights(height, fitted_height).T
    to_cols = box_weights(width, fitted_width) @ pool[:, left : left + fitted_width].T
    to_rows.flags.writeable = to_cols.flags.writeable = False  # cached and shared
    return to_rows, to_cols
