"""The front door's configuration (server/door.py, config/haproxy.cfg) and its API keys
(server/api_keys.py), without a TorchServe: HAProxy itself checks the rendered config."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from server import api_keys
from server.api_keys import ApiKeyError, configured_keys, digest, keys_for, parse_keys
from server.door import ERRORS, Door, connection_limit, error_file, haproxy_binary
from server.settings import API_KEYS_ENV, API_KEYS_FILE_ENV, DOOR_CONFIG, LOCAL_KEY_FILE

KEY = "a-key-for-the-tests-0123456789"


def door(tmp_path: Path) -> Door:
    return Door(
        tmp_path,
        bind="127.0.0.1:1",
        metrics_bind="127.0.0.1:2",
        inference="127.0.0.1:3",
        management="127.0.0.1:4",
        metrics="127.0.0.1:5",
        exporter="127.0.0.1:6",
        models=["cancer", "digits"],
        max_body=1000,
    )


@pytest.mark.parametrize("auth", [True, False])
def test_haproxy_accepts_the_rendered_configuration(tmp_path: Path, auth: bool) -> None:
    front = door(tmp_path)
    front.write_files([KEY])
    env = {"PATH": "/usr/bin:/bin"} | front.environment(
        auth, {"inference": "i", "management": "m"}, {}
    )
    result = subprocess.run(
        [*front.command(), "-c"], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr


def test_a_broken_configuration_is_refused(tmp_path: Path) -> None:
    """The check above can fail: HAProxy refuses a config with an unknown keyword."""
    broken = tmp_path / "broken.cfg"
    broken.write_text(DOOR_CONFIG.read_text().replace("timeout queue", "timeout queeue"))
    front = door(tmp_path)
    front.write_files([KEY])
    env = {"PATH": "/usr/bin:/bin"} | front.environment(True, {}, {})
    result = subprocess.run(
        [haproxy_binary(), "-c", "-f", str(broken), "-f", str(front.state_dir / "readiness.cfg")],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0


def test_only_digests_of_the_keys_are_written_readable_by_the_owner_alone(tmp_path: Path) -> None:
    front = door(tmp_path)
    front.write_files([KEY, "another-key-0123456789"])
    digests = front.state_dir / "keys.lst"
    assert digests.read_text().split() == [digest(KEY), digest("another-key-0123456789")]
    assert KEY not in "".join(path.read_text() for path in front.state_dir.glob("*.*"))
    assert digests.stat().st_mode & 0o777 == 0o600
    assert front.state_dir.stat().st_mode & 0o777 == 0o700


def test_digest_is_haproxys_sha2_hex() -> None:
    # HAProxy's `sha2(256),hex` of "abc": SHA-256's test vector, upper-case hex.
    assert digest("abc") == "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"


def test_readiness_waits_for_the_first_checks_and_every_model(tmp_path: Path) -> None:
    front = door(tmp_path)
    front.write_files([KEY])
    text = (front.state_dir / "readiness.cfg").read_text()
    assert text.count("http-check send meth GET uri /models/") == 2
    assert '{ date,sub("${DOOR_STARTED}") ge 3 }' in text
    assert "{ nbsrv(ready_cancer) ge 1 } { nbsrv(ready_digits) ge 1 }" in text


@pytest.mark.parametrize("status", sorted(ERRORS))
def test_haproxys_own_answers_are_json_with_the_right_length(status: int) -> None:
    head, _, body = error_file(status, *ERRORS[status]).partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0].startswith(f"HTTP/1.1 {status} ")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert int(headers["Content-Length"]) == len(body)
    assert json.loads(body)["code"] == status
    assert ("Retry-After" in headers) is (status == 503)


def test_connection_limit_fits_the_open_files_limit() -> None:
    import resource

    limit = connection_limit()
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert 64 <= limit <= 4096 and 2 * limit + 64 <= max(soft, 192)


def test_keys_from_the_environment_or_a_file(tmp_path: Path) -> None:
    assert configured_keys({API_KEYS_ENV: f" {KEY} , other-key-0123456789 "}) == [
        KEY,
        "other-key-0123456789",
    ]
    secret = tmp_path / "keys"
    secret.write_text(f"# rotated 2026-12-01\n{KEY}\n\nnext-key-0123456789  # the new one\n")
    assert configured_keys({API_KEYS_FILE_ENV: str(secret)}) == [KEY, "next-key-0123456789"]
    assert configured_keys({}) is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({API_KEYS_ENV: "short"}, "TSERVE_API_KEYS item 1: an API key must be 16-256"),
        ({API_KEYS_ENV: f"{KEY},has space inside 0123456789"}, "item 2"),
        ({API_KEYS_ENV: " , "}, "hold no key"),
        ({API_KEYS_FILE_ENV: "/nonexistent/keys"}, "No such file"),
    ],
)
def test_a_bad_key_is_named_by_where_it_is_never_by_itself(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(ApiKeyError, match=message) as caught:
        configured_keys(env)
    assert "short" not in str(caught.value).replace("TSERVE", "")
    assert "has space" not in str(caught.value)


def test_a_run_folder_keeps_its_own_key(tmp_path: Path) -> None:
    first = keys_for(tmp_path, {})
    assert keys_for(tmp_path, {}) == first and len(first[0]) >= 32
    assert (tmp_path / LOCAL_KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert keys_for(tmp_path, {API_KEYS_ENV: KEY}) == [KEY]
    assert parse_keys(first[0], ",", "x") == first
    assert api_keys.KEY_PATTERN.fullmatch(first[0])
