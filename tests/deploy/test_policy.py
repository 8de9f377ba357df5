"""What issue 15 asks of the manifests, checked on the rendered objects: the pod's security
context, probes on the front door's health, a drain that fits the grace period, resources,
the API keys from a Secret that is never in the repo, policies that select the pods,
autoscalers that KEDA and the HPA would accept, and the KServe predictor's pod equal to the
base Deployment's."""

from __future__ import annotations

import math
import re

import pytest

from tests.deploy.manifests import DEPLOY, Doc, containers, find, pod_spec, queries

DOOR_DRAIN_S = 35  # server/door.py: HAProxy drains up to 30 s, killed at 35 s
TORCHSERVE_STOP_S = 10  # the frontend's stop, then leftovers within 5 s (container/entrypoint)
WORKLOADS = ("base", "overlays/keda", "overlays/hpa", "overlays/kserve")
SECRET = "torchserve-kit-api-keys"
KEYS_FILE = "/var/run/secrets/torchserve-kit/api-keys"


def workload(docs: list[Doc]) -> Doc:
    kinds = {"Deployment", "InferenceService"}
    (found,) = [doc for doc in docs if doc["kind"] in kinds]
    return found


@pytest.mark.parametrize("overlay", WORKLOADS)
def test_pod_runs_locked_down(rendered: dict[str, list[Doc]], overlay: str) -> None:
    pod = pod_spec(workload(rendered[overlay]))
    security = pod["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] == 10001, security
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}, security
    assert pod["automountServiceAccountToken"] is False
    for container in containers(workload(rendered[overlay])):
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True, container["name"]
        assert context["allowPrivilegeEscalation"] is False, container["name"]
        assert context["capabilities"] == {"drop": ["ALL"]}, container["name"]
        mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
        assert {"/app/run", "/tmp"} <= mounts, f"writable paths not mounted: {mounts}"
    empty = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    assert empty == {"run", "tmp"}, empty


@pytest.mark.parametrize("overlay", WORKLOADS)
def test_probes_use_the_front_doors_health(rendered: dict[str, list[Doc]], overlay: str) -> None:
    (container,) = containers(workload(rendered[overlay]))
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"http": 8080, "metrics": 8082}, ports
    paths = {
        probe: (container[probe]["httpGet"]["path"], container[probe]["httpGet"]["port"])
        for probe in ("startupProbe", "readinessProbe", "livenessProbe")
    }
    assert paths == {
        "startupProbe": ("/health/ready", "http"),
        "readinessProbe": ("/health/ready", "http"),
        "livenessProbe": ("/health/live", "http"),
    }, paths
    startup = container["startupProbe"]
    budget = startup["periodSeconds"] * startup["failureThreshold"]
    # The measured time to READY was 24-28 s on 2 cores (docs/scaling.md): a budget of at
    # least 4x it for slower nodes, at most the image HEALTHCHECK's start period.
    assert 120 <= budget <= 180, f"startup budget {budget} s"


@pytest.mark.parametrize("overlay", WORKLOADS)
def test_termination_drains_in_flight_requests(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    pod = pod_spec(workload(rendered[overlay]))
    (container,) = containers(workload(rendered[overlay]))
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep" and int(command[1]) >= 5, command
    needed = int(command[1]) + DOOR_DRAIN_S + TORCHSERVE_STOP_S
    grace = pod["terminationGracePeriodSeconds"]
    assert grace >= needed, f"grace {grace} s < preStop + drain + stop = {needed} s"


@pytest.mark.parametrize("overlay", WORKLOADS)
def test_environment_and_resources(rendered: dict[str, list[Doc]], overlay: str) -> None:
    (container,) = containers(workload(rendered[overlay]))
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["PORT"] == "8080" and env["METRICS_PORT"] == "8082", env
    assert env["METRICS_HOST"] == "0.0.0.0", "the PodMonitor cannot scrape loopback"
    assert env["TSERVE_API_KEYS_FILE"] == KEYS_FILE, env
    assert "TSERVE_API_KEYS" not in env, "keys belong in the Secret, not the manifest"
    resources = container["resources"]
    for resource in ("cpu", "memory"):
        # Guaranteed QoS: the capacity plan counts on these.
        assert resources["requests"][resource] == resources["limits"][resource], resource
    assert container["image"] == "torchserve-kit:0.1.0", container["image"]


@pytest.mark.parametrize("overlay", WORKLOADS)
def test_api_keys_come_from_the_secret(rendered: dict[str, list[Doc]], overlay: str) -> None:
    assert not [d for d in rendered[overlay] if d["kind"] == "Secret"], "a Secret is rendered"
    pod = pod_spec(workload(rendered[overlay]))
    (volume,) = [v for v in pod["volumes"] if "secret" in v]
    assert volume["secret"]["secretName"] == SECRET
    assert volume["secret"]["items"] == [{"key": "api-keys", "path": "api-keys"}]
    (container,) = containers(workload(rendered[overlay]))
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
    assert f"{mount['mountPath']}/api-keys" == KEYS_FILE and mount["readOnly"] is True


def test_no_secret_data_anywhere_in_deploy() -> None:
    for path in DEPLOY.rglob("*.yaml"):
        text = path.read_text()
        assert not re.search(r"^kind:\s*Secret\b", text, re.M), f"{path} holds a Secret"
        assert "secretGenerator" not in text, f"{path} generates a Secret"


@pytest.mark.parametrize("overlay", WORKLOADS)
def test_policies_select_the_pods(rendered: dict[str, list[Doc]], overlay: str) -> None:
    docs = rendered[overlay]
    labels = (
        workload(docs)["spec"]["predictor"]["labels"]
        if overlay.endswith("kserve")
        else (find(docs, "Deployment")["spec"]["template"]["metadata"]["labels"])
    )
    policy = find(docs, "NetworkPolicy")["spec"]
    pdb = find(docs, "PodDisruptionBudget")["spec"]
    monitor = find(docs, "PodMonitor")["spec"]
    for name, selector in [
        ("NetworkPolicy", policy["podSelector"]),
        ("PodDisruptionBudget", pdb["selector"]),
        ("PodMonitor", monitor["selector"]),
    ]:
        assert selector["matchLabels"].items() <= labels.items(), f"{name} selects no pod"
    assert policy["policyTypes"] == ["Ingress", "Egress"] and policy["egress"] == []
    door, metrics = policy["ingress"]
    assert door == {"ports": [{"protocol": "TCP", "port": 8080}]}, door
    assert metrics["ports"] == [{"protocol": "TCP", "port": 8082}], metrics
    assert metrics["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
    assert monitor["podMetricsEndpoints"][0]["port"] == "metrics"
    spread = pod_spec(workload(docs))["topologySpreadConstraints"]
    keys = {c["topologyKey"]: c["whenUnsatisfiable"] for c in spread}
    assert keys["kubernetes.io/hostname"] == "DoNotSchedule", keys


def test_kserve_pod_is_the_base_pod(rendered: dict[str, list[Doc]]) -> None:
    base = find(rendered["base"], "Deployment")
    isvc = find(rendered["overlays/kserve"], "InferenceService")
    base_pod, isvc_pod = pod_spec(base), pod_spec(isvc)
    (base_container,) = base_pod.pop("containers")
    (isvc_container,) = isvc_pod.pop("containers")
    assert isvc_pod == base_pod
    assert isvc_container.pop("name") == "kserve-container"
    base_container.pop("name")
    assert isvc_container == base_container
    assert isvc["metadata"]["annotations"] == {
        "serving.kserve.io/deploymentMode": "Standard",
        "serving.kserve.io/autoscalerClass": "keda",
    }


@pytest.mark.parametrize("overlay", ["overlays/keda", "overlays/hpa"])
def test_autoscaler_owns_the_replica_count(rendered: dict[str, list[Doc]], overlay: str) -> None:
    assert "replicas" not in find(rendered[overlay], "Deployment")["spec"]
    assert find(rendered["base"], "Deployment")["spec"]["replicas"] == 2


def test_hpa_scales_on_cpu_with_slow_scale_down(rendered: dict[str, list[Doc]]) -> None:
    hpa = find(rendered["overlays/hpa"], "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu", metric
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 300


def test_scaledobject_is_one_keda_accepts(rendered: dict[str, list[Doc]]) -> None:
    scaled = find(rendered["overlays/keda"], "ScaledObject")["spec"]
    deployment = find(rendered["overlays/keda"], "Deployment")
    assert scaled["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    triggers = scaled["triggers"]
    # KEDA's webhook: a fallback needs a trigger that is not cpu/memory, with AverageValue.
    assert any(
        t["type"] not in {"cpu", "memory"} and t.get("metricType", "AverageValue") == "AverageValue"
        for t in triggers
    ), triggers
    # ... and a cpu trigger needs cpu requests on every container of the target.
    assert [t for t in triggers if t["type"] == "cpu"], "no CPU guard"
    for container in containers(deployment):
        assert "cpu" in container["resources"]["requests"], container["name"]
    assert 0 < scaled["minReplicaCount"] < scaled["maxReplicaCount"]
    behavior = scaled["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] >= 300, behavior
    assert behavior["scaleUp"]["stabilizationWindowSeconds"] == 0, behavior
    assert scaled["fallback"]["replicas"] >= scaled["minReplicaCount"]


@pytest.mark.parametrize("overlay", ["overlays/keda", "overlays/kserve"])
def test_scaling_queries_are_rates_of_queue_counters(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    docs = rendered[overlay]
    doc = find(docs, "ScaledObject" if overlay.endswith("keda") else "InferenceService")
    found = queries(doc)
    ((name, query, threshold),) = found
    assert name == "queue-waiting"
    assert re.search(r"rate\(ts_queue_latency_microseconds\{[^}]*\}\[1m\]\)", query), query
    assert 'namespace="torchserve-kit"' in query, query
    assert query.rstrip().endswith("or vector(0)"), f"no traffic would be no data: {query}"
    assert threshold > 0 and math.isfinite(threshold), threshold


def test_kserve_and_keda_overlays_scale_alike(rendered: dict[str, list[Doc]]) -> None:
    keda = queries(find(rendered["overlays/keda"], "ScaledObject"))
    kserve = queries(find(rendered["overlays/kserve"], "InferenceService"))
    assert sorted(keda) == sorted(kserve)
