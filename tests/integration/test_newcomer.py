"""A newcomer's first hour, as the README and docs/client.md tell it, on non-default ports
with a fresh run folder and nothing preset in the environment: start the server, get the
key, run the README's curl commands, use `tserve`, check health, stop. Each step's output is
checked as the newcomer would read it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from server.launcher import taken
from server.settings import HOST, ROOT, SERVER_FILE, free_ports
from tests.answers import agrees
from tests.integration.test_readme_curl import CURLRC, EXAMPLES, STATUS_MARK, expected_answer

PYTHON = sys.executable
TSERVE = str(Path(sys.executable).with_name("tserve"))


def clean_env(tmp_path: Path) -> dict[str, str]:
    """The caller's environment without any of this project's variables (nothing preset)."""
    keep = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("TSERVE_", "TS_", "BATCH_")) and name != "PORT"
    }
    return keep | {"CURL_HOME": str(tmp_path)}


def three_free_ports() -> int:
    """A port P with P, P+1 and P+2 free: `--port P` takes all three."""
    for _ in range(100):
        (port,) = free_ports(1)
        if port < 65530 and not any(taken((HOST, p)) for p in (port, port + 1, port + 2)):
            return port
    raise AssertionError("no three consecutive free ports")


def run(command: list[str], env: dict[str, str], timeout: float = 60) -> str:
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_the_quickstart_on_other_ports(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    port = three_free_ports()
    env = clean_env(tmp_path)
    (tmp_path / ".curlrc").write_text(CURLRC)
    server = [PYTHON, "-m", "server"]
    started = run([*server, "start", "--run-dir", str(run_dir), "--port", str(port)], env, 400)
    try:
        assert "TorchServe is ready with models: cancer, digits, minilm" in started
        assert f"http://127.0.0.1:{port}/predictions/<model>" in started
        assert f"http://127.0.0.1:{port}/health/ready" in started
        assert f"{run_dir / 'api-key'}" in started
        where = json.loads((run_dir / SERVER_FILE).read_text())
        assert where["management_url"] == f"http://127.0.0.1:{port + 1}"

        token = run([*server, "token", "--run-dir", str(run_dir)], env).strip()
        assert token == (run_dir / "api-key").read_text().strip()

        # The README's curl commands, its port moved, TOKEN exported as it says.
        for example in EXAMPLES:
            command = example.command.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
            output = run(["bash", "-c", command], env | {"TOKEN": token})
            body, _, status = output.rpartition(STATUS_MARK)
            if example.expected is None:
                assert status == "200", (command, body)
                continue
            expected = expected_answer(example.expected)
            code = expected.get("code", 200) if isinstance(expected, dict) else 200
            assert status == str(code), (command, body)
            assert agrees(expected, json.loads(body)) == [], (command, body)

        # tserve finds the server from its run folder: no URL, no token given.
        tserve_env = env | {"TSERVE_RUN_DIR": str(run_dir)}
        listed = run([TSERVE, "models", "list"], tserve_env)
        assert [line.split()[0] for line in listed.splitlines()] == ["cancer", "digits", "minilm"]
        predicted = run([TSERVE, "predict", "digits", "examples/seven.png"], tserve_env)
        assert predicted.split()[0] == "7", predicted

        health = run(["curl", "-s", f"http://127.0.0.1:{port}/health/ready"], env)
        assert json.loads(health.rpartition(STATUS_MARK)[0])["status"] == "ready"
        status = run([*server, "status", "--run-dir", str(run_dir)], env)
        assert status.startswith("running"), status
    finally:
        stopped = run([*server, "stop", "--run-dir", str(run_dir)], env)
    assert stopped.strip() == "TorchServe stopped"
    assert not (run_dir / SERVER_FILE).exists(), "a stopped server still says where it is"
