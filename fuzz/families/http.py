"""HTTP that no HTTP library would write, sent verbatim (``Request.raw``): broken framing,
request smuggling shapes, bytes that are not HTTP at all. TorchServe's Netty frontend hung,
reset or answered 500 on several of these; the front door must answer each with a 4xx (or
serve it, when it is valid after all), never a 5xx, a reset or a hang."""

from __future__ import annotations

from random import Random

from fuzz.family import Make, Shape
from fuzz.wire import AUTH, JSON, Request

# A TLS 1.2 ClientHello's first bytes: a client speaking HTTPS to the plain port.
TLS_HELLO = bytes.fromhex("16030100a5010000a10303") + bytes(range(32)) + bytes(128)


def broken_http(shape: Shape) -> Make:
    path = f"/predictions/{shape.model}".encode()

    def head(*lines: bytes, method: bytes = b"POST", target: bytes = path) -> bytes:
        return b"\r\n".join([method + b" " + target + b" HTTP/1.1", b"Host: door", AUTH, *lines])

    def make(rng: Random) -> tuple[str, Request]:
        body, kind = shape.payloads(rng)
        typed = b"Content-Type: " + kind.encode()
        length = b"Content-Length: %d" % len(body)
        cases: list[tuple[str, bytes]] = [
            ("negative Content-Length", head(typed, b"Content-Length: -5", b"", b"hello")),
            ("Content-Length not a number", head(typed, b"Content-Length: 1e3", b"", body)),
            (
                "two different Content-Lengths",
                head(typed, length, b"Content-Length: %d" % (len(body) + 7), b"", body),
            ),
            (
                "Content-Length and chunked (smuggling)",
                head(typed, length, b"Transfer-Encoding: chunked", b"", b"0", b"", b""),
            ),
            (
                "chunk size -1",
                head(typed, b"Transfer-Encoding: chunked", b"", b"-1", b"ab", b"0", b"", b""),
            ),
            (
                "chunk size not hex",
                head(typed, b"Transfer-Encoding: chunked", b"", b"zz", b"ab", b"0", b"", b""),
            ),
            (
                "chunk size over 2^64",
                head(typed, b"Transfer-Encoding: chunked", b"", b"1" + b"0" * 17, b"ab", b""),
            ),
            ("random bytes", rng.randbytes(rng.choice([16, 512, 4096]))),
            ("a TLS ClientHello", TLS_HELLO),
            ("a header line without a colon", head(typed, b"no colon here", length, b"", body)),
            ("a space in a header name", head(typed, b"Bad Name: x", length, b"", body)),
            ("a NUL in a header value", head(typed, b"X-Odd: a\x00b", length, b"", body)),
            ("obsolete line folding", head(typed, b"X-Fold: a", b" b", length, b"", body)),
            ("HTTP/0.9 request line", b"POST " + path + b"\r\n\r\n"),
            ("an unknown method", head(typed, length, b"", body, method=b"BREW")),
            ("a 64 KiB header", head(typed, b"X-Big: " + b"a" * 65536, length, b"", body)),
            ("a 64 KiB URL", head(typed, length, b"", body, target=path + b"?" + b"q" * 65536)),
            (
                "Expect: 100-continue",
                head(typed, length, b"Expect: 100-continue", b"", body),
            ),
            (
                "multipart without a boundary",
                head(b"Content-Type: multipart/form-data; boundary=", length, b"", body),
            ),
            (
                "a valid request, then garbage on the same connection",
                head(typed, length, b"", body) + b"\x16\x03\x01 garbage\r\n\r\n",
            ),
            (
                "JSON with a body shorter than its Content-Length",
                head(b"Content-Type: " + JSON.encode(), b"Content-Length: 10", b"", b"[1]"),
            ),
        ]
        what, raw = rng.choice(cases)
        return what, Request(shape.model, b"", None, raw=raw)

    return make
