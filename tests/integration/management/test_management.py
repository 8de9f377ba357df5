"""Management workflows against a real TorchServe, through the project's client.

Registration with batching and workers, synchronous scaling, versions side by side with a
default switch under live traffic, and every refusal with its exact status and message.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from client import (
    AuthError,
    Client,
    ConflictError,
    HTTPError,
    NotAllowedError,
    NotFoundError,
)
from server.launcher import TorchServe
from server.settings import MODEL_STORE, ROOT
from tests.integration.archives import packed_workers
from tests.integration.clients import UNAUTHORIZED, client_env, client_for
from tests.integration.management.conftest import V2_ARCHIVE

ROW = json.loads((ROOT / "examples" / "cancer_row.json").read_text())["inputs"]
ROW_ANSWER = {
    "predictions": [
        {
            "label": "malignant",
            "probability": 0.999981,
            "probabilities": {"malignant": 0.999981, "benign": 1.9e-05},
        }
    ]
}


def expect_error(
    call: Callable[[], object], kind: type[HTTPError], status: int, type_: str, message: str
) -> None:
    """``call`` raises ``kind`` carrying the server's exact status, type and message."""
    with pytest.raises(kind) as caught:
        call()
    error = caught.value
    assert (error.status, error.type, error.message) == (status, type_, message), error


@contextlib.contextmanager
def registered(admin: Client, name: str, *archives: str) -> Iterator[None]:
    """``archives`` registered as versions of ``name`` (the first is the default), all
    unregistered afterwards whatever the test did to them."""
    for archive in archives:
        admin.register(archive, model_name=name, initial_workers=1)
    try:
        yield
    finally:
        for entry in reversed(_versions(admin, name)):  # the default goes last
            admin.unregister(name, entry["modelVersion"])


def _versions(admin: Client, name: str) -> list[dict[str, Any]]:
    """Every version of ``name``, the default first; [] once it is gone."""
    try:
        default = admin.describe(name)[0]["modelVersion"]
        versions = admin.describe(name, "all")
    except NotFoundError:
        return []
    return sorted(versions, key=lambda entry: entry["modelVersion"] != default)


def worker_states(admin: Client, name: str, version: str | None = None) -> list[str]:
    return [worker["status"] for worker in admin.describe(name, version)[0]["workers"]]


# Registration, scaling, describe


def test_register_with_batching_and_initial_workers(admin: Client) -> None:
    name = "batched"
    try:
        answer = admin.register(
            "cancer.mar", model_name=name, batch_size=4, max_batch_delay=50, initial_workers=1
        )
        packed = packed_workers("cancer")  # wins over initial_workers=1
        assert answer == {
            "status": f'Model "{name}" Version: 1.0 registered with {packed} initial workers'
        }
        [description] = admin.describe(name, customized=True)
        assert (description["batchSize"], description["maxBatchDelay"]) == (4, 50)
        assert (description["minWorkers"], description["maxWorkers"]) == (packed, packed)
        assert [worker["status"] for worker in description["workers"]] == ["READY"] * packed
        metadata = description["customizedMetadata"]
        assert (metadata["model"], metadata["version"], metadata["labels"]) == (
            "cancer",
            "1.0",
            ["malignant", "benign"],
        )
        assert admin.predict(name, vector=ROW) == ROW_ANSWER
    finally:
        admin.unregister(name)
    expect_error(
        lambda: admin.describe(name),
        NotFoundError,
        404,
        "ModelNotFoundException",
        f"Model not found: {name}",
    )


def test_scale_up_and_down_synchronously(admin: Client) -> None:
    with registered(admin, "scaled", "cancer.mar"):
        assert admin.scale("scaled", 2) == {"status": "Workers scaled to 2 for model: scaled"}
        assert worker_states(admin, "scaled") == ["READY", "READY"]
        assert admin.predict("scaled", vector=ROW) == ROW_ANSWER
        assert admin.scale("scaled", 1) == {"status": "Workers scaled to 1 for model: scaled"}
        assert worker_states(admin, "scaled") == ["READY"]


def plant(folder: Path) -> Path:
    """A loadable archive in ``folder``/model_store, outside the server's own store."""
    planted = folder / "model_store" / "planted.mar"
    planted.parent.mkdir()
    shutil.copy(MODEL_STORE / "cancer.mar", planted)
    return planted


def test_file_url_from_another_model_store_is_refused(admin: Client, tmp_path: Path) -> None:
    """allowed_urls holds this server's own store only (the launcher renders it), so an
    archive planted in any other folder named model_store is not loaded."""
    url = plant(tmp_path).as_uri()
    before = admin.list_models()
    expect_error(
        lambda: admin.register(url, model_name="planted"),
        NotFoundError,
        404,
        "ModelNotFoundException",
        NOT_ALLOWED.format(url),
    )
    assert admin.list_models() == before
    assert "planted" not in {model["modelName"] for model in before}


def percent_encoded(path: str) -> str:
    """``path`` with each ``.`` and ``/`` written %2e and %2f, but for the final ``.mar``."""
    stem = path.removesuffix(".mar")
    return "".join(f"%{ord(char):02x}" if char in "./" else char for char in stem) + ".mar"


def test_percent_encoded_climb_out_of_the_own_store_is_refused(
    admin: Client, model_store: Path, tmp_path: Path
) -> None:
    """TorchServe refuses a literal ``..`` in a URL, but opens a file:// URL percent-decoded:
    ``<store>/%2e%2e%2f...%2fplanted.mar`` names one file "in" the store and loads the
    archive planted anywhere. Archive names in allowed_urls have no ``%``."""
    climb = os.path.relpath(plant(tmp_path), model_store.resolve())
    url = f"{model_store.resolve().as_uri()}/{percent_encoded(climb)}"
    try:
        expect_error(
            lambda: admin.register(url, model_name="climbed"),
            NotFoundError,
            404,
            "ModelNotFoundException",
            NOT_ALLOWED.format(url),
        )
    finally:
        with contextlib.suppress(HTTPError):  # registered only if the test failed
            admin.unregister("climbed")


def test_file_url_in_the_own_model_store_passes_allowed_urls(
    admin: Client, model_store: Path
) -> None:
    """The rendered regex matches the store's real path (escaped, through Java's properties
    parsing); TorchServe then refuses to copy the archive onto itself."""
    url = (model_store / V2_ARCHIVE).as_uri()
    expect_error(
        lambda: admin.register(url, model_name="own-store"),
        HTTPError,
        500,
        "InternalServerException",
        f"Model file already exists {V2_ARCHIVE}",
    )


# Versions


class Traffic:
    """Threads that keep predicting on a model's default version until stopped; every
    answer is kept, so a single failed request during a switch shows."""

    def __init__(self, server: TorchServe, model: str, threads: int = 2) -> None:
        self.url = f"{server.inference_url}/predictions/{model}"
        self.headers = server.headers()
        self.answers: list[tuple[int, str]] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._send) for _ in range(threads)]

    def _send(self) -> None:
        # Plain requests with no retries: a 503 or a reset must count, not be hidden.
        with requests.Session() as session:
            deadline = time.monotonic() + 120  # bounded even if the test never stops it
            while not self.stopping.is_set() and time.monotonic() < deadline:
                try:
                    response = session.post(
                        self.url, json={"inputs": ROW}, headers=self.headers, timeout=30
                    )
                    answer = (response.status_code, response.text)
                except requests.RequestException as exc:
                    answer = (0, repr(exc))
                with self.lock:
                    self.answers.append(answer)

    def count(self) -> int:
        with self.lock:
            return len(self.answers)

    def wait_for(self, more: int, timeout: float = 60.0) -> None:
        """Until ``more`` further answers came back (traffic is really flowing)."""
        target = self.count() + more
        deadline = time.monotonic() + timeout
        while self.count() < target:
            assert time.monotonic() < deadline, f"only {self.count()} of {target} answers"
            time.sleep(0.01)  # polling interval, not a wait for readiness

    def __enter__(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=60)


def test_second_version_then_default_switch_under_traffic(
    admin: Client, registry: TorchServe, record_property: Callable[[str, object], None]
) -> None:
    with registered(admin, "switch", "cancer.mar", V2_ARCHIVE):
        assert admin.predict("switch", vector=ROW, version="2.0") == ROW_ANSWER
        assert admin.predict("switch", vector=ROW, version="1.0") == ROW_ANSWER
        [v2] = admin.describe("switch", "2.0", customized=True)
        assert v2["customizedMetadata"]["version"] == "2.0"
        assert admin.describe("switch")[0]["modelVersion"] == "1.0"

        started = time.monotonic()
        with Traffic(registry, "switch") as traffic:
            traffic.wait_for(50)
            assert admin.set_default("switch", "2.0") == {
                "status": 'Default version successfully updated for model "switch" to "2.0"'
            }
            traffic.wait_for(50)
            assert admin.unregister("switch", "1.0") == {"status": 'Model "switch" unregistered'}
            traffic.wait_for(50)
        sent, seconds = len(traffic.answers), time.monotonic() - started
        record_property("requests_during_switch", sent)
        print(f"\n{sent} requests in {seconds:.1f} s across the default switch and unregistration")
        statuses = Counter(status for status, _ in traffic.answers)
        assert statuses == {200: sent}, [a for a in traffic.answers if a[0] != 200][:3]
        assert all(json.loads(body) == ROW_ANSWER for _, body in traffic.answers)

        assert [entry["modelVersion"] for entry in admin.describe("switch", "all")] == ["2.0"]
        expect_error(
            lambda: admin.predict("switch", vector=ROW, version="1.0"),
            NotFoundError,
            404,
            "ModelVersionNotFoundException",
            "Model version: 1.0 does not exist for model: switch",
        )


# Refusals, each with its exact status


def test_unknown_model(admin: Client) -> None:
    message = "Model not found: nope"
    for call in (
        lambda: admin.describe("nope"),
        lambda: admin.scale("nope", 1),
        lambda: admin.unregister("nope"),
        lambda: admin.predict("nope", vector=ROW),
    ):
        expect_error(call, NotFoundError, 404, "ModelNotFoundException", message)


def test_registration_while_the_model_api_is_off(server: TorchServe) -> None:
    session_client = client_for(server)  # the session server: enable_model_api=false
    message = "Requested method is not allowed, please refer to API document."
    for call in (
        lambda: session_client.register("cancer.mar", model_name="sneaky"),
        lambda: session_client.unregister("cancer"),
    ):
        expect_error(call, NotAllowedError, 405, "MethodNotAllowedException", message)
    assert "cancer" in {model["modelName"] for model in session_client.list_models()}


NOT_ALLOWED = "Given URL {} does not match any allowed URL(s)"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://example.com/cancer.mar", NOT_ALLOWED),
        ("http://127.0.0.1:1/cancer.mar", NOT_ALLOWED),
        ("file:///etc/cancer.mar", NOT_ALLOWED),
        ("file:///tmp/model_store/../../etc/x.mar", "Relative path is not allowed in url: {}"),
    ],
)
def test_url_outside_allowed_urls(admin: Client, url: str, message: str) -> None:
    before = admin.list_models()
    expect_error(
        lambda: admin.register(url, model_name="outside"),
        NotFoundError,
        404,
        "ModelNotFoundException",
        message.format(url),
    )
    assert admin.list_models() == before


@pytest.mark.parametrize("token", [None, "not-the-key"], ids=["missing", "invalid"])
def test_missing_or_invalid_token(registry: TorchServe, tmp_path: Path, token: str | None) -> None:
    env = client_env(registry) | {"TSERVE_RUN_DIR": str(tmp_path)}  # no key file there
    if token is not None:
        env |= {"TSERVE_TOKEN": token, "TSERVE_MANAGEMENT_TOKEN": token}
    outsider = Client(env=env)
    message = (
        "Token Authorization failed. Token either incorrect, expired, or not provided correctly"
    )
    for call in (
        outsider.list_models,
        lambda: outsider.register("cancer.mar", model_name="outsider"),
    ):
        expect_error(call, AuthError, 400, "InvalidKeyException", message)
    # A prediction meets the front door first: its 401.
    expect_error(
        lambda: outsider.predict("cancer", vector=ROW), AuthError, 401, "Unauthorized", UNAUTHORIZED
    )


def test_deleting_the_default_version_others_depend_on(admin: Client) -> None:
    with registered(admin, "pinned", "cancer.mar", V2_ARCHIVE):
        expect_error(
            lambda: admin.unregister("pinned", "1.0"),
            ConflictError,
            403,
            "InvalidModelVersionException",
            "Cannot remove default version for model pinned",
        )
        assert [entry["modelVersion"] for entry in _versions(admin, "pinned")] == ["1.0", "2.0"]


def test_registering_a_version_twice(admin: Client) -> None:
    with registered(admin, "twice", "cancer.mar"):
        expect_error(
            lambda: admin.register("cancer.mar", model_name="twice"),
            ConflictError,
            409,
            "ConflictStatusException",
            "Model version 1.0 is already registered for model twice",
        )


def test_unknown_version(admin: Client) -> None:
    with registered(admin, "one-version", "cancer.mar"):
        expect_error(
            lambda: admin.set_default("one-version", "9.9"),
            NotFoundError,
            404,
            "ModelVersionNotFoundException",
            "Model version 9.9 does not exist for model one-version",
        )
