"""Run the handler packed in a model archive in this process, as a TorchServe worker does.

The archive is unpacked into a temporary folder; the handler module named in its manifest
is imported from there, its one class built with TorchServe's own rule, and
``initialize(context)`` called with TorchServe's own ``Context`` (manifest, model-config
YAML, model_dir). Each call hands ``handle`` a batch of request dicts decoded as the worker
decodes them (ts/protocol/otf_message_handler.py) and maps exceptions to statuses as
ts/service.py does, so the rows are those the server would give.

Every archive carries its own copy of the ``handlers`` package, named like this
repository's: an archive's modules are imported with its folder first on ``sys.path``, and
``sys.modules`` is put back afterwards, so archives and the repository's package coexist.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import ts
from ts.context import Context, RequestProcessor
from ts.utils.util import PredictionException, list_classes_from_module

from batch.archive import MANIFEST, Archive
from batch.calls import Reply, Request
from batch.errors import BatchError
from contracts.errors import FRONTEND_FAILURE, error_body

logger = logging.getLogger(__name__)


class NullMetrics:
    """Stands in for TorchServe's metrics cache: handlers record times, nobody reads them.
    Every call answers another null object, so ``add_metric_to_cache(...).add_or_update(...)``
    works too."""

    def __getattr__(self, name: str) -> Callable[..., NullMetrics]:
        return lambda *args, **kwargs: self


@contextlib.contextmanager
def archive_imports(model_dir: Path) -> Iterator[None]:
    """Import the archive's own modules from ``model_dir``; leave sys.modules as it was."""
    own = {
        path.stem
        for path in model_dir.iterdir()
        if path.suffix == ".py" or (path / "__init__.py").is_file()
    }

    def shadowed(name: str) -> bool:
        return name.partition(".")[0] in own

    saved = {name: module for name, module in sys.modules.items() if shadowed(name)}
    for name in saved:
        del sys.modules[name]
    sys.path.insert(0, str(model_dir))
    importlib.invalidate_caches()
    try:
        yield
    finally:
        sys.path.remove(str(model_dir))
        for name in [name for name in sys.modules if shadowed(name)]:
            del sys.modules[name]
        sys.modules.update(saved)


def as_received(request: Request) -> Any:
    """The body as the worker hands it over: JSON parsed, text/* decoded, else bytes."""
    try:
        if request.content_type == "application/json":
            return json.loads(request.body)
        if request.content_type.startswith("text"):
            return request.body.decode("utf-8")
    except (UnicodeDecodeError, json.JSONDecodeError):
        pass  # the worker forwards what it cannot decode as it came
    return bytearray(request.body)


class LocalEngine:
    name = "local"
    concurrency = 1  # one handler; torch uses the threads the model config gives it

    def __init__(self, archive: Archive) -> None:
        # TorchServe hands the handler up to batchSize requests at once.
        self.inputs_per_call = archive.batch_size
        self._folder = tempfile.TemporaryDirectory(prefix=f"batch-{archive.name}-")
        model_dir = Path(self._folder.name)
        try:
            with zipfile.ZipFile(archive.path) as mar:
                mar.extractall(model_dir)
            manifest = json.loads((model_dir / MANIFEST).read_text())
            self.context = Context(
                archive.name,
                str(model_dir),
                manifest,
                archive.batch_size,
                None,  # gpu_id: CPU, as this project's workers
                ts.__version__,
                metrics=NullMetrics(),
                model_yaml_config=archive.config,
            )
            with archive_imports(model_dir):
                module = importlib.import_module(Path(archive.handler).stem)
                (handler_class,) = list_classes_from_module(module)  # TorchServe's rule
                self.handler = handler_class()
                self.handler.initialize(self.context)
        except Exception as exc:
            self._folder.cleanup()
            raise BatchError(f"cannot load {archive.path}: {exc}") from None

    def call(self, requests: Sequence[Request]) -> list[Reply]:
        self.context.request_ids = {index: str(index) for index in range(len(requests))}
        self.context.request_processor = [
            RequestProcessor(
                {"body": {"content-type": r.content_type}, "content-type": r.content_type}
            )
            for r in requests
        ]
        data = [{"body": as_received(request)} for request in requests]
        started = time.perf_counter()
        failure: tuple[int, str] | None = None
        try:
            answers = self.handler.handle(data, self.context)
            if len(answers) != len(requests):
                failure = (503, "number of batch response mismatched")
        except MemoryError:
            failure = (507, "Out of resources")
        except PredictionException as exc:
            failure = (exc.error_code, exc.message)
        except Exception as exc:
            logger.warning("the handler failed on a batch: %s", exc)
            failure = (503, "Prediction failed")
        seconds = time.perf_counter() - started
        if failure is not None:
            code, message = failure
            body = error_body(code, FRONTEND_FAILURE, message)  # as TorchServe's frontend
            return [Reply(code, body, seconds)] * len(requests)
        return [
            Reply(self.context.get_response_status(index)[0], json.loads(answer), seconds)
            for index, answer in enumerate(answers)
        ]

    def close(self) -> None:
        self._folder.cleanup()
