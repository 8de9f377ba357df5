"""Malformed requests for the digits model: damaged, bombed and mislabelled images, sent
as the raw body, a multipart field or base64 JSON."""

from __future__ import annotations

import json
from random import Random

from PIL import Image

from fuzz import images
from fuzz.families import shared
from fuzz.family import MAX_REQUEST_SIZE, Family, Shape
from fuzz.mutate import bit_flips, truncated
from fuzz.wire import JPEG, JSON, PNG, Part, Request, b64, dumps, multipart, multipart_type
from handlers.image_wire import MAX_SIDE as LIMIT_SIDE

MODEL = "digits"
# Blank PNGs this big (pixels per side) decode for real: 6300 and 20000 are over the
# pixel limit, 4096 just at it (the most work a request may ask for).
BOMB_SIDES = (6_300, 20_000)


def sample(rng: Random) -> tuple[bytes, str]:
    """A well-formed digit image in one of the accepted formats and sizes."""
    fmt = rng.choice(["PNG", "PNG", "JPEG"])
    mode = rng.choice(["L", "RGB", "RGBA", "P"] if fmt == "PNG" else ["L", "RGB"])
    return images.digit(rng.choice([8, 28, 64, 200]), mode, fmt), PNG if fmt == "PNG" else JPEG


def sent(rng: Random, what: str, image: bytes, kind: str = PNG) -> tuple[str, Request]:
    """``image`` sent over a wire format chosen at random."""
    wire = rng.choice(["raw", "raw", "multipart", "base64"])
    if wire == "raw":
        request = Request(MODEL, image, kind)
    elif wire == "multipart":
        part = Part(image, rng.choice(["data", "file"]), kind, "digit")
        request = Request(MODEL, multipart([part]), multipart_type())
    else:
        request = Request(MODEL, dumps({"image": b64(image)}), JSON)
    return f"{what} ({wire})", request


def payloads(rng: Random) -> tuple[bytes, str]:
    image, kind = sample(rng)
    if rng.random() < 0.3:
        return dumps({"image": b64(image)}), JSON
    return image, kind


def cut_image(rng: Random) -> tuple[str, Request]:
    image, kind = sample(rng)
    what, cut = truncated(rng, image)
    return sent(rng, f"{kind} {what}", cut, kind)


def flipped_image(rng: Random) -> tuple[str, Request]:
    image, kind = sample(rng)
    what, damaged = bit_flips(rng, image)
    if kind == PNG and rng.random() < 0.5:  # so the damage reaches the decoder, past the CRCs
        damaged, what = images.recrc(damaged), f"{what}, CRCs fixed"
    return sent(rng, f"{kind} {what}", damaged, kind)


def bomb(rng: Random) -> tuple[str, Request]:
    """Huge dimensions in a small file: real blank images, or headers that lie."""
    small = images.digit(16)
    variants = [
        *(
            (f"real blank {side}x{side} PNG", lambda s=side: images.blank_png(s, s))
            for side in BOMB_SIDES
        ),
        (
            f"real blank {LIMIT_SIDE}x{LIMIT_SIDE} PNG",
            lambda: images.blank_png(LIMIT_SIDE, LIMIT_SIDE),
        ),
        ("IHDR claims 20000x20000", lambda: images.with_header(small, 20_000, 20_000)),
        ("IHDR claims 2147483647x1", lambda: images.with_header(small, 2**31 - 1, 1)),
        ("IHDR claims 1x2147483647", lambda: images.with_header(small, 1, 2**31 - 1)),
        ("IHDR claims 4294967295 square", lambda: images.with_header(small, 2**32 - 1, 2**32 - 1)),
        ("IHDR claims 0x0", lambda: images.with_header(small, 0, 0)),
        (
            "IHDR claims 6300x6300, 16-bit RGBA",
            lambda: images.with_header(small, 6_300, 6_300, depth=16, color=6),
        ),
        ("IHDR bit depth 3", lambda: images.with_header(small, 16, 16, depth=3)),
        ("IHDR colour type 7", lambda: images.with_header(small, 16, 16, color=7)),
        ("palette PNG without PLTE", lambda: images.with_header(small, 16, 16, depth=8, color=3)),
        (
            "JPEG SOF claims 65500x65500",
            lambda: images.jpeg_with_size(images.digit(16, "L", "JPEG"), 65_500, 65_500),
        ),
        (
            "JPEG SOF claims 6300x6300",
            lambda: images.jpeg_with_size(images.digit(16, "L", "JPEG"), 6_300, 6_300),
        ),
    ]
    what, build = rng.choice(variants)
    return sent(rng, what, build(), JPEG if "JPEG" in what else PNG)


def chunk_bomb(rng: Random) -> tuple[str, Request]:
    """Metadata chunks that inflate to 20 MiB, and chunk lists no decoder expects."""
    small = images.digit(16)
    variants = [
        ("zTXt bomb after IHDR", lambda: images.metadata_bomb(b"zTXt")),
        ("iCCP bomb after IHDR", lambda: images.metadata_bomb(b"iCCP")),
        ("iTXt bomb after IHDR", lambda: images.metadata_bomb(b"iTXt")),
        (
            "10,000 tEXt chunks",
            lambda: images.with_chunk_after_header(small, b"tEXt", b"k\x00v", repeat=10_000),
        ),
        (
            "chunk length 0x7fffffff",
            lambda: small[: images.IHDR_END] + b"\x7f\xff\xff\xfftEXtk\x00v",
        ),
        ("unknown critical chunk", lambda: images.with_chunk_after_header(small, b"ABCD", b"x")),
        (
            "IDAT before IHDR",
            lambda: images.assemble(images.chunks(small)[1:2] + images.chunks(small)),
        ),
        ("no IEND", lambda: small[:-12]),
    ]
    what, build = rng.choice(variants)
    return sent(rng, what, build())


def other_format(rng: Random) -> tuple[str, Request]:
    """Images PIL decodes but the model refuses, and bytes that are no image at all."""
    fmt = rng.choice(["GIF", "BMP", "TIFF", "WEBP", "ICO", "PPM", "none"])
    if fmt == "none":
        data = rng.choice(
            [
                b"",
                b"\x89",
                b"\x89PNG\r\n\x1a\n",
                b"\xff\xd8\xff",
                b"<svg/>",
                b"%PDF-1.4",
                rng.randbytes(rng.randint(1, 4096)),
            ]
        )
        return sent(rng, f"not an image: {data[:12]!r}", data)
    image = Image.new("L", (16, 16), 255)
    return sent(rng, f"{fmt} image", images.encode(image, fmt), f"image/{fmt.lower()}")


def bad_base64(rng: Random) -> tuple[str, Request]:
    """``{"image": ...}`` with a value that is not base64 of an image, or not a string."""
    image = b64(images.digit(16))
    value = rng.choice(
        [
            "%%%",
            image[:-1],
            image[:-2] + "=",
            image.replace("A", "-"),
            " " + image,
            image[:40] + "\n" + image[40:],
            "",
            "data:",
            "data:image/png;base64",
            "data:,",
            "data:image/png;base64," + "%%",
            b64(b"GIF89a" + b"\x00" * 20),
            b64(b"\x00"),
            12,
            None,
            [image],
            {"image": image},
            True,
            "\ud800",
            "A" * 4001,
        ]
    )
    document = {"image": value} if rng.random() < 0.8 else {"img": image, "images": [image]}
    body = json.dumps(document).encode("ascii")
    return f"image JSON {json.dumps(value)[:40]}", shared.json_request(rng, MODEL, body)


def heavy_base64(rng: Random) -> tuple[str, Request]:
    """Just under the size limit: 7.5 MiB of base64 that decodes to no image."""
    raw = rng.randbytes((MAX_REQUEST_SIZE - 64) * 3 // 4 - 4096)
    return "base64 JSON just under the size limit", Request(MODEL, dumps({"image": b64(raw)}), JSON)


def heavy_blank(rng: Random) -> tuple[str, Request]:
    return sent(rng, f"blank {LIMIT_SIDE}x{LIMIT_SIDE}", images.blank_png(LIMIT_SIDE, LIMIT_SIDE))


SHAPE = Shape(
    model=MODEL,
    slots=(b'{"image": %b}', b'{"image": "iVBOR", "x": %b}', b"[%b]"),
    documents=(dumps({"image": b64(images.digit(16))}),),
    payloads=payloads,
    heavy=(heavy_base64, heavy_blank),
)
FAMILIES = [
    Family("image-truncated", 3, cut_image),
    Family("image-bitflip", 4, flipped_image),
    Family("image-bomb", 2, bomb),
    Family("png-chunk-bomb", 2, chunk_bomb),
    Family("image-format", 2, other_format),
    Family("base64", 3, bad_base64),
    *shared.families(SHAPE),
]
