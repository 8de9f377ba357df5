"""The digits model's wire input: PNG or JPEG bytes, raw or base64 in JSON.

Anything else is the client's mistake and is refused with its 4xx (handlers/errors.py):
undecodable, truncated or non-image bytes and bad JSON are InputError (400), other image
formats UnsupportedMediaType (415), too many pixels and metadata-chunk bombs
PayloadTooLarge (413).
"""

from __future__ import annotations

import base64
import binascii
import io
from typing import Any

from PIL import Image, UnidentifiedImageError

from handlers.errors import InputError, PayloadTooLarge, UnsupportedMediaType

FORMATS = ("PNG", "JPEG")
# 4096 x 4096: a 12 MP phone photo fits; decoding and framing an image this big is the
# most work one request may make a worker do. The pixel count is checked from the header,
# before any pixel is decoded.
# (measured: docs/load-and-bench.md#image-pipeline-measurements)
MAX_SIDE = 4096
MAX_PIXELS = MAX_SIDE * MAX_SIDE


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
