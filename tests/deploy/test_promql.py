"""`promtool test rules` on every PromQL expression used for scaling (the ScaledObject's and
the InferenceService's query, read from the rendered manifests) and alerting (the
PrometheusRule), on synthetic series: no series at all, idle pods, steady traffic, overload,
and a pod restart (counter reset). Broken variants of the query (the raw counter, as
TorchServe's chart scales on; no `or vector(0)`) are shown to fail the same tests."""

from __future__ import annotations

import copy
import math
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.manifests import Doc, find, queries

STEP_S = 15  # the PodMonitor's scrape interval
NS = 'namespace="torchserve-kit"'
EVAL = "10m"


def counter(labels: str, per_second: float, start: float = 5e6, steps: int = 40) -> dict[str, str]:
    """A counter series rising ``per_second`` from ``start``, ``steps`` scrapes long."""
    return {"series": labels, "values": f"{start:g}+{per_second * STEP_S:g}x{steps}"}


def waiting(model: str, pod: str, requests_waiting: float) -> dict[str, str]:
    """ts_queue_latency_microseconds of one model on one pod with ``requests_waiting`` on
    average (Little's law: microseconds of waiting per second = waiting x 1e6)."""
    labels = f'ts_queue_latency_microseconds{{{NS},model_name="{model}",pod="{pod}"}}'
    return counter(labels, requests_waiting * 1e6)


# Series from another namespace, present in every scenario: they must never count.
ELSEWHERE = [
    counter('ts_queue_latency_microseconds{namespace="other",model_name="digits",pod="x"}', 9e7)
]
PODS = ("torchserve-kit-a", "torchserve-kit-b")
MODELS = ("digits", "cancer", "minilm")
# scenario -> (input series, requests waiting in all, summed over pods and models)
SCENARIOS: dict[str, tuple[list[dict[str, str]], float]] = {
    "no series (nothing scraped yet)": ([], 0.0),
    "idle pods (counters flat)": ([waiting(m, p, 0) for m in MODELS for p in PODS], 0.0),
    "steady": (
        [waiting("digits", p, 1.0) for p in PODS] + [waiting("cancer", p, 0.5) for p in PODS],
        3.0,
    ),
    "overload": (
        [waiting("digits", p, 10.0) for p in PODS] + [waiting("minilm", p, 5.0) for p in PODS],
        30.0,
    ),
    "pod restarted (counter reset)": (
        [
            {
                "series": f'ts_queue_latency_microseconds{{{NS},model_name="digits",pod="a"}}',
                "values": "0+15000000x20 15000000+15000000x20",
            }
        ],
        1.0,
    ),
}


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "no promtool: run `make deploy-tools` (Debian's prometheus package)"
    return path


def run_promtool(folder: Path, tests: list[dict[str, Any]], groups: list[Any]) -> str:
    """Write the rules and the tests into ``folder``, run them; promtool's output, and
    raise AssertionError naming it when promtool fails."""
    (folder / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    spec = {"rule_files": ["rules.yaml"], "evaluation_interval": f"{STEP_S}s", "tests": tests}
    (folder / "tests.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    result = subprocess.run(
        [promtool(), "test", "rules", "tests.yaml"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise AssertionError(f"promtool test rules failed:\n{output[-3000:]}")
    return output


def scaling_tests(query: str) -> list[dict[str, Any]]:
    return [
        {
            "name": scenario,
            "interval": f"{STEP_S}s",
            "input_series": series + ELSEWHERE,
            "promql_expr_test": [
                {
                    "expr": query,
                    "eval_time": EVAL,
                    "exp_samples": [{"labels": "{}", "value": total}],
                }
            ],
        }
        for scenario, (series, total) in SCENARIOS.items()
    ]


def scaled_object(rendered: dict[str, list[Doc]]) -> tuple[str, float, dict[str, Any]]:
    spec = find(rendered["overlays/keda"], "ScaledObject")
    ((_, query, threshold),) = queries(spec)
    return query, threshold, spec["spec"]


@pytest.mark.parametrize("overlay", ["overlays/keda", "overlays/kserve"])
def test_scaling_query(rendered: dict[str, list[Doc]], overlay: str, tmp_path: Path) -> None:
    kind = "ScaledObject" if overlay.endswith("keda") else "InferenceService"
    ((_, query, _),) = queries(find(rendered[overlay], kind))
    output = run_promtool(tmp_path, scaling_tests(query), [])
    assert "SUCCESS" in output, output


def test_replicas_follow_demand(rendered: dict[str, list[Doc]]) -> None:
    """What the HPA makes of the query's values (AverageValue: ceil(value / threshold),
    within min and max): the minimum when idle or steady, more under overload."""
    _, threshold, spec = scaled_object(rendered)
    low, high = spec["minReplicaCount"], spec["maxReplicaCount"]

    def replicas(total: float) -> int:
        return min(high, max(low, math.ceil(total / threshold)))

    wanted = {scenario: replicas(total) for scenario, (_, total) in SCENARIOS.items()}
    assert wanted["idle pods (counters flat)"] == low
    assert wanted["no series (nothing scraped yet)"] == low
    assert wanted["steady"] == low, wanted
    per_pod = SCENARIOS["overload"][1] / len(PODS)
    assert per_pod > threshold and wanted["overload"] > low, wanted


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        # TorchServe's chart: the cumulative counter itself, never back down when idle.
        (f"sum(ts_queue_latency_microseconds{{{NS}}}) / 1e6 or vector(0)", "got:"),
        # No traffic -> no series -> KEDA gets no value.
        (f"sum(rate(ts_queue_latency_microseconds{{{NS}}}[1m])) / 1e6", "got:"),
        # Every namespace counted.
        ("sum(rate(ts_queue_latency_microseconds[1m])) / 1e6 or vector(0)", "got:"),
    ],
)
def test_broken_scaling_queries_fail(broken: str, reason: str, tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match=reason):
        run_promtool(tmp_path, scaling_tests(broken), [])


def alert_tests() -> list[dict[str, Any]]:
    up = 'up{job="torchserve-kit/torchserve-kit",pod="torchserve-kit-a"}'
    queue = f'ts_queue_latency_microseconds{{{NS},model_name="minilm",pod="torchserve-kit-a"}}'
    served = f'ts_inference_requests_total{{{NS},model_name="minilm",pod="torchserve-kit-a"}}'
    missing = {"alertname": "TorchServeKitMetricsMissing", "exp_alerts": []}
    wait_high = {"alertname": "TorchServeKitQueueWaitHigh", "exp_alerts": []}

    def case(name: str, series: list[dict[str, str]], alerts: list[dict[str, Any]]) -> Any:
        return {
            "name": name,
            "interval": f"{STEP_S}s",
            "input_series": series,
            "alert_rule_test": [a | {"eval_time": "15m"} for a in alerts],
        }

    scraped = [{"series": up, "values": "1x80"}]

    def rising(labels: str, per_second: float, start: float = 5e6) -> dict[str, str]:
        return counter(labels, per_second, start, steps=80)  # 20 minutes

    return [
        # Idle: scraped, nothing served: the wait ratio is NaN, and no alert.
        case(
            "idle",
            [*scraped, rising(queue, 0), rising(served, 0, start=100)],
            [missing, wait_high],
        ),
        # Steady: 1 req/s waiting 50 ms each.
        case("steady", [*scraped, rising(queue, 5e4), rising(served, 1)], [missing, wait_high]),
        # Overload: 1 req/s waiting 500 ms each, for 15 minutes.
        case(
            "overload",
            [*scraped, rising(queue, 5e5), rising(served, 1)],
            [
                missing,
                wait_high
                | {
                    "exp_alerts": [
                        {
                            "exp_labels": {"severity": "warning", "model_name": "minilm"},
                            "exp_annotations": {
                                "summary": "Requests for minilm wait 500 ms on "
                                "average in the queue."
                            },
                        }
                    ]
                },
            ],
        ),
        # The scrape broke 10 minutes ago.
        case(
            "nothing scraped",
            [{"series": up, "values": "1x20 0x60"}],
            [
                missing
                | {
                    "exp_alerts": [
                        {
                            "exp_labels": {"severity": "critical"},
                            "exp_annotations": {
                                "summary": "No torchserve-kit pod has been "
                                "scraped for 5 minutes; autoscaling sees no demand."
                            },
                        }
                    ]
                }
            ],
        ),
    ]


def test_alerts(rendered: dict[str, list[Doc]], tmp_path: Path) -> None:
    groups = find(rendered["base"], "PrometheusRule")["spec"]["groups"]
    output = run_promtool(tmp_path, alert_tests(), groups)
    assert "SUCCESS" in output, output


def test_broken_alert_fails(rendered: dict[str, list[Doc]], tmp_path: Path) -> None:
    groups = copy.deepcopy(find(rendered["base"], "PrometheusRule")["spec"]["groups"])
    rule = groups[0]["rules"][1]
    assert rule["alert"] == "TorchServeKitQueueWaitHigh"
    rule["expr"] = rule["expr"].replace("> 250", "> 1000")  # would never fire at 500 ms
    with pytest.raises(AssertionError, match="TorchServeKitQueueWaitHigh"):
        run_promtool(tmp_path, alert_tests(), groups)
