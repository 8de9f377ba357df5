"""A handler served in this process as a TorchServe worker serves it: no archive, no server.

``model_folder`` lays out what an archive unpacks to (``MAR-INF/MANIFEST.json``, the model
file, a state_dict, ``metadata.json``, the model's YAML from config/models), with the
untrained weights of a fresh model. ``Worker`` loads it as ts/model_loader.py does:
TorchServe's ``Service`` builds the ``Context`` (manifest, YAML, the worker's metrics cache),
then ``initialize(context)``. It answers a batch as ``Service.predict`` does: the request
headers and ids come from ``Service.retrieve_data_for_inference``. What the handler set is
read back through TorchServe's ``Context``; the metrics it recorded are the ``[METRICS]`` log
lines the frontend parses from the worker's output.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import ts
from ts.context import Context
from ts.metrics import caching_metric
from ts.metrics.metric_cache_yaml_impl import MetricsCacheYamlImpl
from ts.service import Service
from ts.utils.util import get_yaml_config

from batch.local_engine import archive_imports
from handlers.batched_handler import METADATA_FILE, BatchedHandler
from models.build import SPECS
from server.settings import ROOT

JSON = "application/json"
# The frontend's default metrics config, which the worker's cache starts from.
METRICS_CONFIG = Path(ts.__file__).parent / "configs" / "metrics.yaml"
# CachingMetric.emit_metrics: [METRICS]name.unit:value|#dims|#type:TYPE|#hostname:...
METRIC_LINE = re.compile(
    r"\[METRICS\](?P<name>[^.]+)\.(?P<unit>[^:]+):(?P<value>[^|]+)"
    r"\|#(?P<dimensions>[^|]*)\|#type:(?P<type>\w+)\|"
)

Metric = tuple[str, float, str, dict[str, str], str]  # name, value, unit, dimensions, type


def model_folder(tmp_path: Path, name: str, model: torch.nn.Module, metadata: Any) -> Path:
    """The folder the archive of model ``name`` unpacks to, with ``model``'s weights."""
    spec = SPECS[name]
    assert spec.model_file, f"{name} has no model file for TorchServe to load"
    folder = tmp_path / name
    (folder / "MAR-INF").mkdir(parents=True)
    manifest = {
        "runtime": "python",
        "model": {
            "modelName": name,
            "modelVersion": "1.0",
            "handler": Path(spec.handler).name,
            "modelFile": Path(spec.model_file).name,
            "serializedFile": "weights.pt",
            "configFile": f"{name}.yaml",
        },
    }
    (folder / "MAR-INF" / "MANIFEST.json").write_text(json.dumps(manifest))
    shutil.copy(ROOT / spec.model_file, folder)
    shutil.copy(spec.config, folder / f"{name}.yaml")
    torch.save(model.state_dict(), folder / "weights.pt")
    (folder / METADATA_FILE).write_text(json.dumps(metadata))
    return folder


def part(value: Any, content_type: str = JSON, name: str = "body") -> dict[str, Any]:
    """One field of a request as the frontend hands it to the worker."""
    return {"name": name, "contentType": content_type, "value": value}


class Worker:
    """``handler`` loaded from ``folder`` and called as a TorchServe worker calls it."""

    def __init__(self, handler: BatchedHandler, folder: Path) -> None:
        manifest = json.loads((folder / "MAR-INF" / "MANIFEST.json").read_text())
        name, config_file = manifest["model"]["modelName"], manifest["model"]["configFile"]
        metrics = MetricsCacheYamlImpl(config_file_path=str(METRICS_CONFIG))
        metrics.initialize_cache()
        metrics.model_name = name
        service = Service(
            name,
            str(folder),
            manifest,
            handler.handle,
            gpu=None,  # CPU, as this project's workers
            batch_size=get_yaml_config(str(folder / config_file))["batchSize"],
            metrics_cache=metrics,
        )
        self.context: Context = service.context
        self.handler = handler
        self.metrics: list[Metric] = []
        with archive_imports(folder):  # the model file is imported from the model folder
            handler.initialize(self.context)

    def handle(
        self,
        requests: Sequence[Sequence[dict[str, Any]]],
        headers: Mapping[str, str] | None = None,
    ) -> list[Any]:
        """Each request's answer as JSON, from one ``handle`` call over the batch of
        ``requests`` (each a list of ``part``), every one with the request ``headers``."""
        batch = [
            {
                "requestId": str(index).encode(),
                "parameters": list(parts),
                "headers": [
                    {"name": key.encode(), "value": value.encode()}
                    for key, value in (headers or {}).items()
                ],
            }
            for index, parts in enumerate(requests)
        ]
        processors, data, ids = Service.retrieve_data_for_inference(batch)
        self.context.request_ids = ids
        self.context.request_processor = processors
        self.context.metrics.request_ids = ids
        with metric_lines() as lines:
            answers = self.handler.handle(data, self.context)
        self.metrics += [parse_metric(line) for line in lines]
        # As ts/protocol/otf_message_handler.py writes them: text as is, the rest as JSON.
        return [json.loads(a if isinstance(a, str | bytes) else json.dumps(a)) for a in answers]

    def statuses(self) -> list[int]:
        """The status the handler set for each request of the last batch (200 if none)."""
        processors = self.context.request_processor
        return [self.context.get_response_status(i)[0] for i in range(len(processors))]

    def recorded(self, name: str) -> list[Metric]:
        return [metric for metric in self.metrics if metric[0] == name]


@contextlib.contextmanager
def metric_lines() -> Iterator[list[str]]:
    """The metric lines TorchServe's metrics cache logs meanwhile."""
    lines: list[str] = []
    logger = logging.getLogger(caching_metric.__name__)

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    collect, level = Collect(logging.INFO), logger.level
    logger.addHandler(collect)
    logger.setLevel(logging.INFO)  # whatever a quieter caller set on "ts"
    try:
        yield lines
    finally:
        logger.removeHandler(collect)
        logger.setLevel(level)


def parse_metric(line: str) -> Metric:
    match = METRIC_LINE.match(line)
    assert match, f"not a TorchServe metric line: {line!r}"
    dimensions = dict(pair.split(":", 1) for pair in match["dimensions"].split(","))
    return match["name"], float(match["value"]), match["unit"], dimensions, match["type"]
