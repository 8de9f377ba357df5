"""Base for this project's handlers: one model call per batch, one answer per request.

Subclasses say how to validate one request (``parse``), which model-input rows it makes
(``rows_of``) and how its rows of model output become JSON (``answer``). The rest is here:
- whatever one request raises, that request alone gets the answer: its own 4xx JSON error
  for a client mistake, a 500 (logged once with its request id) for a bug in our code; the
  rest of the batch is served (an exception escaping a hook would fail every request in the
  batch with TorchServe's 503). A model call that fails for the batch is retried per
  request, so the one request that broke it is found and the others are answered;
- torch threads are pinned from the model config, so workers don't oversubscribe cores;
- each batch is measured (size, handler time, each request's status, error type and, when
  the front door stamped it, queue wait and duration: handlers/metrics.py), sent to the
  frontend's ``/metrics`` at most once per ``metrics_interval_s``, and logged as one JSON
  line per request (logger ``handlers.requests``; config/log4j2.xml writes them to
  logs/request_log.log);
- ``GET /models/<m>?customized=true`` returns the metadata the build wrote;
- the KServe routes (handlers/protocols.py): a v2 request's tensors (``parse_v2``) or a v1
  request's instances (``parse_v1``) become the same parsed request as a native body, so
  they batch with any other; their answers are ``answer_v2``'s tensors and ``answer_v1``'s
  predictions, their refusals the protocol's ``{"error": "..."}`` with the same status.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import orjson
import torch
from threadpoolctl import threadpool_limits
from ts.metrics.metric_type_enum import MetricTypes
from ts.torch_handler.base_handler import BaseHandler

from contracts.metadata import METADATA_FILE, Metadata, checked
from handlers import metrics
from handlers.batching import Batch, Result
from handlers.errors import (
    STATUS,
    InputError,
    InternalError,
    RequestError,
    error_body,
    protocol_error,
    status_of,
)
from handlers.payload import FORM_TYPE, Payload, find_payload, media_type
from handlers.protocols import (
    BINARY_HEADER,
    EXPLAIN_HEADER,
    NATIVE,
    URL_PATH_HEADER,
    V1,
    V2,
    V2Request,
    instances,
    is_kserve,
    kserve_document,
    protocol_of,
    read_v2,
    selected,
    v2_answer,
)

MAX_LOGGED_MESSAGE = 200  # characters of a refusal's message in its log line
METRICS_INTERVAL = 1.0  # s between two sends of the metrics (model YAML: metrics_interval_s)

logger = logging.getLogger(__name__)
request_log = logging.getLogger("handlers.requests")  # one JSON line per request


def worker_id() -> str:
    """This worker's stable name: the port of its socket (``--sock-name .../.ts.sock.9000``
    or ``--port``), which a restarted worker keeps; the pid when started otherwise."""
    args = sys.argv
    for flag in ("--sock-name", "--port"):
        if flag in args[:-1]:
            return args[args.index(flag) + 1].rsplit(".", 1)[-1]
    return str(os.getpid())


class BatchedHandler(BaseHandler):  # TorchServe ships no type hints: BaseHandler is Any
    metadata: Metadata

    def initialize(self, context: Any) -> None:
        settings = (getattr(context, "model_yaml_config", None) or {}).get("handler", {})
        torch.set_num_threads(int(settings.get("torch_threads", 1)))
        # numpy's OpenBLAS (image decoding) runs one Python thread's work; its idle threads
        # would spin for a core the frontend or torch needs. The launcher also sets
        # OPENBLAS_NUM_THREADS=1; this covers a TorchServe started by hand.
        threadpool_limits(limits=1, user_api="blas")
        self.settings = settings
        self._start_metrics(context)
        model_dir = context.system_properties["model_dir"]
        path = os.path.join(model_dir, METADATA_FILE)
        with open(path, encoding="utf-8") as file:
            self.metadata = checked(json.load(file), path)
        self.load_model(context)
        self.initialized = True
        self.send_metrics()  # this worker's series exist (at 0) from its start

    def load_model(self, context: Any) -> None:
        """Load the model; TorchServe's loader handles a state_dict plus a model file."""
        super().initialize(context)

    def parse(self, payload: Payload) -> Any:
        """One request's payload, validated; raise InputError naming what is wrong."""
        raise NotImplementedError

    def parse_v2(self, request: V2Request) -> Any:
        """A v2 request's tensors as what ``parse`` returns; raise InputError."""
        raise InputError("this model does not read the Open Inference Protocol")

    def parse_v1(self, instances: list[Any]) -> Any:
        """A v1 request's instances as what ``parse`` returns; raise InputError."""
        raise InputError("this model does not read KServe v1 instances")

    def rows_of(self, request: Any) -> Sequence[Any]:
        """The model-input rows of a parsed request (by default, the request itself)."""
        return request

    def answer(self, outputs: Any, request: Any) -> Any:
        """The JSON-ready answer for one parsed request from its rows of model output (a
        tensor, or a dict of named tensors when ``forward`` returns several outputs)."""
        raise NotImplementedError

    def answer_v2(self, outputs: Any, request: Any) -> list[dict[str, Any]]:
        """The v2 output tensors for one parsed request (handlers.protocols.output)."""
        raise NotImplementedError

    def answer_v1(self, outputs: Any, request: Any) -> list[Any]:
        """The v1 predictions for one parsed request, one per instance."""
        raise NotImplementedError

    def preprocess(self, data: list[dict[str, Any]]) -> Batch:
        batch = Batch()
        # Per request: its protocol, and for v2 what the answer needs (id, outputs asked).
        self._calls: list[tuple[str, V2Request | None]] = []
        for index, row in enumerate(data):
            self._calls.append((NATIVE, None))
            try:
                payload = find_payload(row, self._content_types(index, row), self._form(index))
                request = self._parse(index, payload)
                batch.add(self.rows_of(request), request)
            except InputError as error:
                batch.reject(error)
            except Exception:
                batch.reject(self._fault(index, "parsing"))
        return batch

    def _parse(self, index: int, payload: Payload) -> Any:
        """One request by its protocol: native, or a KServe route's (told apart by the
        headers TorchServe adds: handlers/protocols.py)."""
        explain = self._header(index, EXPLAIN_HEADER)
        if not is_kserve(explain, self._header(index, URL_PATH_HEADER)):
            return self.parse(payload)
        self._calls[index] = (V2, None)  # a KServe route: its refusals are {"error": ...}
        document, binary = kserve_document(payload, self._header(index, BINARY_HEADER))
        if protocol_of(explain, document) == V1:
            self._calls[index] = (V1, None)
            return self.parse_v1(instances(document))
        v2 = read_v2(document, binary)
        self._calls[index] = (V2, v2)
        return self.parse_v2(v2)

    def _answer(self, index: int, outputs: Any, request: Any) -> Any:
        protocol, v2 = self._call(index)
        if protocol == V1:
            return {"predictions": self.answer_v1(outputs, request)}
        if protocol == V2 and v2 is not None:
            tensors = selected(self.answer_v2(outputs, request), v2.outputs)
            return v2_answer(self.metadata["model"], self.metadata["version"], v2.id, tensors)
        return self.answer(outputs, request)

    def forward(self, parts: list[Any]) -> Any:
        """One model call over every valid request's rows, in order: one output row each
        (a tensor, or a dict of named tensors of one row each)."""
        return self.model(torch.cat(parts).to(self.device)).cpu()

    def inference(self, batch: Batch, *args: Any, **kwargs: Any) -> list[Result]:
        parts = batch.parts
        if not parts:
            return batch.split(None)
        try:
            with torch.inference_mode():
                return batch.split(self.forward(parts))
        except Exception as exc:
            # Some request's rows broke the batched call: run each alone to find which.
            logger.warning("batch of %d failed (%r); retrying per request", len(parts), exc)
            return batch.split_each(self._forward_alone)

    def _forward_alone(self, rows: Any) -> Any:
        try:
            with torch.inference_mode():
                return self.forward([rows])
        except RequestError:
            raise
        except Exception:
            logger.exception("model call failed for one request")
            raise InternalError("the model failed on this request; it has been logged") from None

    def postprocess(self, results: list[Result]) -> list[str | bytes]:
        rejected = sum(isinstance(result, RequestError) for result in results)
        answers: list[str | bytes] = []
        for index, result in enumerate(results):
            self.context.set_response_content_type(index, "application/json")
            # Let clients (and tests) see how batching went for their request.
            self.context.set_response_header(index, "X-Batch-Size", str(len(results)))
            self.context.set_response_header(index, "X-Batch-Rejected", str(rejected))
            if not isinstance(result, RequestError):
                try:
                    # orjson writes numpy arrays directly: a 384-float embedding in ~10 us
                    # instead of ~190 us through json.dumps of a list.
                    answers.append(
                        orjson.dumps(
                            self._answer(index, *result), option=orjson.OPT_SERIALIZE_NUMPY
                        )
                    )
                    self._outcomes.append(self._outcome(index, 200))
                    continue
                except RequestError as error:  # e.g. a v2 request asked for no such output
                    result = error
                except Exception:
                    result = self._fault(index, "answering")
            answers.append(self._refuse(index, result))
            self._outcomes.append(self._outcome(index, status_of(result), result))
        return answers

    def _outcome(self, index: int, status: int, error: RequestError | None = None) -> Any:
        header = self.context.get_request_header(index, metrics.START_HEADER)
        if header is None:
            header = self.context.get_request_header(index, metrics.START_HEADER.lower())
        return metrics.Outcome(
            self._request_id(index),
            status,
            type(error).__name__ if error is not None else None,
            metrics.door_start(header, time.time()),
        )

    def _refuse(self, index: int, error: RequestError) -> str:
        """Answer request ``index`` with ``error``: its status, JSON body and one log line."""
        status = status_of(error)
        self.context.set_response_status(status, HTTPStatus(status).phrase, index)
        if isinstance(error, InputError):  # a client mistake: one line, no traceback
            message = str(error)[:MAX_LOGGED_MESSAGE]
            logger.info(
                "refused request %s: %d %s: %s",
                self._request_id(index),
                status,
                type(error).__name__,
                message,
            )
        return error_body(error) if self._call(index)[0] == NATIVE else protocol_error(error)

    def _call(self, index: int) -> tuple[str, V2Request | None]:
        calls = getattr(self, "_calls", [])
        return calls[index] if index < len(calls) else (NATIVE, None)

    def _fault(self, index: int, stage: str) -> InternalError:
        """A bug met while serving request ``index``: logged once, with its traceback."""
        request_id = self._request_id(index)
        logger.exception("request %s failed while %s", request_id, stage)
        return InternalError(f"internal error while {stage} request {request_id}; it is logged")

    def _request_id(self, index: int) -> str:
        ids = getattr(self.context, "request_ids", None) or {}
        return str(ids.get(index, index))

    def describe_handle(self) -> Metadata:
        return self.metadata

    def handle(self, data: list[dict[str, Any]], context: Any) -> list[Any]:
        """BaseHandler.handle without its profiler and explain paths (unused here) and its
        per-batch ``HandlerTime`` gauge, whose measure is ``ts_handler_batch_duration_seconds``."""
        self.context = context
        if self._is_describe():
            return [self.describe_handle()]
        began = time.time()
        self._outcomes: list[metrics.Outcome] = []
        answers = self.postprocess(self.inference(self.preprocess(data)))
        self._observe(began, time.time())
        return answers

    def _start_metrics(self, context: Any) -> None:
        manifest = (getattr(context, "manifest", None) or {}).get("model", {})
        self.recorder = metrics.Recorder(
            context.model_name,
            str(manifest.get("modelVersion", "")),
            worker_id(),
            int(context.system_properties.get("batch_size") or 1),
            (kind.__name__ for kind in STATUS),
        )
        self.metrics_interval = float(self.settings.get("metrics_interval_s", METRICS_INTERVAL))
        self._metrics_cache = context.metrics
        self._metric_objects: dict[str, Any] = {}
        self._sent = float("-inf")
        self._send_lock = threading.Lock()
        self._sender: threading.Thread | None = None
        self._outcomes = []

    def _observe(self, began: float, ended: float) -> None:
        """Record the batch just answered, log its requests, send the metrics when due."""
        outcomes = self._outcomes
        self.recorder.observe(outcomes, began, ended)
        if request_log.isEnabledFor(logging.INFO):
            request_log.info("%s", metrics.log_lines(self.recorder, outcomes, began, ended))
        if time.monotonic() - self._sent >= self.metrics_interval:
            self.send_metrics()
        elif self._sender is None:
            # What the last batches of a burst leave pending is sent on this thread.
            self._sender = threading.Thread(target=self._send_later, daemon=True)
            self._sender.start()

    def _send_later(self) -> None:
        while True:
            time.sleep(self.metrics_interval)  # the send interval itself, not a wait for state
            if self.recorder.pending and time.monotonic() - self._sent >= self.metrics_interval:
                self.send_metrics()

    def send_metrics(self) -> None:
        """Hand what changed to TorchServe's metric lines (the frontend parses the worker's
        output); no request ids on them, so a line stays ~200 bytes whatever the batch."""
        with self._send_lock:
            self._sent = time.monotonic()
            for name, kind, labels, value in self.recorder.drain():
                metric = self._metric_objects.get(name)
                if metric is None:
                    unit = "s" if "_seconds" in name else "count"  # the help text's unit
                    metric = self._metrics_cache.add_metric_to_cache(
                        name, unit, list(labels), MetricTypes[kind]
                    )
                    self._metric_objects[name] = metric
                metric.add_or_update(value, list(labels.values()))

    def _header(self, index: int, name: str) -> str | None:
        """Header ``name`` of request ``index`` (TorchServe keeps the client's spelling)."""
        for spelling in (name, name.lower(), name.title()):
            value = self.context.get_request_header(index, spelling)
            if value is not None:
                return value if isinstance(value, str) else str(value)
        return None

    def _form(self, index: int) -> bool:
        """Whether request ``index`` came as a URL-encoded form (curl -d's default type)."""
        header = self.context.get_request_header(index, "Content-Type") or ""
        if not header:
            header = self.context.get_request_header(index, "content-type") or ""
        return isinstance(header, str) and media_type(header) == FORM_TYPE

    def _content_types(self, index: int, row: dict[str, Any]) -> dict[str, str]:
        """Content type of each field of request ``index``, as TorchServe recorded it."""
        types = {}
        for name in row:
            header = self.context.get_request_header(index, name)
            if isinstance(header, dict):
                types[name] = header.get("content-type", "")
        return types
