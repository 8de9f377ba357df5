"""The per-model OpenAPI documents the front door serves (no key: /openapi/<m>.json), and
schemathesis against each: no 5xx, every response matching its schema. The tests run a small
budget (8 examples per operation); `make schemathesis` a large one (SCHEMATHESIS_EXAMPLES)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from contracts import openapi
from contracts.metadata import read_metadata
from server.launcher import TorchServe
from server.settings import EXAMPLES, MODEL_STORE

MODELS = ("digits", "cancer", "minilm")
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)


@pytest.mark.parametrize("model", MODELS)
def test_the_door_serves_the_generated_document(server: TorchServe, model: str) -> None:
    answer = requests.get(f"{server.inference_url}/openapi/{model}.json", timeout=10)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/json"
    expected = openapi.document(
        read_metadata(MODEL_STORE / f"{model}.mar"), openapi.readme_examples(EXAMPLES)
    )
    assert answer.json() == expected


def test_the_page_and_its_assets_need_no_key(server: TorchServe) -> None:
    base = server.inference_url
    moved = requests.get(f"{base}/docs", allow_redirects=False, timeout=10)
    assert (moved.status_code, moved.headers["Location"]) == (301, "/docs/")
    page = requests.get(f"{base}/docs/", timeout=10)
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    bundle = requests.get(f"{base}/docs/swagger-ui-bundle.js", timeout=10)
    assert bundle.status_code == 200 and len(bundle.content) > 1_000_000, "past tune.bufsize"
    assert requests.get(f"{base}/openapi/", timeout=10).json() == {
        model: f"/openapi/{model}.json" for model in sorted(MODELS)
    }
    # A file of Swagger UI's package the page does not use: only the listed files are served.
    missing = requests.get(f"{base}/docs/swagger-editor.js", timeout=10)
    assert (missing.status_code, missing.json()["type"]) == (404, "NotFound")


@pytest.mark.parametrize("model", MODELS)
def test_schemathesis(server: TorchServe, model: str, tmp_path: Path) -> None:
    examples = os.environ.get("SCHEMATHESIS_EXAMPLES", "8")
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{server.inference_url}/openapi/{model}.json",
        "--url",
        server.inference_url,
        "--header",
        f"Authorization: Bearer {server.api_key()}",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        examples,
        "--seed",
        "16",
        "--suppress-health-check",
        "all",
        "--report-dir",
        str(tmp_path),
    ]
    # In tmp_path: schemathesis keeps its own cache (.schemathesis/) in the working folder.
    run = subprocess.run(command, capture_output=True, text=True, timeout=1800, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-6000:]
