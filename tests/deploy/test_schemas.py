"""Every rendered object validates strictly: Kubernetes kinds against two current minor
versions' schemas (and the newest bundled), CRD kinds against their published schemas
(deploy/schemas); anything else fails. Broken copies show the checks can fail."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from tests.deploy.manifests import (
    KUBERNETES_VERSIONS,
    OVERLAYS,
    SCHEMAS,
    Doc,
    crd_schemas,
    find,
    validate,
)

EXPECTED_KINDS = {
    "base": {
        "Namespace",
        "ServiceAccount",
        "Service",
        "Deployment",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "PodMonitor",
        "PrometheusRule",
    },
}
EXPECTED_KINDS["overlays/keda"] = EXPECTED_KINDS["base"] | {"ScaledObject"}
EXPECTED_KINDS["overlays/hpa"] = EXPECTED_KINDS["base"] | {"HorizontalPodAutoscaler"}
EXPECTED_KINDS["overlays/kserve"] = EXPECTED_KINDS["base"] - {"Service", "Deployment"} | {
    "InferenceService"
}
CRDS = {
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("serving.kserve.io/v1beta1", "InferenceService"),
    ("monitoring.coreos.com/v1", "PodMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("ray.io/v1", "RayJob"),  # deploy/batch: tests/deploy/test_batch_rayjob.py
}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_the_expected_kinds(rendered: dict[str, list[Doc]], overlay: str) -> None:
    kinds = [doc["kind"] for doc in rendered[overlay]]
    assert set(kinds) == EXPECTED_KINDS[overlay], f"{overlay}: {sorted(kinds)}"
    assert len(kinds) == len(set(kinds)), f"{overlay}: a kind twice: {sorted(kinds)}"
    namespaces = {doc["metadata"].get("namespace") for doc in rendered[overlay]}
    assert namespaces == {None, "torchserve-kit"}, f"{overlay}: namespaces {namespaces}"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates_strictly(
    rendered: dict[str, list[Doc]], overlay: str, version: str
) -> None:
    for doc in rendered[overlay]:
        by = validate(doc, version)
        kind = (doc["apiVersion"], doc["kind"])
        assert by.startswith("crd:") == (kind in CRDS), f"{kind} validated by {by}"


def test_the_crd_list_is_what_is_carried() -> None:
    assert set(crd_schemas()) == CRDS
    for carried in crd_schemas().values():
        source = carried["source"]
        assert source["repository"].startswith("github.com/"), source
        assert len(source["commit"]) == 40 and len(source["sha256"]) == 64, source
        assert carried["openAPIV3Schema"]["type"] == "object", source


def test_schemas_folder_documents_every_file() -> None:
    readme = (SCHEMAS / "README.md").read_text()
    for path in SCHEMAS.glob("*.json"):
        source = json.loads(path.read_text())["source"]
        assert path.name in readme, f"{path.name} is not in deploy/schemas/README.md"
        assert source["tag"] in readme and source["commit"] in readme, f"{path.name}'s source"


def broken(doc: Doc, *path: str | int, value: object) -> Doc:
    """A copy of ``doc`` with ``value`` set at ``path``."""
    copied = copy.deepcopy(doc)
    target: Any = copied  # dicts and lists along the path
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copied


def test_an_unknown_field_in_a_deployment_is_rejected(rendered: dict[str, list[Doc]]) -> None:
    deployment = find(rendered["base"], "Deployment")
    bad = broken(deployment, "spec", "template", "spec", "securityContext", "runAsUsr", value=1)
    with pytest.raises(kubernetes_validate.ValidationError, match="runAsUsr"):
        validate(bad, "1.32")


def test_a_removed_api_version_is_rejected(rendered: dict[str, list[Doc]]) -> None:
    # TorchServe's own chart ships autoscaling/v2beta2 (removed in 1.26).
    hpa = find(rendered["overlays/hpa"], "HorizontalPodAutoscaler")
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        validate(broken(hpa, "apiVersion", value="autoscaling/v2beta2"), "1.32")


def test_an_unknown_kind_is_rejected() -> None:
    doc = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        validate(doc, "1.34")


@pytest.mark.parametrize(
    ("overlay", "kind", "path", "value", "message"),
    [
        ("overlays/keda", "ScaledObject", ("spec", "fallback", "replica"), 3, "replica"),
        ("overlays/keda", "ScaledObject", ("spec", "minReplicaCount"), "2", "not of type"),
        (
            "overlays/keda",
            "ScaledObject",
            ("spec", "triggers", 0, "metadata", "threshold"),
            7,
            "not of type",
        ),
        (
            "overlays/kserve",
            "InferenceService",
            ("spec", "predictor", "autoScaling", "metrics", 0, "type"),
            "Prometheus",
            "is not one of",
        ),
        (
            "overlays/kserve",
            "InferenceService",
            ("spec", "predictor", "containers", 0, "readinessProbe", "httpGett"),
            {},
            "httpGett",
        ),
        ("base", "PodMonitor", ("spec", "podMetricsEndpoints", 0, "intervall"), "15s", "intervall"),
        (
            "base",
            "PrometheusRule",
            ("spec", "groups", 0, "rules", 0, "for"),
            "5 minutes",
            "does not match",
        ),
    ],
)
def test_a_broken_custom_resource_is_rejected(
    rendered: dict[str, list[Doc]],
    overlay: str,
    kind: str,
    path: tuple[str | int, ...],
    value: object,
    message: str,
) -> None:
    bad = broken(find(rendered[overlay], kind), *path, value=value)
    with pytest.raises(jsonschema.ValidationError, match=message):
        validate(bad, "1.34")
