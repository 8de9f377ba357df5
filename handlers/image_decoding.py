"""Decode a PNG/JPEG of a handwritten digit into the 8x8 ink grid the digits model reads.

The same ``ink_to_grid`` normalisation runs on the training images (see models/digits.py),
so a photo of a digit drawn dark-on-light, a large render and an 8x8 scan all reach the
model framed the same way: ink high, background zero, cropped to the digit, centred.
"""

from __future__ import annotations

import base64
import binascii
import io
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from handlers.errors import InputError, PayloadTooLarge, UnsupportedMediaType

FORMATS = ("PNG", "JPEG")
MAX_PIXELS = 40_000_000  # a 40 MP photo; larger is a decompression bomb, not a digit
GRID = 8  # the model's input is GRID x GRID
CANVAS = 32  # the digit is fitted into CANVAS x CANVAS, then averaged into GRID x GRID
INK_THRESHOLD = 0.25  # fraction of the ink range that counts as part of the digit


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
    except OSError as exc:  # a known signature, then garbage ("Truncated File Read")
        raise InputError(f"image could not be decoded as PNG or JPEG: {exc}") from None
    if image.format not in FORMATS:
        raise UnsupportedMediaType(f"image must be PNG or JPEG, got {image.format!r}")
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise PayloadTooLarge(f"image has {width}x{height} pixels, more than {MAX_PIXELS:,}")
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"image could not be decoded as {image.format}: {exc}") from None
    return image


def to_gray(image: Image.Image) -> np.ndarray:
    """Luminance in [0, 1], with any transparency composited onto white paper."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, rgba)
    return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


def ink_from_gray(gray: np.ndarray) -> np.ndarray:
    """Ink intensity in [0, 1] with the paper, even unevenly lit, mapped to 0.

    A light border means dark ink on paper, so the image is inverted; a dark border means
    light ink, as in the training scans. Then the lighting is estimated and subtracted.
    """
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    ink = 1.0 - gray if float(np.median(border)) > 0.5 else gray
    ink = np.clip(ink - background_of(ink), 0.0, None)
    span = float(np.percentile(ink, 99.9))
    if span < 0.1:
        raise InputError("image is blank: no digit stands out from the background")
    return np.clip(ink / span, 0.0, 1.0)


def background_of(ink: np.ndarray, rounds: int = 3) -> np.ndarray:
    """The paper's level under the strokes: a quadratic surface fitted to paper pixels.

    Uneven lighting is smooth, so a quadratic in (x, y) captures it; the fit is repeated
    on the pixels that Otsu's threshold puts below the ink, so strokes don't lift it.
    """
    height, width = ink.shape
    scale = min(1.0, 64 / max(height, width))  # fit on a small copy, evaluate everywhere
    small_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small_image = Image.fromarray(ink.astype(np.float32), mode="F")
    small = np.asarray(small_image.resize(small_size, Image.Resampling.BOX)).ravel()
    basis_small = _quadratic_basis(small_size[1], small_size[0])
    paper = np.ones(small.shape, dtype=bool)
    coefficients = np.zeros(basis_small.shape[1])
    for _ in range(rounds):
        coefficients = np.linalg.lstsq(basis_small[paper], small[paper], rcond=None)[0]
        residual = small - basis_small @ coefficients
        paper = residual <= otsu_threshold(residual)
        if paper.sum() < basis_small.shape[1]:
            break
    return (_quadratic_basis(height, width) @ coefficients).reshape(height, width)


def _quadratic_basis(height: int, width: int) -> np.ndarray:
    """Columns 1, x, y, x^2, xy, y^2 over a height x width grid scaled to [-1, 1]."""
    rows, cols = np.meshgrid(np.linspace(-1, 1, height), np.linspace(-1, 1, width), indexing="ij")
    x, y = cols.ravel(), rows.ravel()
    return np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1)


def otsu_threshold(values: np.ndarray, bins: int = 64) -> float:
    """The cut that best separates ``values`` into two classes (Otsu's method)."""
    counts, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(counts)
    weight_high = weight_low[-1] - weight_low
    sum_low = np.cumsum(counts * centres)
    mean_low = sum_low / np.maximum(weight_low, 1)
    mean_high = (sum_low[-1] - sum_low) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(edges[int(np.argmax(between)) + 1])


def ink_to_grid(ink: np.ndarray) -> np.ndarray:
    """Crop ink to the digit, fit it centred in a square canvas, average it into 8x8."""
    rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink > INK_THRESHOLD).any(axis=0))
    if rows.size == 0:
        raise InputError("image is blank: no digit stands out from the background")
    digit = np.where(ink > INK_THRESHOLD / 2, ink, 0.0)[
        rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1
    ]
    height, width = digit.shape
    scale = CANVAS / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    fitted = np.asarray(
        Image.fromarray(digit.astype(np.float32), mode="F").resize(size, Image.Resampling.BOX)
    )
    canvas = np.zeros((CANVAS, CANVAS), dtype=np.float32)
    top, left = (CANVAS - size[1]) // 2, (CANVAS - size[0]) // 2
    canvas[top : top + size[1], left : left + size[0]] = fitted
    block = CANVAS // GRID
    grid = canvas.reshape(GRID, block, GRID, block).mean(axis=(1, 3))
    return np.clip(grid, 0.0, 1.0)


def image_to_grid(image: Image.Image) -> np.ndarray:
    """A decoded image of one digit -> the model's 8x8 float32 input in [0, 1]."""
    return ink_to_grid(ink_from_gray(to_gray(image))).astype(np.float32)
