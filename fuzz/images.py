"""Images for the fuzzer, made in code: digits, PNG chunk surgery and decompression bombs.

A PNG is a signature and a list of chunks (length, type, data, CRC-32 of type + data);
editing a chunk means recomputing its CRC, or the decoder rejects the file before the
edit is ever reached. The bombs are small on the wire and huge once decoded.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib

import numpy as np
from PIL import Image

SIGNATURE = b"\x89PNG\r\n\x1a\n"
IHDR_END = len(SIGNATURE) + 4 + 4 + 13 + 4  # length, type, 13 bytes of header, CRC
BOMB_TEXT = 20 << 20  # bytes of "A" a metadata chunk inflates to (PIL's cap is 1 MiB)
# A 7 drawn as an 8x8 ink scan (0..16), the shape of the digits model's training data.
SEVEN_SCAN = np.array(
    [
        [0, 2, 12, 16, 16, 16, 12, 0],
        [0, 1, 8, 8, 8, 14, 14, 0],
        [0, 0, 0, 0, 3, 16, 6, 0],
        [0, 0, 0, 0, 11, 13, 0, 0],
        [0, 0, 0, 4, 16, 5, 0, 0],
        [0, 0, 0, 12, 12, 0, 0, 0],
        [0, 0, 3, 16, 5, 0, 0, 0],
        [0, 0, 8, 13, 0, 0, 0, 0],
    ],
    dtype=np.float32,
)


def encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


@functools.lru_cache(maxsize=64)
def digit(size: int = 64, mode: str = "L", fmt: str = "PNG") -> bytes:
    """The 7, dark on light, ``size`` pixels square, in ``mode`` and ``fmt``."""
    gray = Image.fromarray((255 - SEVEN_SCAN / 16 * 255).astype(np.uint8), mode="L")
    image = gray.resize((size, size), Image.Resampling.BILINEAR)
    if mode != "L":
        image = image.convert("RGB").convert(mode)
    return encode(image, fmt)


def chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk with its length and a correct CRC."""
    crc = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """``(type, data)`` of each chunk of a well-formed PNG, in order."""
    found, at = [], len(SIGNATURE)
    while at + 8 <= len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        found.append((png[at + 4 : at + 8], png[at + 8 : at + 8 + length]))
        at += 12 + length
    return found


def assemble(parts: list[tuple[bytes, bytes]]) -> bytes:
    return SIGNATURE + b"".join(chunk(kind, data) for kind, data in parts)


def with_chunk_after_header(png: bytes, kind: bytes, data: bytes, repeat: int = 1) -> bytes:
    """``png`` with ``repeat`` more chunks right after IHDR, where decoders read them at open."""
    return png[:IHDR_END] + chunk(kind, data) * repeat + png[IHDR_END:]


def with_header(png: bytes, width: int, height: int, depth: int = -1, color: int = -1) -> bytes:
    """``png`` whose IHDR claims other dimensions (and bit depth / colour type), CRC fixed."""
    parts = chunks(png)
    header = bytearray(parts[0][1])
    header[0:8] = struct.pack(">II", width, height)
    if depth >= 0:
        header[8] = depth
    if color >= 0:
        header[9] = color
    return assemble([(b"IHDR", bytes(header)), *parts[1:]])


def recrc(png: bytes) -> bytes:
    """Every chunk's CRC recomputed: a mutation inside a chunk then reaches the decoder."""
    return assemble(chunks(png))


@functools.lru_cache(maxsize=8)
def blank_png(width: int, height: int) -> bytes:
    """A real, fully decodable 1-bit white PNG: a few KiB on the wire, width*height pixels."""
    row = b"\x00" + b"\xff" * ((width + 7) // 8)  # filter byte, then packed white pixels
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return assemble([(b"IHDR", header), (b"IDAT", body), (b"IEND", b"")])


@functools.lru_cache(maxsize=1)
def text_bomb() -> bytes:
    """zlib of 20 MiB of "A": about 20 KiB that inflate a thousandfold."""
    return zlib.compress(b"A" * BOMB_TEXT, 9)


def metadata_bomb(kind: bytes) -> bytes:
    """The small digit PNG with a ``kind`` chunk (zTXt, iCCP or iTXt) holding the bomb."""
    if kind == b"iTXt":  # keyword, NUL, compressed flag, method, language, NUL, key, NUL
        data = b"Comment\x00\x01\x00\x00\x00" + text_bomb()
    else:  # zTXt and iCCP: name, NUL, compression method 0, zlib stream
        data = b"Comment\x00\x00" + text_bomb()
    return with_chunk_after_header(digit(16), kind, data)


def jpeg_with_size(jpeg: bytes, width: int, height: int) -> bytes:
    """``jpeg`` whose start-of-frame marker claims ``width`` x ``height`` (max 65535)."""
    data = bytearray(jpeg)
    at = 2
    while at + 4 <= len(data):
        marker, length = data[at + 1], struct.unpack(">H", data[at + 2 : at + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):  # SOF0/1/2: length, precision, height, width
            data[at + 5 : at + 9] = struct.pack(">HH", height, width)
            return bytes(data)
        at += 2 + length
    raise ValueError("no start-of-frame marker in the JPEG")
