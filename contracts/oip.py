"""Each kind's tensors in the Open Inference Protocol (KServe v2) and its KServe v1 shapes.

The one place that names a model's v2 inputs and outputs: the handlers read and answer
these names, the front door serves ``model_metadata`` at ``GET /v2/models/<m>`` and the
OpenAPI documents (openapi/) describe them. Shapes come from the archive's metadata
(labels, features, embedding size); ``-1`` is a dimension of any size (rows of a request).

    image   in:  image BYTES [n]        PNG/JPEG bytes (base64 in JSON, raw in binary data)
            out: label BYTES [n], probability FP32 [n], probabilities FP32 [n, labels]
    vector  in:  features FP32 [n, F]   or one tensor per feature name, FP32 [n] each
            out: label BYTES [n], probability FP32 [n], probabilities FP32 [n, labels]
    text    in:  text BYTES [n]; labels BYTES [m] (optional: rank them against one text)
            out: embeddings FP32 [n, D], truncated BOOL [n]; with labels:
                 label BYTES [1], labels BYTES [m] (most similar first), scores FP32 [m],
                 truncated BOOL [1]

KServe v1 (``{"instances": [...]}`` -> ``{"predictions": [...]}``): an instance is one image
(``{"b64": "..."}``), one row (numbers, or an object of the features by name) or one text;
a prediction is the native answer for it (``v1_prediction_schema``).
"""

from __future__ import annotations

from typing import Any, TypedDict

from contracts.metadata import Metadata

PLATFORM = "pytorch_torchserve"
# The protocol's data types this project reads in a numeric tensor (converted to float32).
NUMERIC = (
    "FP16",
    "FP32",
    "FP64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
)
DATATYPES = ("BOOL", "BYTES", *NUMERIC)

IMAGE = "image"
FEATURES = "features"
TEXT, LABELS = "text", "labels"
LABEL, PROBABILITY, PROBABILITIES = "label", "probability", "probabilities"
EMBEDDINGS, TRUNCATED, SCORES = "embeddings", "truncated", "scores"


class TensorMetadata(TypedDict):
    name: str
    datatype: str
    shape: list[int]


class ModelMetadata(TypedDict):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]


def tensor(name: str, datatype: str, *shape: int) -> TensorMetadata:
    return {"name": name, "datatype": datatype, "shape": list(shape)}


def inputs(metadata: Metadata) -> list[TensorMetadata]:
    kind = metadata["kind"]
    if kind == "image":
        return [tensor(IMAGE, "BYTES", -1)]
    if kind == "vector":
        return [tensor(FEATURES, "FP32", -1, len(metadata["input"]["features"]))]
    return [tensor(TEXT, "BYTES", -1), tensor(LABELS, "BYTES", -1)]


def outputs(metadata: Metadata) -> list[TensorMetadata]:
    kind = metadata["kind"]
    if kind in ("image", "vector"):
        return [
            tensor(LABEL, "BYTES", -1),
            tensor(PROBABILITY, "FP32", -1),
            tensor(PROBABILITIES, "FP32", -1, len(metadata["labels"])),
        ]
    return [
        tensor(EMBEDDINGS, "FP32", -1, int(metadata["dimension"])),
        tensor(TRUNCATED, "BOOL", -1),
        tensor(LABEL, "BYTES", 1),
        tensor(LABELS, "BYTES", -1),
        tensor(SCORES, "FP32", -1),
    ]


def model_metadata(metadata: Metadata) -> ModelMetadata:
    """``GET /v2/models/<m>``: the model's name, version and tensors."""
    return {
        "name": metadata["model"],
        "versions": [metadata["version"]],
        "platform": PLATFORM,
        "inputs": inputs(metadata),
        "outputs": outputs(metadata),
    }


def optional_inputs(metadata: Metadata) -> set[str]:
    """Inputs a request may leave out."""
    return {LABELS} if metadata["kind"] == "text" else set()


def error_body(message: str) -> dict[str, str]:
    """The protocol's error answer (v1 and v2 alike)."""
    return {"error": message}


def v1_instance_schema(metadata: Metadata) -> dict[str, Any]:
    """JSON Schema of one KServe v1 instance of this model."""
    kind = metadata["kind"]
    if kind == "image":
        return {
            "type": "object",
            "required": ["b64"],
            "properties": {"b64": {"type": "string", "description": "base64 PNG or JPEG"}},
        }
    if kind == "vector":
        names = metadata["input"]["features"]
        return {
            "oneOf": [
                {
                    "type": "array",
                    "items": {"type": "number"},
                    "minItems": len(names),
                    "maxItems": len(names),
                },
                {
                    "type": "object",
                    "required": list(names),
                    "properties": {name: {"type": "number"} for name in names},
                    "additionalProperties": False,
                },
            ]
        }
    return {"type": "string", "minLength": 1}
