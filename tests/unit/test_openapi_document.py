"""The per-model OpenAPI documents, offline: generated from each kind's metadata, every
example valid against its own schema, every native wire format and error answer described,
and the files the front door serves from them (config/door-files.lua's MANIFEST)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import schemathesis

from contracts import oip, openapi
from contracts.metadata import Metadata
from server.settings import EXAMPLES

FEATURES = [f"feature {i}" for i in range(30)]
METADATA: dict[str, Metadata] = {
    "digits": {
        "kind": "image",
        "model": "digits",
        "version": "1.0",
        "labels": [str(d) for d in range(10)],
        "top_k": 3,
    },
    "cancer": {
        "kind": "vector",
        "model": "cancer",
        "version": "1.0",
        "labels": ["malignant", "benign"],
        "input": {"features": FEATURES},
    },
    "minilm": {"kind": "text", "model": "minilm", "version": "1.0", "dimension": 384},
}
EXAMPLE_INPUTS = openapi.readme_examples(EXAMPLES) | {"row": [1.5] * 30}


def validator(document: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    """A validator of ``schema`` that resolves the document's ``#/components/...``."""
    return jsonschema.Draft202012Validator(schema | {"components": document["components"]})


def examples_of(document: dict[str, Any]) -> list[tuple[str, dict[str, Any], Any]]:
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            contents = [operation.get("requestBody", {}).get("content", {})]
            contents += [r.get("content", {}) for r in operation["responses"].values()]
            for content in contents:
                for media, entry in content.items():
                    where = f"{method} {path} {media}"
                    if "example" in entry:
                        found.append((where, entry["schema"], entry["example"]))
                    for name, example in entry.get("examples", {}).items():
                        found.append((f"{where} {name}", entry["schema"], example["value"]))
    return found


@pytest.mark.parametrize("model", sorted(METADATA))
def test_every_example_matches_its_schema(model: str) -> None:
    document = openapi.document(METADATA[model], EXAMPLE_INPUTS)
    examples = examples_of(document)
    assert len(examples) >= 5, "requests, metadata and health carry examples"
    for where, schema, example in examples:
        errors = list(validator(document, schema).iter_errors(example))
        assert not errors, f"{where}: {errors[0].message}"


@pytest.mark.parametrize("model", sorted(METADATA))
def test_the_document_loads_as_openapi_3_1(model: str) -> None:
    document = openapi.document(METADATA[model], EXAMPLE_INPUTS)
    assert document["openapi"] == "3.1.0"
    schema = schemathesis.openapi.from_dict(document)
    operations = set()
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an Err raises here: wanted
        operations.add((operation.method.upper(), operation.path))
    assert operations == {
        ("POST", f"/predictions/{model}"),
        ("POST", f"/v2/models/{model}/infer"),
        ("POST", f"/v1/models/{model}:predict"),
        ("GET", f"/v2/models/{model}"),
        ("GET", f"/v2/models/{model}/ready"),
        ("GET", "/v2/health/live"),
        ("GET", "/v2/health/ready"),
    }


def test_each_kind_describes_its_native_wire_formats() -> None:
    media = {
        model: set(
            openapi.document(metadata)["paths"][f"/predictions/{model}"]["post"]["requestBody"][
                "content"
            ]
        )
        for model, metadata in METADATA.items()
    }
    assert media == {
        "digits": {"image/png", "image/jpeg", "multipart/form-data", "application/json"},
        "cancer": {"application/json"},
        "minilm": {"text/plain", "application/json", "multipart/form-data"},
    }


def test_every_prediction_lists_every_error_and_the_kserve_routes_their_own() -> None:
    document = openapi.document(METADATA["cancer"])
    statuses = ["200", "400", "401", "413", "415", "429", "503"]
    for path in ("/predictions/cancer", "/v2/models/cancer/infer", "/v1/models/cancer:predict"):
        assert sorted(document["paths"][path]["post"]["responses"]) == statuses, path
    v2 = document["paths"]["/v2/models/cancer/infer"]["post"]["responses"]
    assert v2["400"] == {"$ref": "#/components/responses/P400"}
    body = document["components"]["responses"]["P400"]["content"]["application/json"]["schema"]
    check = validator(document, body)
    assert check.is_valid({"error": "row 0: expected 30 features, got 2"})
    assert check.is_valid({"code": 401, "type": "Unauthorized", "message": "no key"})
    assert not check.is_valid({"message": "other"})


def test_security_is_the_key_but_for_what_the_door_answers_itself() -> None:
    document = openapi.document(METADATA["minilm"])
    assert document["security"] == [{"bearer": []}]
    public = sorted(
        path
        for path, operations in document["paths"].items()
        for operation in operations.values()
        if operation.get("security") == []
    )
    assert public == [
        "/v2/health/live",
        "/v2/health/ready",
        "/v2/models/minilm",
        "/v2/models/minilm/ready",
    ]


def test_v2_metadata_example_is_the_served_metadata() -> None:
    document = openapi.document(METADATA["cancer"])
    answer = document["paths"]["/v2/models/cancer"]["get"]["responses"]["200"]
    assert answer["content"]["application/json"]["example"] == oip.model_metadata(
        METADATA["cancer"]
    )


def test_door_files_name_every_document_and_the_page(tmp_path: Path) -> None:
    folder = openapi.write_door_files(tmp_path / "files", METADATA, EXAMPLE_INPUTS)
    lines = (folder / "MANIFEST").read_text().splitlines()
    entries = {
        url: (Path(file), media) for url, file, media in (line.split("\t") for line in lines)
    }
    for model, metadata in METADATA.items():
        file, media = entries[f"/openapi/{model}.json"]
        assert media == "application/json"
        assert json.loads(file.read_text()) == openapi.document(metadata, EXAMPLE_INPUTS)
        assert json.loads(entries[f"/v2/models/{model}"][0].read_text()) == oip.model_metadata(
            metadata
        )
    page = entries["/docs/"][0].read_text()
    assert '"url": "/openapi/cancer.json", "name": "cancer"' in page
    assert all(entries[url][0].is_file() for url in entries), "every listed file exists"
    assert "/docs/swagger-ui-bundle.js" in entries, "Swagger UI's assets, from swagger-ui-py"


def test_the_door_answers_v2_health_from_its_readiness_backends() -> None:
    from server.door import protocol_config

    config = protocol_config(["cancer", "digits"])
    assert config.startswith("backend door_answers\n")
    ready = next(line for line in config.splitlines() if "/v2/health/ready }" in line)
    assert "{ nbsrv(ready_cancer) ge 1 } { nbsrv(ready_digits) ge 1 }" in ready
    assert 'date,sub("${DOOR_STARTED}") ge 3' in ready, "false until the first checks ran"
    assert '{\\"name\\": \\"digits\\", \\"ready\\": true}' in config
    assert config.rstrip().endswith("http-request use-service lua.door_files")
