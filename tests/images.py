"""Digit images made in the test process from the held-out scans (nothing downloaded)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter


def encode(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def render(scan: np.ndarray, size: int = 64, mode: str = "L", fmt: str = "PNG") -> bytes:
    """An 8x8 scan (0..16) drawn dark-on-light at ``size`` pixels, in ``mode`` and ``fmt``."""
    gray = Image.fromarray((255 - scan / 16 * 255).astype(np.uint8), mode="L")
    image = gray.resize((size, size), Image.Resampling.BILINEAR)
    if mode == "P":
        image = image.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE)
    elif mode == "RGBA":  # ink on a transparent sheet: the handler composites onto white
        alpha = Image.eval(image, lambda v: 255 - v)
        image = Image.merge("RGBA", (*Image.new("RGB", image.size, (20, 20, 20)).split(), alpha))
    else:
        image = image.convert(mode)
    return encode(image, fmt)


def photo(scan: np.ndarray, rng: np.random.Generator) -> bytes:
    """A phone-photo-like JPEG: the digit small and off-centre on unevenly lit, noisy paper."""
    ink = np.asarray(
        Image.fromarray((scan / 16).astype(np.float32), mode="F").resize(
            (120, 120), Image.Resampling.BILINEAR
        )
    ).clip(0, 1)
    height, width = 360, 480
    rows, cols = np.mgrid[0:height, 0:width]
    paper = 235 - 60 * (cols / width) - 25 * (rows / height)  # light falls off to one side
    top, left = rng.integers(40, height - 160), rng.integers(40, width - 160)
    region = paper[top : top + 120, left : left + 120]
    paper[top : top + 120, left : left + 120] = region * (1 - ink) + 50 * ink
    paper += rng.normal(0, 6, paper.shape)
    rgb = np.stack([paper, paper * 0.97, paper * 0.9], axis=-1).clip(0, 255).astype(np.uint8)
    blurred = Image.fromarray(rgb, mode="RGB").filter(ImageFilter.GaussianBlur(1.2))
    return encode(blurred, "JPEG")
