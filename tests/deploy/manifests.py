"""Render deploy/'s overlays and validate what they hold, offline.

- Kubernetes kinds: ``kubernetes_validate`` (the JSON schemas of each Kubernetes minor
  version, bundled in the package), strict: an unknown field or kind fails.
- CRD kinds: the openAPIV3Schema each project publishes in its CRD, carried in
  deploy/schemas/ (source, tag, commit and the file's sha256 inside each file), made strict
  the way the API server's strict field validation is (``kubectl apply`` since 1.27): a
  field the schema does not know fails unless the schema preserves unknown fields.
- Any other kind fails: it is neither Kubernetes' nor on the CRD list.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from server.settings import ROOT

DEPLOY = ROOT / "deploy"
SCHEMAS = DEPLOY / "schemas"
OVERLAYS = ("base", "overlays/keda", "overlays/hpa", "overlays/kserve")
# Two current minor versions and the newest the package bundles.
KUBERNETES_VERSIONS = ("1.32", "1.34", "1.37")
KUBECTL_LOCAL = ROOT / "build" / "deploy" / "tools" / "kubectl"
CHECKOV_LOCAL = ROOT / "build" / "deploy" / "tools" / "checkov" / "bin" / "checkov"

Doc = dict[str, Any]


def kubectl() -> str:
    """``KUBECTL`` or the one `make deploy-tools` installs (the same kustomize everywhere)."""
    path = os.environ.get("KUBECTL") or str(KUBECTL_LOCAL)
    if not Path(path).is_file():
        raise FileNotFoundError(f"no kubectl at {path}: run `make deploy-tools`")
    return path


def render(folder: Path) -> list[Doc]:
    """``kubectl kustomize folder``: the objects, in order."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(folder)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"kustomize {folder} failed: {result.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def find(docs: list[Doc], kind: str, name: str = "torchserve-kit") -> Doc:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
    return matches[0]


@cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the carried CRD file (source and openAPIV3Schema)."""
    found = {}
    for path in sorted(SCHEMAS.glob("*.json")):
        carried = json.loads(path.read_text())
        found[(carried["apiVersion"], carried["kind"])] = carried
    return found


def strict(schema: Any) -> Any:
    """An OpenAPI v3 schema as JSON Schema with unknown fields refused: every object that
    lists its properties gets ``additionalProperties: false`` unless it says otherwise or
    preserves unknown fields; ``nullable`` allows null."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: strict(value) for key, value in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    if out.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


@cache
def _crd_validator(api_version: str, kind: str) -> jsonschema.protocols.Validator:
    schema = strict(crd_schemas()[(api_version, kind)]["openAPIV3Schema"])
    return jsonschema.Draft202012Validator(schema)


# ObjectMeta fields a manifest may set (the rest are the API server's).
METADATA = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def validate(doc: Doc, version: str) -> str:
    """Raise if ``doc`` is not valid for Kubernetes ``version``; what validated it."""
    key = (doc.get("apiVersion", ""), doc.get("kind", ""))
    if key in crd_schemas():
        jsonschema.validate(doc["metadata"], METADATA)
        errors = sorted(_crd_validator(*key).iter_errors(doc), key=lambda e: list(e.path))
        if errors:
            where = "/".join(str(part) for part in errors[0].absolute_path)
            raise jsonschema.ValidationError(f"{key[1]} at {where}: {errors[0].message}")
        return "crd:" + crd_schemas()[key]["source"]["tag"]
    return "k8s:" + kubernetes_validate.validate(doc, version, strict=True)


def pod_spec(doc: Doc) -> Doc:
    """A copy of the pod spec of a Deployment or an InferenceService's predictor (the
    rendered objects are shared by the tests)."""
    if doc["kind"] == "InferenceService":
        spec = {k: v for k, v in doc["spec"]["predictor"].items() if k not in ISVC_ONLY}
    else:
        spec = doc["spec"]["template"]["spec"]
    return copy.deepcopy(spec)


def containers(doc: Doc) -> list[Doc]:
    return list(pod_spec(doc)["containers"])


# InferenceService predictor fields that are KServe's, not a pod's.
ISVC_ONLY = {"minReplicas", "maxReplicas", "labels", "annotations", "autoScaling"}


def queries(doc: Doc) -> list[tuple[str, str, float]]:
    """(name, PromQL, threshold) of each Prometheus trigger of a ScaledObject or an
    InferenceService's External metrics."""
    found = []
    if doc["kind"] == "ScaledObject":
        for trigger in doc["spec"]["triggers"]:
            if trigger["type"] == "prometheus":
                meta = trigger["metadata"]
                found.append((trigger["name"], meta["query"], float(meta["threshold"])))
    elif doc["kind"] == "InferenceService":
        for metric in doc["spec"]["predictor"]["autoScaling"]["metrics"]:
            if metric["type"] == "External":
                # KServe names no trigger; the ScaledObject's name stands for it.
                external = metric["external"]
                query, threshold = external["metric"]["query"], external["target"]["value"]
                found.append(("queue-waiting", query, float(threshold)))
    return found
