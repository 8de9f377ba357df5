"""Per-model OpenAPI 3.1 documents, generated from the archive's metadata (never hand-written
per model): every wire format of the model's kind (native bodies, KServe v2 tensors, v1
instances), its answers, its metadata and readiness, and every error answer.

    python -m contracts.openapi [--out build/openapi]   # `make openapi`

writes ``<model>.json`` for each archive in the model store; the front door serves the same
documents at ``/openapi/<model>.json`` and the page to try them at ``/docs/`` (server/door.py).
Examples are the README's inputs (examples/) when given, else made from the metadata.
"""

from __future__ import annotations

import argparse
import base64
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from contracts import oip
from contracts.metadata import Metadata

OPENAPI = "3.1.0"
MAX_ROWS = 1024  # handlers/vector_parsing.py MAX_ROWS
MAX_TEXTS = 64  # handlers/text_parsing.py MAX_TEXTS
MAX_CHARS = 20_000  # handlers/text_parsing.py MAX_CHARS
MAX_IMAGES = 32  # handlers/image_handler.py MAX_IMAGES
JSON, TEXT, MULTIPART = "application/json", "text/plain", "multipart/form-data"

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def array(items: Schema, low: int | None = None, high: int | None = None) -> Schema:
    schema: Schema = {"type": "array", "items": items}
    if low is not None:
        schema["minItems"] = low
    if high is not None:
        schema["maxItems"] = high
    return schema


def obj(properties: Mapping[str, Schema], required: Sequence[str] = (), **more: Any) -> Schema:
    return {
        "type": "object",
        "properties": dict(properties),
        "required": list(required),
        "additionalProperties": False,
    } | more


NUMBER: Schema = {"type": "number"}
PROBABILITY: Schema = {"type": "number", "minimum": 0, "maximum": 1}
BINARY: Schema = {"type": "string", "format": "binary"}
A_TEXT: Schema = {"type": "string", "minLength": 1, "maxLength": MAX_CHARS, "pattern": r"\S"}


# -- Errors: the native body, the protocols' body, and which statuses each path answers.

ERROR_STATUSES = {
    400: "the request is malformed or fails validation; the message names what is wrong",
    401: "missing or unknown API key (the front door)",
    413: "more rows, texts, tokens, pixels or bytes than one request may hold",
    415: "a media type the model does not read",
    429: "this key has too many requests in flight, or is over its rate",
    503: "the model cannot take this request now (queue full, no ready worker): retry",
}
PROTOCOL_STATUSES = (400, 413)  # what the handler answers as {"error"} on the KServe routes


def error_components() -> tuple[dict[str, Schema], dict[str, Any]]:
    schemas = {
        "Error": obj(
            {
                "code": {"type": "integer"},
                "type": {"type": "string"},
                "message": {"type": "string"},
            },
            ["code", "type", "message"],
        ),
        "ProtocolError": obj({"error": {"type": "string"}}, ["error"]),
    }
    responses: dict[str, Any] = {}
    for status, description in ERROR_STATUSES.items():
        responses[f"E{status}"] = {
            "description": description,
            "content": {JSON: {"schema": ref("Error")}},
        }
        if status in PROTOCOL_STATUSES:
            # The KServe routes: the handler's refusal is {"error"}; the door's own is native.
            responses[f"P{status}"] = {
                "description": description,
                "content": {JSON: {"schema": {"anyOf": [ref("ProtocolError"), ref("Error")]}}},
            }
    return schemas, responses


def errors(statuses: Sequence[int], protocol: bool = False) -> dict[str, Any]:
    found = {}
    for status in statuses:
        prefix = "P" if protocol and status in PROTOCOL_STATUSES else "E"
        found[str(status)] = {"$ref": f"#/components/responses/{prefix}{status}"}
    return found


# -- Each kind's native bodies and answers.


def classification(labels: Sequence[str]) -> Schema:
    return obj(
        {
            "label": {"enum": list(labels)},
            "probability": PROBABILITY,
            "probabilities": obj({label: PROBABILITY for label in labels}, labels),
        },
        ["label", "probability", "probabilities"],
    )


def ranked(labels: Sequence[str]) -> Schema:
    return obj(
        {"label": {"enum": list(labels)}, "probability": PROBABILITY}, ["label", "probability"]
    )


def native(metadata: Metadata, examples: Mapping[str, Any]) -> tuple[dict[str, Any], Schema]:
    """The request body (by media type) and the 200 answer of ``POST /predictions/<m>``."""
    kind = metadata["kind"]
    if kind == "image":
        labels = metadata["labels"]
        image_json = obj(
            {"image": {"type": "string", "contentEncoding": "base64", "minLength": 1}}, ["image"]
        )
        body = {
            "image/png": {"schema": BINARY},
            "image/jpeg": {"schema": BINARY},
            MULTIPART: {"schema": obj({"data": BINARY}, ["data"])},
            JSON: {"schema": image_json, "example": {"image": examples["image_b64"]}},
        }
        top = min(int(metadata.get("top_k", len(labels))), len(labels))
        answer = obj(
            {
                "label": {"enum": list(labels)},
                "probability": PROBABILITY,
                "top_k": array(ranked(labels), top, top),
            },
            ["label", "probability", "top_k"],
        )
        return body, answer
    if kind == "vector":
        names = metadata["input"]["features"]
        row = array(NUMBER, len(names), len(names))
        by_name = obj({name: NUMBER for name in names}, names)
        rows = array({"anyOf": [row, by_name]}, 1, MAX_ROWS)
        body_schema: Schema = {
            "anyOf": [
                obj({"inputs": {"anyOf": [row, by_name, rows]}}, ["inputs"]),
                row,
                array(row, 1, MAX_ROWS),
            ]
        }
        example_row = examples["row"]
        body = {
            JSON: {
                "schema": body_schema,
                "examples": {
                    "one row": {"value": {"inputs": example_row}},
                    "rows": {"value": {"inputs": [example_row, example_row]}},
                    "a row by name": {
                        "value": {"inputs": dict(zip(names, example_row, strict=True))}
                    },
                },
            }
        }
        labels = metadata["labels"]
        return body, obj({"predictions": array(classification(labels))}, ["predictions"])
    texts = array(A_TEXT, 1, MAX_TEXTS)
    body = {
        TEXT: {"schema": A_TEXT, "example": examples["text"]},
        JSON: {
            "schema": {
                "anyOf": [
                    obj({"text": A_TEXT}, ["text"]),
                    obj({"inputs": texts}, ["inputs"]),
                    obj({"text": A_TEXT, "labels": texts}, ["text", "labels"]),
                ]
            },
            "examples": {
                "one text": {"value": {"text": examples["text"]}},
                "texts": {"value": {"inputs": examples["texts"]}},
                "a text with labels": {
                    "value": {"text": examples["text"], "labels": examples["labels"]}
                },
            },
        },
        MULTIPART: {"schema": obj({"data": A_TEXT}, ["data"])},
    }
    dimension = int(metadata["dimension"])
    embeddings = obj(
        {
            "embeddings": array(array(NUMBER, dimension, dimension)),
            "truncated": array({"type": "boolean"}),
        },
        ["embeddings", "truncated"],
    )
    ranking = obj(
        {
            "label": {"type": "string"},
            "labels": array(
                obj({"label": {"type": "string"}, "score": NUMBER}, ["label", "score"])
            ),
            "truncated": {"type": "boolean"},
        },
        ["label", "labels", "truncated"],
    )
    return body, {"oneOf": [embeddings, ranking]}


# -- KServe v2 and v1.


def tensor_input(meta: oip.TensorMetadata, datatypes: Sequence[str]) -> Schema:
    dims = len(meta["shape"])
    shape = array({"type": "integer", "minimum": 0}, dims, dims)
    if meta["shape"][-1] != -1 and dims > 1:  # a fixed last dimension (features)
        last = meta["shape"][-1]
        shape["prefixItems"] = [
            {"type": "integer", "minimum": 1, "maximum": MAX_ROWS},
            {"const": last},
        ]
    element = {"type": "string"} if meta["datatype"] == "BYTES" else NUMBER
    return obj(
        {
            "name": {"const": meta["name"]},
            "datatype": {"enum": list(datatypes)},
            "shape": shape,
            "data": array({"anyOf": [element, array(element)]}),
            "parameters": {"type": "object"},
        },
        ["name", "datatype", "shape", "data"],
    )


def v2_request(metadata: Metadata) -> Schema:
    kind = metadata["kind"]
    inputs = oip.inputs(metadata)
    if kind == "vector":
        features = tensor_input(inputs[0], oip.NUMERIC)
        column = obj(
            {
                "name": {"enum": metadata["input"]["features"]},
                "datatype": {"enum": list(oip.NUMERIC)},
                "shape": array({"type": "integer", "minimum": 1}, 1, 1),
                "data": array(NUMBER),
                "parameters": {"type": "object"},
            },
            ["name", "datatype", "shape", "data"],
        )
        tensors: Schema = {"anyOf": [array(features, 1, 1), array(column, 1)]}
    else:
        tensors = array(
            {"anyOf": [tensor_input(meta, ["BYTES"]) for meta in inputs]}, 1, len(inputs)
        )
    names = sorted({meta["name"] for meta in oip.outputs(metadata)})
    return obj(
        {
            "id": {"type": "string"},
            "inputs": tensors,
            "outputs": array(
                obj({"name": {"enum": names}, "parameters": {"type": "object"}}, ["name"])
            ),
            "parameters": {"type": "object"},
        },
        ["inputs"],
    )


def v2_response(metadata: Metadata) -> Schema:
    tensor = obj(
        {
            "name": {"enum": sorted({meta["name"] for meta in oip.outputs(metadata)})},
            "datatype": {"enum": list(oip.DATATYPES)},
            "shape": array({"type": "integer", "minimum": 0}),
            "data": array({"type": ["string", "number", "boolean"]}),
            "parameters": {"type": "object"},
        },
        ["name", "datatype", "shape", "data"],
    )
    return obj(
        {
            "model_name": {"const": metadata["model"]},
            "model_version": {"type": "string"},
            "id": {"type": "string"},
            "outputs": array(tensor, 1),
            "parameters": {"type": "object"},
        },
        ["model_name", "outputs"],
    )


def v2_example(metadata: Metadata, examples: Mapping[str, Any]) -> dict[str, Any]:
    kind = metadata["kind"]
    if kind == "image":
        tensor = {
            "name": oip.IMAGE,
            "datatype": "BYTES",
            "shape": [1],
            "data": [examples["image_b64"]],
        }
        return {"inputs": [tensor]}
    if kind == "vector":
        row = examples["row"]
        return {
            "inputs": [
                {"name": oip.FEATURES, "datatype": "FP32", "shape": [1, len(row)], "data": row}
            ]
        }
    texts = examples["texts"]
    return {
        "inputs": [{"name": oip.TEXT, "datatype": "BYTES", "shape": [len(texts)], "data": texts}]
    }


def v1_example(metadata: Metadata, examples: Mapping[str, Any]) -> dict[str, Any]:
    kind = metadata["kind"]
    if kind == "image":
        return {"instances": [{"b64": examples["image_b64"]}]}
    if kind == "vector":
        return {"instances": [examples["row"]]}
    return {"instances": examples["texts"]}


def v1_prediction(metadata: Metadata, answer: Schema) -> Schema:
    kind = metadata["kind"]
    if kind == "image":
        return answer
    if kind == "vector":
        return classification(metadata["labels"])
    dimension = int(metadata["dimension"])
    return obj(
        {"embedding": array(NUMBER, dimension, dimension), "truncated": {"type": "boolean"}},
        ["embedding", "truncated"],
    )


def v1_limit(metadata: Metadata) -> int:
    return {"image": MAX_IMAGES, "vector": MAX_ROWS}.get(metadata["kind"], MAX_TEXTS)


# -- The document.

PUBLIC: list[dict[str, list[str]]] = []  # security of what the door answers without a key


def health(description: str, ok: Schema, example: Any) -> dict[str, Any]:
    return {
        "get": {
            "summary": description,
            "security": PUBLIC,
            "responses": {
                "200": {
                    "description": "yes",
                    "content": {JSON: {"schema": ok, "example": example}},
                },
                "503": {"description": "no", "content": {JSON: {"schema": ok}}},
            },
        }
    }


def document(metadata: Metadata, examples: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of one model from its archive's metadata."""
    examples = {**default_examples(metadata), **(examples or {})}
    name = metadata["model"]
    body, answer = native(metadata, examples)
    error_schemas, error_responses = error_components()
    native_errors = errors(list(ERROR_STATUSES))
    protocol_errors = errors(list(ERROR_STATUSES), protocol=True)
    limit = v1_limit(metadata)
    instance = oip.v1_instance_schema(metadata)
    paths: dict[str, Any] = {
        f"/predictions/{name}": {
            "post": {
                "operationId": f"predict_{name}",
                "summary": metadata.get("task", f"predict with {name}"),
                "requestBody": {"required": True, "content": body},
                "responses": {
                    "200": {"description": "the prediction", "content": {JSON: {"schema": answer}}},
                    **native_errors,
                },
            }
        },
        f"/v2/models/{name}/infer": {
            "post": {
                "operationId": f"infer_{name}",
                "summary": "Open Inference Protocol (KServe v2) inference",
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {
                            "schema": v2_request(metadata),
                            "example": v2_example(metadata, examples),
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "the output tensors",
                        "content": {JSON: {"schema": v2_response(metadata)}},
                    },
                    **protocol_errors,
                },
            }
        },
        f"/v1/models/{name}:predict": {
            "post": {
                "operationId": f"predict_v1_{name}",
                "summary": "KServe v1 inference: one prediction per instance",
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {
                            "schema": obj({"instances": array(instance, 1, limit)}, ["instances"]),
                            "example": v1_example(metadata, examples),
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "the predictions, in the instances' order",
                        "content": {
                            JSON: {
                                "schema": obj(
                                    {"predictions": array(v1_prediction(metadata, answer))},
                                    ["predictions"],
                                )
                            }
                        },
                    },
                    **protocol_errors,
                },
            }
        },
        f"/v2/models/{name}": {
            "get": {
                "operationId": f"metadata_{name}",
                "summary": "the model's input and output tensors",
                "security": PUBLIC,
                "responses": {
                    "200": {
                        "description": "Open Inference Protocol model metadata",
                        "content": {
                            JSON: {
                                "schema": metadata_schema(),
                                "example": oip.model_metadata(metadata),
                            }
                        },
                    }
                },
            }
        },
        f"/v2/models/{name}/ready": health(
            "whether every worker of the model is READY",
            obj({"name": {"const": name}, "ready": {"type": "boolean"}}, ["name", "ready"]),
            {"name": name, "ready": True},
        ),
        "/v2/health/live": health(
            "the model server answers", obj({"live": {"type": "boolean"}}, ["live"]), {"live": True}
        ),
        "/v2/health/ready": health(
            "every model is ready", obj({"ready": {"type": "boolean"}}, ["ready"]), {"ready": True}
        ),
    }
    return {
        "openapi": OPENAPI,
        "info": {
            "title": f"{name}: {metadata.get('task', metadata['kind'])}",
            "version": metadata["version"],
            "description": description(metadata),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the front door's API key (`python -m server token`)",
                }
            },
            "schemas": error_schemas,
            "responses": error_responses,
        },
    }


def metadata_schema() -> Schema:
    tensor = obj(
        {
            "name": {"type": "string"},
            "datatype": {"enum": list(oip.DATATYPES)},
            "shape": array({"type": "integer"}),
        },
        ["name", "datatype", "shape"],
    )
    return obj(
        {
            "name": {"type": "string"},
            "versions": array({"type": "string"}),
            "platform": {"type": "string"},
            "inputs": array(tensor),
            "outputs": array(tensor),
        },
        ["name", "platform", "inputs", "outputs"],
    )


def description(metadata: Metadata) -> str:
    lines = [f"Dataset: {metadata['dataset']}." if "dataset" in metadata else ""]
    note = metadata.get("input", {}).get("note")
    if note:
        lines.append(f"Input: {note}.")
    if metadata["kind"] == "text":
        lines.append('v2: ranking outputs (label, labels, scores) come with a "labels" input.')
    if metadata["kind"] == "vector":
        lines.append("v2: one features tensor [n, F], or one tensor per feature name, [n] each.")
    lines.append("Predictions need the API key (Authorize); metadata and health do not.")
    return "\n\n".join(line for line in lines if line)


def default_examples(metadata: Metadata) -> dict[str, Any]:
    """Examples made from the metadata alone (the README's inputs replace them)."""
    found: dict[str, Any] = {
        "text": "A man is eating food.",
        "texts": ["A man is eating food.", "A man is riding a horse."],
        "labels": ["cooking", "football", "astronomy"],
        "image_b64": "",
    }
    if metadata["kind"] == "vector":
        found["row"] = [1.0] * len(metadata["input"]["features"])
    return found


def readme_examples(folder: Path) -> dict[str, Any]:
    """The README's inputs from ``folder`` (examples/), those that are there."""
    found: dict[str, Any] = {}
    if (folder / "seven.png").is_file():
        found["image_b64"] = base64.b64encode((folder / "seven.png").read_bytes()).decode()
    if (folder / "cancer_row.json").is_file():
        found["row"] = json.loads((folder / "cancer_row.json").read_text())["inputs"]
    return found


# -- What the front door serves from its own files (config/door-files.lua).

# Swagger UI's assets the page loads, from the swagger-ui-py package (its static/ folder).
SWAGGER_ASSETS = {
    "swagger-ui-bundle.js": "application/javascript",
    "swagger-ui-standalone-preset.js": "application/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}
PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>torchserve-kit: try a model</title>
  <link rel="stylesheet" href="swagger-ui.css">
  <link rel="icon" type="image/png" href="favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="swagger-ui-bundle.js"></script>
  <script src="swagger-ui-standalone-preset.js"></script>
  <script>
    // Swagger UI's own initializer (swagger-initializer.js), given this server's documents.
    window.ui = SwaggerUIBundle({
      urls: __URLS__,
      dom_id: "#swagger-ui",
      deepLinking: true,
      persistAuthorization: true,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      layout: "StandaloneLayout"
    });
  </script>
</body>
</html>
"""
MISSING_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>torchserve-kit</title></head>
<body><p>Swagger UI is not installed on this server (<code>pip install swagger-ui-py</code>,
requirements/dev.txt). The documents are at __LINKS__.</p></body></html>
"""


def swagger_folder() -> Path | None:
    """Swagger UI's files, from the swagger-ui-py package; None when it is not installed."""
    import importlib.util

    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "static"
    return folder if all((folder / name).is_file() for name in SWAGGER_ASSETS) else None


def page(models: Sequence[str], swagger: Path | None) -> str:
    """The page to try each model: Swagger UI over every model's document, one per entry of
    its selector (``/docs/?urls.primaryName=<model>`` opens one)."""
    if swagger is None:
        links = ", ".join(f'<a href="/openapi/{m}.json">/openapi/{m}.json</a>' for m in models)
        return MISSING_PAGE.replace("__LINKS__", links)
    urls = [{"url": f"/openapi/{model}.json", "name": model} for model in models]
    return PAGE.replace("__URLS__", json.dumps(urls))


def write_door_files(
    folder: Path, documents: Mapping[str, Metadata], examples: Mapping[str, Any]
) -> Path:
    """Write what the door answers itself into ``folder``, with ``MANIFEST`` (URL path, file,
    media type per line, tab-separated; config/door-files.lua reads it); return it."""
    folder.mkdir(parents=True, exist_ok=True)
    entries: list[tuple[str, Path, str]] = []

    def put(url: str, name: str, text: str, media: str) -> None:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        entries.append((url, path, media))

    for model, metadata in documents.items():
        put(
            f"/openapi/{model}.json",
            f"openapi/{model}.json",
            json.dumps(document(metadata, examples)),
            JSON,
        )
        put(
            f"/v2/models/{model}",
            f"v2/{model}.json",
            json.dumps(oip.model_metadata(metadata)),
            JSON,
        )
    put(
        "/openapi/",
        "openapi/index.json",
        json.dumps({m: f"/openapi/{m}.json" for m in documents}),
        JSON,
    )
    swagger = swagger_folder()
    html = page(list(documents), swagger)
    for url in ("/docs/", "/docs/index.html"):
        put(url, "docs/index.html", html, "text/html; charset=utf-8")
    if swagger is not None:
        entries += [
            (f"/docs/{name}", swagger / name, media) for name, media in SWAGGER_ASSETS.items()
        ]
    manifest = "".join(f"{url}\t{path}\t{media}\n" for url, path, media in entries)
    (folder / "MANIFEST").write_text(manifest, encoding="utf-8")
    return folder


def main(argv: list[str] | None = None) -> None:
    from contracts.metadata import read_metadata
    from server.launcher import store_models
    from server.settings import EXAMPLES, MODEL_STORE, ROOT

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "openapi")
    parser.add_argument("--model-store", type=Path, default=MODEL_STORE)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    examples = readme_examples(EXAMPLES)
    for name in store_models(args.model_store):
        metadata = read_metadata(args.model_store / f"{name}.mar")
        path = args.out / f"{name}.json"
        path.write_text(json.dumps(document(metadata, examples), indent=2) + "\n")
        print(f"{name}: wrote {path}")


if __name__ == "__main__":
    main()
