"""Families every model gets: hostile JSON, broken JSON syntax, wrong content types,
broken multipart, bodies over (and just under) the size limit, payloads in the query, and
broken HTTP itself (fuzz/families/http.py)."""

from __future__ import annotations

import gzip
from random import Random

from fuzz import fragments
from fuzz.families.http import broken_http
from fuzz.family import MAX_REQUEST_SIZE, Family, Make, Shape, pick
from fuzz.mutate import bit_flips, truncated
from fuzz.wire import BOUNDARY, FORM, JSON, TEXT, Part, Request, multipart, multipart_type

# Content types a client may get wrong; None sends the body with no Content-Type at all.
WRONG_TYPES: tuple[str | None, ...] = (
    None,
    "",
    FORM,
    "application/octet-stream",
    "text/html",
    "image/png",
    "image/gif",
    JSON,
    "application/json; charset=utf-16",
    "text/plain; charset=bogus",
    TEXT,
    "multipart/form-data",
    "multipart/mixed; boundary=x",
    "garbage",
    "*/*",
    "application/json;;;;",
    "APPLICATION/JSON",
    "application/problem+json",
    "application/json; charset=" + "x" * 200,
)
# Where a JSON body may travel: the body itself, with variations of its type, or a field.
JSON_TYPES = (JSON, JSON, "application/json; charset=utf-8", "application/vnd.api+json")
CLOSING = b"--" + BOUNDARY.encode() + b"--"
# Raw query strings: TorchServe hands each parameter to the handler as a field.
QUERIES = (
    "data=%5B1%2C%202%5D",
    "body=hello",
    "file=%7B%22text%22%3A%201%7D",
    "data=%FF%FE",
    "data=%ED%A0%80",
    "data=%zz",
    "data&data&body",
    "=&=",
    "data=" + "x" * 5_000,
    "inputs=1&inputs=2",
)


def json_request(rng: Random, model: str, body: bytes) -> Request:
    """``body`` sent as JSON, usually as the request body, sometimes as a multipart field."""
    if rng.random() < 0.2:
        field = Part(body, rng.choice(["data", "file"]), JSON)
        return Request(model, multipart([field]), multipart_type())
    return Request(model, body, rng.choice(JSON_TYPES))


def in_slot(shape: Shape, make_fragment: fragments.Fragment) -> Make:
    """A request whose JSON holds one fragment, where the model reads its input or alone."""

    def make(rng: Random) -> tuple[str, Request]:
        what, fragment = make_fragment(rng)
        if rng.random() < 0.2:
            return f"{what}, as the whole body", json_request(rng, shape.model, fragment)
        slot = rng.choice(shape.slots)
        body = slot % fragment
        return f"{what} in {slot.decode(errors='replace')[:40]}", json_request(
            rng, shape.model, body
        )

    return make


def broken_syntax(shape: Shape) -> Make:
    """A well-formed JSON document, truncated, bit-flipped, padded or mangled."""

    def make(rng: Random) -> tuple[str, Request]:
        document = rng.choice(shape.documents)
        kind = rng.choice(["truncated", "flipped", "garbage", "empty", "encoded", "lax"])
        if kind == "truncated":
            what, body = truncated(rng, document)
        elif kind == "flipped":
            what, body = bit_flips(rng, document)
        elif kind == "garbage":
            junk = rng.choice([b"\x00", b"}", b"]]]", b"\xff\xfe", b"//c", b"," * 50])
            what, body = f"document + {junk[:8]!r}", document + junk
        elif kind == "empty":
            body = rng.choice([b"", b" ", b"\n" * 1000, b"null", b"true", b'"x"', b"0", b"[]"])
            what = f"body {body[:8]!r}"
        elif kind == "encoded":
            codec = rng.choice(["utf-16", "utf-32", "utf-8-sig", "utf-16-be"])
            what, body = f"document in {codec}", document.decode().encode(codec)
        else:
            swap = rng.choice([(b'"', b"'"), (b"]", b",]"), (b"}", b",}"), (b":", b"=")])
            what, body = f"{swap[0]!r} -> {swap[1]!r}", document.replace(*swap)
        return what, json_request(rng, shape.model, body)

    return make


def wrong_type(shape: Shape) -> Make:
    """A well-formed payload sent with a wrong, odd or missing Content-Type."""

    def make(rng: Random) -> tuple[str, Request]:
        body, right = shape.payloads(rng)
        if rng.random() < 0.15:
            return form_body(rng, shape.model)
        if rng.random() < 0.1:
            encoding = rng.choice(["gzip", "deflate", "br"])
            packed = gzip.compress(body) if rng.random() < 0.5 else body
            return (
                f"{right} body with Content-Encoding: {encoding}",
                Request(shape.model, packed, right, {"Content-Encoding": encoding}),
            )
        wrong = rng.choice(WRONG_TYPES)
        return f"{right} payload sent as {wrong!r}", Request(shape.model, body, wrong)

    return make


def form_body(rng: Random, model: str) -> tuple[str, Request]:
    """A body sent as application/x-www-form-urlencoded, which the frontend parses."""
    body = rng.choice(
        [
            b"[1, 2]",
            b"%%%",
            b"data=%FF%FE",
            b"data=%ED%A0%80",
            b"a=b&&c==d",
            b"=",
            b"data=hello",
            b"data=" + b"%41" * 5_000,
            b"&" * 1_000,
            b"data=%zz",
            b"\xff=\xfe",
        ]
    )
    return f"form body {body[:24]!r}", Request(model, body, FORM)


def broken_multipart(shape: Shape) -> Make:
    """A well-formed payload inside a multipart body that is broken around it."""

    def make(rng: Random) -> tuple[str, Request]:
        body, kind = shape.payloads(rng)
        part = Part(body, "data", kind)
        good = multipart([part])
        variants: list[tuple[str, bytes, str | None]] = [
            ("boundary= empty", good, "multipart/form-data; boundary="),
            ("no boundary parameter", good, "multipart/form-data"),
            ("boundary differs from the body's", good, multipart_type("other")),
            ("quoted boundary", good, 'multipart/form-data; boundary="fuzz"'),
            ("boundary of 200 characters", good, multipart_type("b" * 200)),
            ("LF line endings", multipart([part], newline=b"\n"), multipart_type()),
            ("no closing boundary", good[: good.rindex(CLOSING)], multipart_type()),
            (
                "part without Content-Disposition",
                multipart([Part(body, None, kind)]),
                multipart_type(),
            ),
            ("field with an empty name", multipart([Part(body, "", kind)]), multipart_type()),
            (
                "field named other than data",
                multipart([Part(body, "image", kind)]),
                multipart_type(),
            ),
            ("the field twice", multipart([part, part]), multipart_type()),
            ("empty body", b"", multipart_type()),
            (
                "part type with a bogus charset",
                multipart([Part(body, "data", "text/plain; charset=bogus")]),
                multipart_type(),
            ),
            ("garbage after the end", good + b"\x00\xff" * 50, multipart_type()),
            ("multipart/mixed", good, multipart_type().replace("form-data", "mixed")),
            ("empty part", multipart([Part(b"", "data", kind)]), multipart_type()),
            (
                "filename with a NUL",
                multipart([Part(body, "data", kind, "a\x00.png")]),
                multipart_type(),
            ),
        ]
        if rng.random() < 0.3:
            what, cut = truncated(rng, good)
            return f"multipart {what}", Request(shape.model, cut, multipart_type())
        what, payload, content_type = rng.choice(variants)
        return f"multipart: {what}", Request(shape.model, payload, content_type)

    return make


def oversize(shape: Shape) -> Make:
    """Bodies over the 10 MiB limit, at it, and heavy requests just under it."""

    def over(rng: Random) -> tuple[str, Request]:
        size = rng.choice([MAX_REQUEST_SIZE + 1, MAX_REQUEST_SIZE + rng.randint(2, 1 << 20)])
        body = rng.choice([b"\x00", b"[", b" ", b"A"]) * size
        kind = rng.choice([JSON, TEXT, "image/png", None])
        return f"{size:,}-byte body as {kind}", Request(shape.model, body, kind)

    def over_chunked(rng: Random) -> tuple[str, Request]:
        body = b"7" * (MAX_REQUEST_SIZE + (1 << 20))
        return "11 MiB chunked body", Request(shape.model, body, JSON, chunked=True)

    def at_limit(rng: Random) -> tuple[str, Request]:
        size = MAX_REQUEST_SIZE - rng.choice([0, 1, 1024])
        body = rng.randbytes(size)
        kind = rng.choice([JSON, TEXT, "image/png"])
        return f"{size:,} random bytes as {kind}", Request(shape.model, body, kind)

    def make(rng: Random) -> tuple[str, Request]:
        return pick(rng, (over, over, over_chunked, at_limit, *shape.heavy, *shape.heavy))

    return make


def in_query(shape: Shape) -> Make:
    """The payload (or garbage) in the query string, where TorchServe also looks."""

    def make(rng: Random) -> tuple[str, Request]:
        query = rng.choice(QUERIES)
        body, kind = rng.choice([(b"", None), shape.payloads(rng)])
        request = Request(shape.model, body, kind, query=query)
        return f"query {query[:24]!r} with a {len(body)}-byte body", request

    return make


def families(shape: Shape, json_weight: int = 1) -> list[Family]:
    """The shared families for one model; ``json_weight`` scales the JSON ones."""
    return [
        Family("json-nesting", json_weight, in_slot(shape, fragments.nesting)),
        Family("json-bigint", json_weight, in_slot(shape, fragments.big_number)),
        Family("json-nonfinite", json_weight, in_slot(shape, fragments.non_finite)),
        Family("json-unicode", json_weight, in_slot(shape, fragments.odd_string)),
        Family("json-syntax", 2 * json_weight, broken_syntax(shape)),
        Family("content-type", 3, wrong_type(shape)),
        Family("multipart", 3, broken_multipart(shape)),
        Family("oversize", 1, oversize(shape)),
        Family("query", 1, in_query(shape)),
        Family("http", 3, broken_http(shape)),
    ]
