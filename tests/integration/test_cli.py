"""``tserve`` against the real TorchServe: what a person reads, what a script parses, and the
one-line reason and exit code of each kind of failure.

Most calls run ``client.cli.main`` in this process (fast); two run ``python -m client.cli``
as a shell would, to show the exit status reaches the shell.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from server.launcher import TorchServe
from server.settings import ROOT, free_ports
from tests.answers import same_text
from tests.integration.archives import packed_workers
from tests.integration.clients import UNAUTHORIZED, aim_cli, client_env, client_for, run_cli

SEVEN = "examples/seven.png"
ROW = "examples/cancer_row.json"


@pytest.fixture(autouse=True)
def at_the_session_server(server: TorchServe, monkeypatch: pytest.MonkeyPatch) -> None:
    aim_cli(monkeypatch, server)
    monkeypatch.chdir(ROOT)  # the examples' relative paths, as in the README


def test_predict_an_image_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "predict", "digits", SEVEN)
    assert (code, err) == (0, "")
    assert same_text("7  0.999972\n3  0.000028\n2  0.000000\n", out), out


def test_predict_a_json_row(capsys: pytest.CaptureFixture[str]) -> None:
    expected = "row 0  malignant  0.999981\n"
    for args in (("--json", ROW), (ROW,)):  # named JSON, and by the file's type
        code, out, err = run_cli(capsys, "predict", "cancer", *args)
        assert (code, err) == (0, "") and same_text(expected, out), out


def test_predict_rows_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO((ROOT / "examples/cancer_rows.json").read_text()))
    code, out, _ = run_cli(capsys, "predict", "cancer", "--json", "-")
    assert code == 0
    assert [line.split()[2] for line in out.splitlines()] == ["malignant", "malignant", "benign"]


def test_predict_texts_and_labels(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "predict", "minilm", "--text", "A man is eating food.")
    assert code == 0
    assert same_text("text 0  384 dims  [0.0332, 0.0044, -0.0063, 0.0484, ...]\n", out), out
    text = "The striker scored twice in the final minutes."
    labels = ["--label", "cooking", "--label", "football", "--label", "astronomy"]
    code, out, err = run_cli(capsys, "predict", "minilm", "--text", text, *labels)
    assert (code, err) == (0, "")
    assert same_text("football   0.232112\ncooking    0.093603\nastronomy  0.060712\n", out), out


def test_json_output_is_the_servers_answer(
    capsys: pytest.CaptureFixture[str], server: TorchServe
) -> None:
    code, out, _ = run_cli(capsys, "--json", "predict", "digits", SEVEN, "--version", "1.0")
    assert code == 0
    assert json.loads(out) == client_for(server).predict("digits", image=ROOT / SEVEN)


def test_models_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "models", "list") == (
        0,
        "cancer  cancer.mar\ndigits  digits.mar\nminilm  minilm.mar\n",
        "",
    )
    for args in (["models", "list", "--json"], ["--json", "models", "list"]):
        code, out, _ = run_cli(capsys, *args)
        assert code == 0
        assert [entry["modelName"] for entry in json.loads(out)] == ["cancer", "digits", "minilm"]


def test_models_describe_customized(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "models", "describe", "cancer", "--customized")
    assert (code, err) == (0, "")
    header, *rows = out.splitlines()
    fields = dict(row.strip().split("  ", 1) for row in rows)
    fields = {key: value.strip() for key, value in fields.items()}
    assert header == "cancer 1.0"
    assert fields["archive"] == "cancer.mar"
    workers = packed_workers("cancer")
    assert fields["workers"] == f"{workers} (READY); min {workers}, max {workers}"
    assert fields["batching"] == "up to 32 per batch, 1 ms delay"
    assert fields["labels"] == "malignant, benign"
    assert float(fields["held-out accuracy"]) >= 0.95


def test_metrics_as_json_samples(capsys: pytest.CaptureFixture[str]) -> None:
    run_cli(capsys, "predict", "cancer", ROW)  # the counter exists once used
    code, out, _ = run_cli(capsys, "metrics", "--json", "--name", "ts_inference_requests_total")
    samples = json.loads(out)
    assert code == 0 and samples, out
    assert {sample["name"] for sample in samples} == {"ts_inference_requests_total"}
    assert any(sample["labels"]["model_name"] == "cancer" for sample in samples), samples


def test_errors_are_one_line_with_their_exit_code(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    short = tmp_path / "short.json"
    short.write_text('{"inputs": [14.2, 20.1]}')
    cases = [
        (["predict", "nope", SEVEN], 4, "404 ModelNotFoundException: Model not found: nope"),
        (
            ["predict", "cancer", "--json", str(short)],
            3,
            "400 InputError: row 0: expected 30 features, got 2",
        ),
        (
            ["models", "register", "cancer.mar"],
            6,
            "405 MethodNotAllowedException: Requested method is not allowed, please refer to API "
            "document. (registration is off on this server: start it with `make serve-dev` "
            "(--set enable_model_api=true))",
        ),
        (
            ["predict", "digits", "missing.png"],
            2,
            "[Errno 2] No such file or directory: 'missing.png'",
        ),
        (
            ["predict", "digits", "notes.bin"],
            2,
            "cannot tell what notes.bin holds: use --image, --text or --json",
        ),
        (["predict", "digits", SEVEN, "--label", "seven"], 2, "labels go with text"),
    ]
    for args, code, reason in cases:
        assert run_cli(capsys, *args) == (code, "", f"tserve: {reason}\n"), args


def test_wrong_token_says_where_it_came_from(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TSERVE_TOKEN", "wrong")
    assert run_cli(capsys, "predict", "cancer", ROW) == (
        5,
        "",
        f"tserve: 401 Unauthorized: {UNAUTHORIZED} (token: $TSERVE_TOKEN)\n",
    )


def test_nothing_listening(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    [port] = free_ports(1)
    monkeypatch.setenv("TSERVE_INFERENCE_URL", f"http://127.0.0.1:{port}")
    reason = (
        f"POST http://127.0.0.1:{port}/predictions/cancer: cannot connect (is TorchServe running?)"
    )
    assert run_cli(capsys, "predict", "cancer", ROW) == (8, "", f"tserve: {reason}\n")


@pytest.mark.parametrize(
    "args",
    [["predict", "digits"], ["models", "scale", "digits", "--workers", "-1"], ["models"]],
    ids=["no-input", "negative-workers", "no-action"],
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    code, out, err = run_cli(capsys, *args)
    assert (code, out) == (2, ""), err
    assert err.startswith("usage: tserve"), err


def test_exit_status_reaches_the_shell(server: TorchServe) -> None:
    env = os.environ | client_env(server)
    command = [sys.executable, "-m", "client.cli"]
    ok = subprocess.run(
        [*command, "predict", "digits", SEVEN],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (ok.returncode, ok.stderr) == (0, "")
    assert same_text("7  0.999972", ok.stdout.splitlines()[0]), ok.stdout
    failed = subprocess.run(
        [*command, "models", "describe", "nope"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (failed.returncode, failed.stdout) == (4, "")
    assert failed.stderr == "tserve: 404 ModelNotFoundException: Model not found: nope\n"
