"""deploy/batch, the KubeRay RayJob of a batch run: it renders, validates strictly (the
RayJob against KubeRay's CRD schema, each pod template against Kubernetes' own), meets the
namespace's "restricted" Pod Security, and runs the command the docs describe with the
Ray version the project pins. Broken copies show the checks can fail."""

from __future__ import annotations

import re
import shlex
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from server.settings import ROOT
from tests.deploy.manifests import DEPLOY, KUBERNETES_VERSIONS, Doc, find, render, validate
from tests.deploy.test_lint import checkov, write
from tests.deploy.test_schemas import broken

NAME = "torchserve-kit-batch"


@pytest.fixture(scope="module")
def docs() -> list[Doc]:
    return render(DEPLOY / "batch")


@pytest.fixture(scope="module")
def job(docs: list[Doc]) -> Doc:
    return find(docs, "RayJob", NAME)


def pod_templates(job: Doc) -> dict[str, Doc]:
    cluster = job["spec"]["rayClusterSpec"]
    found = {"head": cluster["headGroupSpec"]["template"]}
    for group in cluster["workerGroupSpecs"]:
        found[group["groupName"]] = group["template"]
    return found


def test_renders_a_rayjob_and_its_service_account(docs: list[Doc]) -> None:
    assert sorted(doc["kind"] for doc in docs) == ["RayJob", "ServiceAccount"]
    assert {doc["metadata"]["namespace"] for doc in docs} == {"torchserve-kit"}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_validates_strictly(docs: list[Doc], version: str) -> None:
    by = {doc["kind"]: validate(doc, version) for doc in docs}
    assert by == {"RayJob": "crd:v1.7.0", "ServiceAccount": f"k8s:{version}"}, by


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_pod_templates_are_valid_kubernetes_pods(job: Doc, version: str) -> None:
    for group, template in pod_templates(job).items():
        doc = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": group}}
        kubernetes_validate.validate(doc | {"template": template}, version, strict=True)


def test_pods_meet_restricted_pod_security_with_fixed_resources(job: Doc) -> None:
    for group, template in pod_templates(job).items():
        spec = template["spec"]
        assert spec["automountServiceAccountToken"] is False, group
        assert spec["securityContext"]["runAsNonRoot"] is True, group
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, group
        (container,) = spec["containers"]
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False, group
        assert context["readOnlyRootFilesystem"] is True, group
        assert context["capabilities"] == {"drop": ["ALL"]}, group
        resources = container["resources"]
        assert resources["requests"]["cpu"] == resources["limits"]["cpu"], group
        assert resources["requests"]["memory"] == resources["limits"]["memory"], group
        # The object store lives in /dev/shm: a pod's default is 64 MiB.
        mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        assert volumes[mounts["/dev/shm"]]["emptyDir"]["medium"] == "Memory", group
        assert "/tmp" in mounts, f"{group}: Ray's session folder needs a writable /tmp"


def test_ray_offers_the_cpus_the_pods_get(job: Doc) -> None:
    cluster = job["spec"]["rayClusterSpec"]
    groups = [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]
    for group in groups:
        (container,) = group["template"]["spec"]["containers"]
        limit = container["resources"]["limits"]["cpu"]
        assert group["rayStartParams"]["num-cpus"] == limit, group.get("groupName", "head")


def test_ray_version_is_the_pinned_one(job: Doc) -> None:
    requirements = (ROOT / "requirements/ray.txt").read_text()
    pinned = re.search(r"^ray\[[a-z,]+\]==(\S+)$", requirements, re.M)
    assert pinned is not None
    assert job["spec"]["rayClusterSpec"]["rayVersion"] == pinned[1]


def test_entrypoint_is_the_batch_command_on_the_jobs_cluster(job: Doc) -> None:
    command = shlex.split(job["spec"]["entrypoint"])
    assert command[:3] == ["python", "-m", "batch"], command
    engine = command.index("--engine")
    assert command[engine + 1] == "ray", command
    # The job submission sets RAY_ADDRESS; an --address would point elsewhere.
    assert "--address" not in command, command
    assert job["spec"]["submissionMode"] == "HTTPMode"  # no submitter pod to lock down
    assert job["spec"]["rayClusterSpec"]["authOptions"] == {"mode": "token"}
    (head,) = job["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"]
    database = {env["name"]: env for env in head["env"]}["BATCH_DATABASE_URL"]
    assert database["valueFrom"]["secretKeyRef"]["name"] == f"{NAME}-db"


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("spec", "entrypointt"), "python -m batch", "entrypointt"),
        (("spec", "rayClusterSpec", "headGroupSpec", "rayStartParams", "num-cpus"), 2, "type"),
        (("spec", "rayClusterSpec", "authOptions", "mode"), "tokens", "is not one of"),
        (("spec", "rayClusterSpec", "workerGroupSpecs", 0, "replica"), 4, "replica"),
    ],
)
def test_a_broken_rayjob_is_rejected(
    job: Doc, path: tuple[str | int, ...], value: Any, message: str
) -> None:
    with pytest.raises(jsonschema.ValidationError, match=message):
        validate(broken(job, *path, value=value), "1.34")


def test_a_broken_pod_template_is_rejected(job: Doc) -> None:
    template = pod_templates(job)["head"]
    bad = broken(template, "spec", "containers", 0, "securityContext", "runAsUsr", value=1)
    doc = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "head"}}
    with pytest.raises(kubernetes_validate.ValidationError, match="runAsUsr"):
        kubernetes_validate.validate(doc | {"template": bad}, "1.34", strict=True)


def test_checkov_passes(docs: list[Doc], tmp_path: Any) -> None:
    report = checkov(write(tmp_path / "rendered", {"batch": docs}))
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert report["summary"]["failed"] == 0, failed
    assert report["summary"]["parsing_errors"] == 0, report["summary"]
