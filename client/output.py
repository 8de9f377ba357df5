"""Human-readable text for the CLI: predictions, model lists, descriptions, metrics.

Each function turns one API answer into lines for a terminal; ``--json`` bypasses them.
Predictions are rendered by their contract's answer shape (``contracts/``), so a new model
of a known kind needs nothing here; an unknown shape is printed as indented JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from contracts import image, text, vector
from contracts.ranking import PRECISION

EMBEDDING_PREVIEW = 4  # numbers of an embedding shown before "..."


def prediction(answer: Any) -> str:
    """One prediction answer as a few aligned lines."""
    if image.is_answer(answer):
        return _table((entry["label"], _p(entry["probability"])) for entry in answer["top_k"])
    if vector.is_answer(answer):
        return _table(
            (f"row {index}", row["label"], _p(row["probability"]))
            for index, row in enumerate(answer["predictions"])
        )
    if text.is_ranking(answer):
        return _table((entry["label"], _p(entry["score"])) for entry in answer["labels"])
    if text.is_embeddings(answer):
        truncated = answer.get("truncated") or [False] * len(answer["embeddings"])
        return _table(
            (f"text {index}", f"{len(vector)} dims", _preview(vector), "truncated" if cut else "")
            for index, (vector, cut) in enumerate(zip(answer["embeddings"], truncated, strict=True))
        )
    return json.dumps(answer, indent=2)


def models(entries: list[dict[str, Any]]) -> str:
    """``GET /models``: one model per line with its archive."""
    if not entries:
        return "no models registered"
    return _table((entry["modelName"], entry["modelUrl"]) for entry in entries)


def description(versions: list[dict[str, Any]]) -> str:
    """``GET /models/<m>``: a block per version with workers, batching and build metadata."""
    return "\n\n".join(_version_block(version) for version in versions)


def status(answer: dict[str, Any]) -> str:
    """A management write's ``{"status": "..."}``."""
    return str(answer.get("status", json.dumps(answer)))


def metric_samples(text: str) -> list[dict[str, Any]]:
    """Prometheus text as ``[{"name", "labels", "value"}]`` (for ``--json``)."""
    return [
        {"name": sample.name, "labels": sample.labels, "value": sample.value}
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def _version_block(version: dict[str, Any]) -> str:
    workers = version.get("workers", [])
    states = ", ".join(sorted({worker["status"] for worker in workers})) or "none"
    rows: list[tuple[str, Any]] = [
        ("archive", version.get("modelUrl", "")),
        (
            "workers",
            f"{len(workers)} ({states}); min {version.get('minWorkers')}, "
            f"max {version.get('maxWorkers')}",
        ),
        (
            "batching",
            f"up to {version.get('batchSize')} per batch, {version.get('maxBatchDelay')} ms delay",
        ),
    ]
    metadata = version.get("customizedMetadata")
    if isinstance(metadata, str):  # TorchServe sends it as a JSON string from some handlers
        metadata = json.loads(metadata)
    if isinstance(metadata, dict):
        rows += [(key, value) for key, value in metadata.items() if _is_scalar(value)]
        if isinstance(metadata.get("accuracy"), dict):
            rows.append(("held-out accuracy", metadata["accuracy"].get("held_out")))
        if isinstance(metadata.get("labels"), list):
            rows.append(("labels", ", ".join(map(str, metadata["labels"]))))
    header = f"{version.get('modelName')} {version.get('modelVersion')}"
    return header + "\n" + _table(rows, indent="  ")


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def _p(value: float) -> str:
    return f"{value:.{PRECISION}f}"  # the precision the handlers round to


def _preview(vector: list[float]) -> str:
    shown = ", ".join(f"{x:.4f}" for x in vector[:EMBEDDING_PREVIEW])
    return f"[{shown}, ...]" if len(vector) > EMBEDDING_PREVIEW else f"[{shown}]"


def _table(rows: Iterable[tuple[Any, ...]], indent: str = "") -> str:
    """Rows as left-aligned columns separated by two spaces."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells if i < len(row)) for i in range(_width(cells))]
    return "\n".join(
        indent + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
        for row in cells
    )


def _width(cells: list[list[str]]) -> int:
    return max((len(row) for row in cells), default=0)
