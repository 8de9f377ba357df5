"""A small client for this project's TorchServe: predictions and the management API.

    client = Client()                       # URLs and tokens from the environment
    client.predict("digits", image="examples/seven.png")["label"]
    client.scale("digits", 2)

Every call has a timeout. An answer that means the model never answered the request (503
queue full or no worker, 500/507 "Worker died."; ``client.errors.RETRYABLE``) is resent a
bounded number of times with jittered exponential backoff; any other error status raises
the ``client.errors`` type for it, carrying the server's message, at once. A Client holds a
``requests.Session``: use one per thread. No TorchServe code is imported here.
"""

from __future__ import annotations

import io
import os
import random
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import requests

import contracts
from client.archives import archive_id, local_archive, staged
from client.errors import (
    HTTPError,
    NotAllowedError,
    NotFoundError,
    TransportError,
    from_response,
    is_retryable,
)
from client.tokens import Kind, TokenSource, server_urls
from server import settings

URL_ENV: dict[str, tuple[str, str]] = {
    "inference": (settings.INFERENCE_URL_ENV, settings.INFERENCE_URL),
    "management": (settings.MANAGEMENT_URL_ENV, settings.MANAGEMENT_URL),
    "metrics": (settings.METRICS_URL_ENV, settings.METRICS_URL),
}
# Said with a 405 from POST or DELETE /models, and with a registration URL outside
# allowed_urls: TorchServe's own messages name neither the cure nor the rule.
MODEL_API_OFF = (
    "registration is off on this server: start it with `make serve-dev` "
    "(--set enable_model_api=true)"
)
OWN_STORE_ONLY = (
    "this server registers archives from its own model store only: give the archive's "
    "path and it is copied there, or a file name in the store"
)
# PNG/JPEG bytes, a file path, or an image in memory: a PIL image or a numpy array of
# shape (H, W) or (H, W, 3|4), uint8, which are sent as PNG.
ImageInput = bytes | str | os.PathLike[str] | Any


def image_bytes(image: ImageInput) -> bytes:
    """The bytes to send for ``image`` (see ImageInput)."""
    if isinstance(image, bytes):
        return image
    if isinstance(image, str | os.PathLike):
        return Path(image).read_bytes()
    from PIL import Image  # only for images in memory

    if hasattr(image, "__array_interface__") and not isinstance(image, Image.Image):
        image = Image.fromarray(image)
    if not isinstance(image, Image.Image):
        raise TypeError(
            f"image must be bytes, a path, a PIL image or a numpy array, got {type(image).__name__}"
        )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def prediction_body(
    image: ImageInput | None = None,
    text: str | Sequence[str] | None = None,
    vector: Any = None,
    labels: Sequence[str] | None = None,
    document: Any = None,
) -> dict[str, Any]:
    """``requests`` keyword arguments carrying exactly one kind of input, in its contract's
    wire format (``document`` is sent as it is)."""
    inputs = {"image": image, "text": text, "vector": vector, "document": document}
    given = [name for name, value in inputs.items() if value is not None]
    if len(given) != 1:
        raise ValueError(f"give exactly one of image, text, vector, document; got {given}")
    if labels is not None and text is None:
        raise ValueError("labels go with text")
    if image is not None:
        wire = contracts.image.request(image_bytes(image))
        return {"data": wire.body, "headers": {"Content-Type": wire.content_type}}
    if text is not None:
        return {"json": contracts.text.document(text, labels)}
    if vector is not None:
        return {"json": contracts.vector.document(vector)}
    return {"json": document}


def checked_url(url: str, api: str, variable: str) -> str:
    """``url`` without its trailing slash, once it is an http(s) URL with a host; a URL
    without its scheme would otherwise surface later as "cannot connect"."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"the {api} URL {url!r} (given, or ${variable}) must be http://HOST:PORT or https://..."
        )
    return url.rstrip("/")


def hinted(error: HTTPError, hint: str) -> HTTPError:
    """``error`` again, its one-line reason followed by ``hint`` (status, type and message
    unchanged)."""
    return type(error)(error.status, error.type, error.message, error.body, hint)


def _path(*parts: str | None) -> str:
    """URL path from parts, each quoted whole (a model name cannot add path segments)."""
    return "/" + "/".join(quote(part, safe="") for part in parts if part is not None)


class Client:
    """Inference, management and metrics calls against one TorchServe."""

    def __init__(
        self,
        inference_url: str | None = None,
        management_url: str | None = None,
        metrics_url: str | None = None,
        *,
        tokens: TokenSource | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 3.05,
        retries: int = 3,  # resends of an answer the model never gave (client.errors.RETRYABLE)
        backoff: float = 0.5,  # seconds before the first resend, doubled for each further one
        env: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if env is None else env
        given = {"inference": inference_url, "management": management_url, "metrics": metrics_url}
        # Unless told, where the running server said it listens (its run folder's
        # server.json), else the defaults.
        running = server_urls(env) if not all(given.values()) else {}
        urls = {
            api: checked_url(
                given[api] or env.get(name) or running.get(f"{api}_url") or default, api, name
            )
            for api, (name, default) in URL_ENV.items()
        }
        self.inference_url = urls["inference"]
        self.management_url = urls["management"]
        self.metrics_url = urls["metrics"]
        self.tokens = tokens if tokens is not None else TokenSource(env=env)
        self.timeout = (connect_timeout, timeout)
        self.retries, self.backoff = retries, backoff
        self.retried: Counter[str] = Counter()  # "status message" of each answer resent for
        self.session = requests.Session()  # its adapters never retry: request() decides

    def request(self, method: str, url: str, kind: Kind | None, **kwargs: Any) -> requests.Response:
        """Send one call with ``kind``'s token; raise the typed error for an error status.

        An answer the model never gave (``is_retryable``) is resent up to ``retries`` times,
        all methods alike: a prediction has no side effect, and the model answered none of
        them. A refused connection or a timeout is reported at once: the request may still
        be running, and a server that is down answers no sooner for being asked again.
        """
        headers = dict(kwargs.pop("headers", {}))
        attempt = 0
        while True:
            try:
                return self._send(method, url, kind, headers, **kwargs)
            except HTTPError as error:
                if attempt >= self.retries or not is_retryable(error):
                    raise
                self.retried[f"{error.status} {error.message}"] += 1
                time.sleep(self.delay(attempt))  # backoff between attempts, not a readiness wait
                attempt += 1

    def delay(self, attempt: int) -> float:
        """Seconds before resend ``attempt + 1``: ``backoff`` doubled per earlier resend, plus
        up to ``backoff`` of jitter, so clients refused together do not return together."""
        return self.backoff * 2**attempt + random.uniform(0, self.backoff)

    def _send(
        self,
        method: str,
        url: str,
        kind: Kind | None,
        headers: Mapping[str, str],
        **kwargs: Any,
    ) -> requests.Response:
        """One attempt; the token is looked up each time (a restarted server has new keys)."""
        token = self.tokens.get(kind) if kind else None
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = self.session.request(
                method, url, headers={**headers, **auth}, timeout=self.timeout, **kwargs
            )
        except requests.ConnectTimeout:
            reason = f"cannot connect within {self.timeout[0]}s"
            raise TransportError(f"{method} {url}: {reason}") from None
        except requests.Timeout:
            reason = f"no answer within {self.timeout[1]}s"
            raise TransportError(f"{method} {url}: {reason}") from None
        except requests.ConnectionError:
            reason = "cannot connect (is TorchServe running?)"
            raise TransportError(f"{method} {url}: {reason}") from None
        except requests.RequestException as exc:
            raise TransportError(f"{method} {url}: {exc}") from None
        if response.status_code >= 400:
            hint = f"token: {self.tokens.origin(kind)}" if kind else ""
            raise from_response(response.status_code, response.text, auth_hint=hint)
        return response

    # Inference

    def predict(
        self,
        model: str,
        *,
        image: ImageInput | None = None,
        text: str | Sequence[str] | None = None,
        vector: Any = None,
        labels: Sequence[str] | None = None,
        document: Any = None,
        version: str | None = None,
    ) -> Any:
        """The model's JSON answer for one input: an image (bytes, a file path, a PIL image
        or a numpy array), a text or texts (with ``labels`` to rank), a row or rows of
        numbers or of the features by name (a dict, a list of dicts, a pandas DataFrame:
        ``contracts.vector.document``), or a JSON ``document`` sent as it is. ``version``
        picks a version other than the default."""
        body = prediction_body(image, text, vector, labels, document)
        url = self.inference_url + _path("predictions", model, version)
        return self.request("POST", url, "inference", **body).json()

    # Management

    def list_models(self) -> list[dict[str, Any]]:
        """Every registered model (``modelName``, ``modelUrl``), all pages."""
        models: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 100}
        while True:
            page = self._manage("GET", _path("models"), params=params)
            models += page.get("models", [])
            if not page.get("nextPageToken"):
                return models
            params["next_page_token"] = page["nextPageToken"]

    def describe(
        self, model: str, version: str | None = None, *, customized: bool = False
    ) -> list[dict[str, Any]]:
        """One entry per version asked (``version="all"``: every version); ``customized``
        adds the handler's ``customizedMetadata`` (labels, input schema, accuracy)."""
        params = {"customized": "true"} if customized else {}
        result: list[dict[str, Any]] = self._manage(
            "GET", _path("models", model, version), params=params
        )
        return result

    def register(
        self,
        url: str | os.PathLike[str],
        *,
        model_name: str | None = None,
        batch_size: int | None = None,
        max_batch_delay: int | None = None,
        initial_workers: int | None = None,
        response_timeout: int | None = None,
        synchronous: bool = True,
        model_store: Path = settings.MODEL_STORE,
    ) -> dict[str, Any]:
        """Register an archive: a local ``.mar`` by its path (copied into ``model_store``,
        the server's, as ``<model>-<version>.mar`` for the call, see ``client.archives``),
        a file name in the server's store, or a URL that ``allowed_urls`` permits (sent as
        it is). Synchronous: returns once the initial workers are up."""
        params = {
            "model_name": model_name,
            "batch_size": batch_size,
            "max_batch_delay": max_batch_delay,
            "initial_workers": initial_workers,
            "response_timeout": response_timeout,
            "synchronous": str(synchronous).lower(),
        }
        path = local_archive(os.fspath(url), Path.cwd())
        if path is None:
            return self._registration(os.fspath(url), params)
        with staged(path, Path(model_store)) as name:
            return self._registration(name, params)

    def _registration(self, url: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._status("POST", _path("models"), params={"url": url} | params)
        except NotAllowedError as error:
            raise hinted(error, MODEL_API_OFF) from None
        except NotFoundError as error:
            if "does not match any allowed URL" not in error.message:
                raise
            raise hinted(error, OWN_STORE_ONLY) from None

    def reload(
        self,
        model: str,
        archive: str | os.PathLike[str],
        *,
        model_store: Path = settings.MODEL_STORE,
    ) -> dict[str, Any]:
        """Serve ``archive`` (a local ``.mar``) as ``model`` in place of what it serves now:
        the edit loop's step after rebuilding one model (`make reload MODEL=...`).

        A version that is not loaded is registered beside the default, made the default,
        and the old default unregistered once its queue is empty. TorchServe 0.12 stops a
        version's workers at once, so a batch still inside one is answered "Worker died."
        (500): retryable (``client.errors.RETRYABLE``), so this client resends it and loses
        none; a plain client may see it in the moment of the switch. The same version
        (a rebuilt ``1.0``) is unregistered, then registered again: requests in between
        get 404. Either way the archive's model config (workers, batching) applies."""
        path = Path(archive)
        if not path.is_file():
            raise FileNotFoundError(f"no archive at {path}")
        version = archive_id(path).version
        try:
            loaded = [entry["modelVersion"] for entry in self.describe(model, "all")]
            default = self.describe(model)[0]["modelVersion"]
        except NotFoundError:
            loaded, default = [], None
        if version in loaded:
            self.unregister(model, version)
        answer = self.register(path, model_name=model, model_store=model_store)
        if default is not None and default != version:
            self.set_default(model, version)
            self._drain(model, default)
            self.unregister(model, default)
            answer["status"] += f"; the default now, {default} unregistered"
        return answer

    def _drain(self, model: str, version: str, timeout: float = 30.0) -> None:
        """Wait (polling, bounded) until ``version`` has no request queued: once it is no
        longer the default, nothing new joins its queue."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.describe(model, version)[0].get("jobQueueStatus", {})
            if not status.get("pendingRequests"):
                return
            time.sleep(0.05)  # polling interval of the queue's drain

    def unregister(self, model: str, version: str | None = None) -> dict[str, Any]:
        """Remove a version (default: the default version) and stop its workers."""
        try:
            return self._status("DELETE", _path("models", model, version))
        except NotAllowedError as error:
            raise hinted(error, MODEL_API_OFF) from None

    def scale(
        self,
        model: str,
        min_workers: int,
        max_workers: int | None = None,
        *,
        version: str | None = None,
        synchronous: bool = True,
    ) -> dict[str, Any]:
        """Set the worker range (max defaults to min); synchronous: returns once they run."""
        max_workers = min_workers if max_workers is None else max_workers
        # TorchServe 0.12 takes a negative or inverted range without complaint and leaves
        # the model in a state its describe output cannot explain: refuse it here.
        if min_workers < 0 or max_workers < min_workers:
            raise ValueError(
                f"workers must satisfy 0 <= min <= max, got min={min_workers} max={max_workers}"
            )
        params = {
            "min_worker": min_workers,
            "max_worker": max_workers,
            "synchronous": str(synchronous).lower(),
        }
        return self._status("PUT", _path("models", model, version), params=params)

    def set_default(self, model: str, version: str) -> dict[str, Any]:
        """Make ``version`` the one ``/predictions/<model>`` serves."""
        return self._status("PUT", _path("models", model, version, "set-default"))

    def metrics(self, names: Sequence[str] = ()) -> str:
        """Prometheus text from the metrics API (no token), optionally only ``names``."""
        params = {"name[]": list(names)} if names else {}
        return self.request("GET", self.metrics_url + "/metrics", None, params=params).text

    def _manage(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(method, self.management_url + path, "management", **kwargs).json()

    def _status(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """A write call's answer, ``{"status": "..."}``; None-valued parameters are left out."""
        if "params" in kwargs:
            kwargs["params"] = {k: v for k, v in kwargs["params"].items() if v is not None}
        result: dict[str, Any] = self._manage(method, path, **kwargs)
        return result
