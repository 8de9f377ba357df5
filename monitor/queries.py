"""What the dashboard and the alert rules query, and the table of every metric.

``expressions()`` gathers each PromQL expression of monitor/rules.yml and
monitor/dashboard.json; ``metric_names`` reads the metric names out of one, so tests can
check them against a real server's /metrics. ``CATALOG`` is every metric the project
documents, with who emits it; ``table()`` renders it for docs/metrics.md, which a test
keeps equal to it (regenerate: ``python -m monitor.queries``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from handlers import metrics as handler_metrics
from handlers.metrics import Spec
from monitor import exporter

FOLDER = Path(__file__).resolve().parent
RULES = FOLDER / "rules.yml"
DASHBOARD = FOLDER / "dashboard.json"
DOC = FOLDER.parent / "docs" / "metrics.md"
TABLE_START = "<!-- metrics table: python -m monitor.queries -->"
TABLE_END = "<!-- end of metrics table -->"
# Grafana's variables, as a test evaluates the dashboard's queries.
VARIABLES = {"$__rate_interval": "1m", "$model": "digits"}

# TorchServe 0.12's frontend (ts/configs/metrics.yaml), as the dashboard and rules use them.
MODEL_VERSION = ("model_name", "model_version", "hostname")
HOST = ("Level", "Hostname")
FRONTEND: tuple[Spec, ...] = (
    Spec(
        "ts_inference_requests_total",
        "counter",
        MODEL_VERSION,
        "requests accepted for the model, counted on arrival",
    ),
    Spec(
        "ts_inference_latency_microseconds",
        "counter",
        MODEL_VERSION,
        "running total of arrival-to-answer time (mean: its rate over the requests' rate)",
        "us",
    ),
    Spec(
        "ts_queue_latency_microseconds",
        "counter",
        MODEL_VERSION,
        "running total of time in the job queue (rate / 1e6: mean requests waiting)",
        "us",
    ),
    Spec("Requests2XX", "counter", HOST, "2xx answers of every API, all models"),
    Spec("Requests4XX", "counter", HOST, "4xx answers of every API, all models"),
    Spec("Requests5XX", "counter", HOST, "5xx answers of every API, all models"),
)
CATALOG: tuple[tuple[str, Spec], ...] = (
    *(("handler", spec) for spec in handler_metrics.CATALOG),
    *(("exporter", spec) for spec in exporter.CATALOG),
    *(("TorchServe", spec) for spec in FRONTEND),
)

# PromQL's own words: functions, aggregations, modifiers, keywords.
WORDS = (
    "sum min max avg count rate irate increase changes delta histogram_quantile vector time "
    "abs clamp_min clamp_max absent by without on ignoring group_left group_right and or "
    "unless bool offset e inf nan"
)
FUNCTIONS = set(WORDS.split())


def rule_expressions() -> list[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


def expressions() -> list[str]:
    return rule_expressions() + dashboard_expressions()


def substituted(expr: str) -> str:
    """``expr`` with Grafana's variables replaced, so Prometheus tools can read it."""
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    return expr


def metric_names(expr: str) -> set[str]:
    """The metric names in a PromQL expression (histograms as their ``_bucket`` series)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', substituted(expr))  # strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    words = re.findall(r"(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*", text)
    return {word for word in words if word not in FUNCTIONS}


def table() -> str:
    """docs/metrics.md's table of every metric, from ``CATALOG``."""
    lines = [
        "| Metric | Type | Labels | Emitted by | Meaning |",
        "|---|---|---|---|---|",
    ]
    for source, spec in CATALOG:
        labels = ", ".join(f"`{label}`" for label in spec.labels) or "-"
        name = f"`{spec.name}`" + (f" ({spec.unit})" if spec.unit else "")
        lines.append(f"| {name} | {spec.kind} | {labels} | {source} | {spec.help} |")
    return "\n".join([TABLE_START, *lines, TABLE_END])


def documented_table(text: str) -> str:
    start, end = text.index(TABLE_START), text.index(TABLE_END) + len(TABLE_END)
    return text[start:end]


def main() -> None:
    text = DOC.read_text()
    DOC.write_text(text.replace(documented_table(text), table()))
    print(f"wrote the metrics table of {DOC}")


if __name__ == "__main__":
    main()
