"""Read the KServe protocols' envelopes: v2 (Open Inference Protocol) and v1.

TorchServe 0.12 routes ``POST /v2/models/<m>/infer`` and ``/v1/models/<m>:predict`` to the
model's handler as an ordinary request. Its frontend adds the header ``explain`` (``False``;
``True`` for ``:explain``) to those and to ``/predictions/<m>``, and ``url_path`` to
``/predictions`` only (InferenceRequestHandler): ``explain`` without ``url_path`` is a
KServe route. The body is the protocol's JSON, read here. A v2 request holds
named tensors (``name``, ``shape``, ``datatype``, ``data``, nested or flat, row-major), as
JSON or with the binary tensor extension (``Inference-Header-Content-Length``: the JSON
header, then each input's raw bytes, ``parameters.binary_data_size`` of them, in order),
which is tritonclient's default. The tensors' names per model are in contracts/oip.py.

No TorchServe import: what the handler passes in is the body and two header values.
"""

from __future__ import annotations

import base64
import binascii
import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from contracts import oip
from contracts.oip import DATATYPES
from contracts.ranking import PRECISION
from handlers.errors import InputError, PayloadTooLarge
from handlers.payload import Payload, as_bytes, parse_json

NATIVE, V1, V2 = "native", "v1", "v2"
EXPLAIN_HEADER = "explain"  # TorchServe's, on /predictions and the KServe routes
URL_PATH_HEADER = "url_path"  # TorchServe's, on /predictions only
BINARY_HEADER = "inference-header-content-length"  # the binary tensor extension
MAX_ELEMENTS = 1_000_000  # elements of one tensor; the body limit (10 MiB) holds fewer
MAX_DEPTH = 8  # nesting of a tensor's JSON data

NUMPY = {
    "BOOL": "?",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
    "INT8": "i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "UINT8": "u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
}


@dataclass(frozen=True)
class Tensor:
    """One input: its data flat, in row-major order (numpy for numbers and BOOL, a list of
    ``str`` (JSON) or ``bytes`` (binary) for BYTES)."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    data: Any

    @property
    def rows(self) -> int:
        return self.shape[0] if self.shape else 1

    def matrix(self) -> np.ndarray[Any, Any]:
        """A numeric tensor as float64 rows: [n] -> n x 1, [n, f, ...] -> n x (f...)."""
        values = np.asarray(self.data)
        return values.reshape(self.rows, -1) if values.size else values.reshape(0, 0)


@dataclass(frozen=True)
class V2Request:
    id: str | None
    inputs: dict[str, Tensor]
    outputs: list[str] | None  # the outputs asked for; None (or none named): all


def is_kserve(explain: str | None, url_path: str | None) -> bool:
    """Whether a request came on a KServe route, from the two headers TorchServe adds."""
    return explain is not None and url_path is None


def protocol_of(explain: str | None, document: Any) -> str:
    """Which protocol a KServe route's request speaks (``explain``: TorchServe's header,
    None when the route is not a KServe one): with ``instances`` v1, else v2."""
    if explain is None:
        return NATIVE
    if explain.strip().lower() == "true":
        raise InputError("explanations are not served: use :predict or /infer")
    return V1 if isinstance(document, dict) and "instances" in document else V2


def kserve_document(payload: Payload, header_length: str | None) -> tuple[Any, bytes]:
    """A KServe request's JSON document and what follows it (binary tensor data)."""
    if header_length is None:
        return parse_json(Payload(payload.value, "application/json")), b""
    body = as_bytes(payload.value)
    try:
        length = int(header_length)
    except ValueError:
        raise InputError(
            f"Inference-Header-Content-Length is not a number: {header_length!r}"
        ) from None
    if not 0 < length <= len(body):
        raise InputError(
            f"Inference-Header-Content-Length is {length}, the body has {len(body)} bytes"
        )
    header = parse_json(Payload(body[:length], "application/json"))
    return header, body[length:]


def read_v2(document: Any, binary: bytes = b"") -> V2Request:
    """The tensors of a v2 request, each checked: known datatype, whole shape, as many
    elements as the shape says, elements of the datatype."""
    if not isinstance(document, dict):
        raise InputError(f"a v2 request is a JSON object, got {type(document).__name__}")
    tensors = document.get("inputs")
    if not isinstance(tensors, list) or not tensors:
        raise InputError('"inputs" must be a non-empty list of tensors')
    rest = memoryview(binary)
    parameters = document.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise InputError('"parameters" must be an object')
    inputs: dict[str, Tensor] = {}
    for index, entry in enumerate(tensors):
        tensor, used = _tensor(entry, index, rest)
        rest = rest[used:]
        if tensor.name in inputs:
            raise InputError(f"input {tensor.name!r} is given twice")
        inputs[tensor.name] = tensor
    if len(rest):
        raise InputError(f"{len(rest)} bytes of binary data belong to no input")
    return V2Request(_id(document.get("id")), inputs, _requested(document.get("outputs")))


def _id(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise InputError(f'"id" must be a string, got {type(value).__name__}')


def _requested(value: Any) -> list[str] | None:
    if value is None or value == []:  # none named: every output
        return None
    if not isinstance(value, list) or not all(
        isinstance(entry, dict) and isinstance(entry.get("name"), str) for entry in value
    ):
        raise InputError('"outputs" must be a list of {"name": "..."}')
    return [entry["name"] for entry in value]


def _tensor(entry: Any, index: int, binary: memoryview) -> tuple[Tensor, int]:
    if not isinstance(entry, dict):
        raise InputError(f"inputs[{index}] must be an object, got {type(entry).__name__}")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise InputError(f'inputs[{index}] needs a "name"')
    datatype = entry.get("datatype")
    if datatype not in DATATYPES:
        raise InputError(f"input {name!r}: datatype {datatype!r} is not one of {list(DATATYPES)}")
    shape = entry.get("shape")
    if (
        not isinstance(shape, list)
        or not shape
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise InputError(f"input {name!r}: shape must be a list of sizes >= 0, got {shape!r}")
    count = math.prod(shape)
    if count > MAX_ELEMENTS:
        raise PayloadTooLarge(
            f"input {name!r}: shape {shape} has {count:,} elements, at most {MAX_ELEMENTS:,}"
        )
    parameters = entry.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise InputError(f'input {name!r}: "parameters" must be an object')
    size = parameters.get("binary_data_size")
    if size is not None:
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= len(binary):
            raise InputError(
                f"input {name!r}: binary_data_size {size!r}, but {len(binary)} bytes follow"
            )
        data = _from_binary(name, datatype, count, bytes(binary[:size]))
        return Tensor(name, datatype, tuple(shape), data), size
    if "data" not in entry:
        raise InputError(f'input {name!r} has no "data"')
    flat = list(_flatten(entry["data"], name, 0))
    if len(flat) != count:
        raise InputError(f"input {name!r}: shape {shape} needs {count} elements, got {len(flat)}")
    return Tensor(name, datatype, tuple(shape), _typed(name, datatype, flat)), 0


def _flatten(data: Any, name: str, depth: int) -> Iterator[Any]:
    if depth > MAX_DEPTH:
        raise InputError(f"input {name!r}: data nested deeper than {MAX_DEPTH}")
    if not isinstance(data, list):
        yield data  # a lone element: a shape of one element may give it bare
        return
    for item in data:
        if isinstance(item, list):
            yield from _flatten(item, name, depth + 1)
        else:
            yield item


def _typed(name: str, datatype: str, flat: list[Any]) -> Any:
    if datatype == "BYTES":
        wrong = next((item for item in flat if not isinstance(item, str)), None)
        if wrong is not None:
            raise InputError(f"input {name!r}: BYTES elements are strings, got {wrong!r:.40}")
        return flat
    if datatype == "BOOL":
        if not all(isinstance(item, bool) for item in flat):
            raise InputError(f"input {name!r}: BOOL elements are true or false")
        return np.asarray(flat, dtype=bool)
    wrong = next((i for i in flat if isinstance(i, bool) or not isinstance(i, int | float)), None)
    if wrong is not None:
        raise InputError(f"input {name!r}: {datatype} elements are numbers, got {wrong!r:.40}")
    if datatype.startswith(("INT", "UINT")) and any(isinstance(i, float) for i in flat):
        raise InputError(f"input {name!r}: {datatype} elements are whole numbers")
    try:
        with np.errstate(over="ignore"):  # 1e300 as FP32 is inf, refused as not finite
            return np.asarray(flat, dtype=NUMPY[datatype])
    except OverflowError:
        raise InputError(f"input {name!r}: a number outside {datatype}") from None


def _from_binary(name: str, datatype: str, count: int, raw: bytes) -> Any:
    if datatype == "BYTES":
        items, offset = [], 0
        while offset < len(raw):
            if offset + 4 > len(raw):
                raise InputError(f"input {name!r}: a BYTES element's length is cut short")
            (length,) = struct.unpack_from("<I", raw, offset)
            offset += 4
            if offset + length > len(raw):
                raise InputError(f"input {name!r}: a BYTES element is cut short")
            items.append(raw[offset : offset + length])
            offset += length
        if len(items) != count:
            raise InputError(f"input {name!r}: shape needs {count} elements, got {len(items)}")
        return items
    dtype = np.dtype(NUMPY[datatype])
    if len(raw) != count * dtype.itemsize:
        raise InputError(
            f"input {name!r}: {count} {datatype} elements are {count * dtype.itemsize} "
            f"bytes, got {len(raw)}"
        )
    return np.frombuffer(raw, dtype=dtype)


def element_bytes(item: str | bytes, name: str) -> bytes:
    """A BYTES element holding binary data (an image): raw in binary data, base64 in JSON
    (a data URL too, as the native ``{"image"}`` body takes)."""
    if isinstance(item, bytes):
        return item
    encoded = item.partition(",")[2] if item.startswith("data:") else item
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"input {name!r}: an element is not valid base64") from None


def element_text(item: str | bytes, name: str) -> str:
    if isinstance(item, str):
        return item
    try:
        return item.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"input {name!r}: an element is not UTF-8 ({exc.reason})") from None


def output(name: str, datatype: str, shape: list[int], data: Any) -> dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": shape, "data": data}


def classification_tensors(
    labels: list[str], probabilities: list[list[float]]
) -> list[dict[str, Any]]:
    """A classifier's v2 outputs: label, probability and every label's probability per
    row, rounded as the native answers are (ties: the first label, as there)."""
    rows = [[round(p, PRECISION) for p in row] for row in probabilities]
    best = [row.index(max(row)) for row in probabilities]  # the first of equals
    count = len(rows)
    return [
        output(oip.LABEL, "BYTES", [count], [labels[i] for i in best]),
        output(
            oip.PROBABILITY, "FP32", [count], [row[i] for row, i in zip(rows, best, strict=True)]
        ),
        output(oip.PROBABILITIES, "FP32", [count, len(labels)], [p for row in rows for p in row]),
    ]


def v2_answer(
    model: str, version: str, request_id: str | None, tensors: list[dict[str, Any]]
) -> dict[str, Any]:
    answer: dict[str, Any] = {"model_name": model, "model_version": version}
    if request_id is not None:
        answer["id"] = request_id
    return answer | {"outputs": tensors}


def selected(tensors: list[dict[str, Any]], wanted: list[str] | None) -> list[dict[str, Any]]:
    """The outputs a request asked for (all when it named none), in its order."""
    if wanted is None:
        return tensors
    by_name = {tensor["name"]: tensor for tensor in tensors}
    unknown = [name for name in wanted if name not in by_name]
    if unknown:
        raise InputError(f"unknown outputs {unknown}: this answer has {list(by_name)}")
    return [by_name[name] for name in wanted]


def instances(document: Any) -> list[Any]:
    """The instances of a KServe v1 request."""
    found = document.get("instances") if isinstance(document, dict) else None
    if not isinstance(found, list) or not found:
        raise InputError('a v1 request is {"instances": [...]}, a non-empty list')
    return found
