"""tserve without a server: argument parsing, input selection, exit codes, rendering."""

from __future__ import annotations

import argparse
import functools
import io
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client import cli, output
from client.api import Client
from client.errors import ClientError, from_response
from server.settings import (
    INFERENCE_TOKEN_ENV,
    INFERENCE_URL_ENV,
    KEY_FILE,
    ROOT,
    RUN_DIR_ENV,
    free_ports,
)
from tests.unit.test_client_api import Stub

PARSER = cli.build_parser()


def parse(*args: str) -> argparse.Namespace:
    return PARSER.parse_args(list(args))


# docs/client.md's error table: what each answer raises and the exit code `tserve` gives it.
ERROR_TABLE = "| error | when | status | `tserve` exit |"
# A status cell's entries: 400, 400 `InvalidKeyException`, 507 "Worker died.", 5xx.
ANSWER = re.compile(r'(?P<status>\d{3}|5xx)(?: `(?P<type>\w+)`)?(?: "(?P<message>[^"]+)")?')


def documented_errors() -> list[tuple[str, str, int]]:
    """(error type, status cell, exit code) of each row of docs/client.md's error table."""
    lines = (ROOT / "docs" / "client.md").read_text().splitlines()
    table = lines[lines.index(ERROR_TABLE) + 2 :]
    rows = []
    for line in table[: next(i for i, row in enumerate(table) if not row.startswith("|"))]:
        error, _, status, code = (cell.strip() for cell in line.strip("|").split("|"))
        rows.append((error.split()[0].strip("`"), status, int(code)))
    return rows


def answers(status_cell: str) -> list[tuple[int, dict[str, Any]]]:
    """The server answers a status cell stands for, as TorchServe's JSON bodies. A type or
    message after the last status holds for the bare statuses before it too: in 500, 507
    "Worker died." both carry the message; in 400 `InvalidKeyException`, 401 only 400 does."""
    entries = [match.groupdict() for match in ANSWER.finditer(status_cell)]
    assert entries, f"no status in {status_cell!r}"
    last = entries[-1]
    found = []
    for entry in entries:
        bare = entry["type"] is None and entry["message"] is None
        given = last if bare else entry
        type_ = given["type"] or "StubException"
        message = given["message"] or "refused by the stub"
        status = entry["status"]
        for code in [500, 502, 504] if status == "5xx" else [int(status)]:
            found.append((code, {"code": code, "type": type_, "message": message}))
    return found


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stub]:
    """A stub TorchServe the CLI predicts against; resends wait no backoff."""
    server = Stub()
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    monkeypatch.setenv(INFERENCE_URL_ENV, server.url)
    monkeypatch.setenv(INFERENCE_TOKEN_ENV, "inf-key")
    monkeypatch.setattr(cli, "Client", functools.partial(Client, backoff=0.0))
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def predict_exit(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``tserve predict cancer --text x``: its exit code and its one line on stderr."""
    code = cli.main(["predict", "cancer", "--text", "x"])
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("tserve: "), (out, err)
    return code, err


@pytest.mark.parametrize(("error", "status_cell", "code"), documented_errors())
def test_each_documented_error_exits_with_its_documented_code(
    error: str,
    status_cell: str,
    code: int,
    stub: Stub,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if error == "TransportError":  # nothing listening
        [port] = free_ports(1)
        monkeypatch.setenv(INFERENCE_URL_ENV, f"http://127.0.0.1:{port}")
        exit_code, err = predict_exit(capsys)
        assert (exit_code, "cannot connect" in err) == (code, True), err
    elif error == "TokenFileError":  # no token given, and a key file not TorchServe's
        monkeypatch.delenv(INFERENCE_TOKEN_ENV)
        monkeypatch.setenv(RUN_DIR_ENV, str(tmp_path))
        (tmp_path / KEY_FILE).write_text("not json")
        exit_code, err = predict_exit(capsys)
        assert (exit_code, "is not a TorchServe key file" in err) == (code, True), err
        assert stub.received == [], "nothing is sent without a token"
    else:
        for status, body in answers(status_cell):
            assert type(from_response(status, json.dumps(body))).__name__ == error, body
            stub.script = [(status, body)]
            exit_code, err = predict_exit(capsys)
            assert exit_code == code, (body, err)
            assert err.startswith(f"tserve: {status} {body['type']}: {body['message']}"), err


def test_a_refusal_the_table_does_not_name_exits_like_the_named_refusals(
    stub: Stub, capsys: pytest.CaptureFixture[str]
) -> None:
    refused = {error: code for error, _, code in documented_errors()}["NotAllowedError"]
    stub.script = [(418, {"code": 418, "type": "Teapot", "message": "x"})]
    assert predict_exit(capsys) == (refused, "tserve: 418 Teapot: x\n")


def test_exit_codes_are_distinct_per_kind() -> None:
    codes = [code for cls, code in cli.EXIT_CODES.items() if cls is not ClientError]
    assert len(codes) == len(set(codes)), cli.EXIT_CODES
    assert cli.EXIT_USAGE not in cli.EXIT_CODES.values()  # 2 stays argparse's


def test_json_flag_before_or_after_the_verb() -> None:
    assert parse("--json", "models", "list").as_json is True
    assert parse("models", "list", "--json").as_json is True
    assert parse("models", "list").as_json is False
    assert parse("--json", "metrics").as_json is True


def test_predict_json_option_is_an_input_file() -> None:
    args = parse("predict", "cancer", "--json", "row.json")
    assert (args.json_file, args.as_json) == (Path("row.json"), False)


@pytest.mark.parametrize(
    "args",
    [
        ["predict", "digits", "a.png", "--image", "b.png"],
        ["predict", "digits", "--text", "a", "--json", "b.json"],
        ["predict", "digits"],
        ["models", "scale", "digits"],
        ["models", "scale", "digits", "--workers", "-1"],
        ["models", "register", "x.mar", "--batch-size", "many"],
    ],
)
def test_usage_errors(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        parse(*args)
    assert caught.value.code == 2
    assert "usage: tserve" in capsys.readouterr().err


def test_input_by_file_type(tmp_path: Path) -> None:
    row = tmp_path / "row.json"
    row.write_text('{"inputs": [1, 2]}')
    note = tmp_path / "note.txt"
    note.write_text("A man is eating food.")
    assert cli.prediction_input(parse("predict", "m", str(row))) == {"document": {"inputs": [1, 2]}}
    assert cli.prediction_input(parse("predict", "m", str(note))) == {
        "text": "A man is eating food."
    }
    assert cli.prediction_input(parse("predict", "m", "seven.PNG")) == {"image": Path("seven.PNG")}
    assert cli.prediction_input(parse("predict", "m", "x.jpg")) == {"image": Path("x.jpg")}
    with pytest.raises(ValueError, match=r"cannot tell what data\.bin holds"):
        cli.prediction_input(parse("predict", "m", "data.bin"))


def test_input_by_option() -> None:
    assert cli.prediction_input(parse("predict", "m", "--text", "a")) == {"text": "a"}
    assert cli.prediction_input(parse("predict", "m", "--text", "a", "--text", "b")) == {
        "text": ["a", "b"]
    }
    assert cli.prediction_input(parse("predict", "m", "--image", "x")) == {"image": Path("x")}


def test_predict_document_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("[1, 2, 3]"))
    assert cli.prediction_input(parse("predict", "m", "--json", "-")) == {"document": [1, 2, 3]}


def test_render_json_or_human() -> None:
    answer = {"label": "7", "probability": 1.0, "top_k": [{"label": "7", "probability": 1.0}]}
    assert json.loads(cli.render(parse("--json", "predict", "m", "x.png"), answer)) == answer
    assert cli.render(parse("predict", "m", "x.png"), answer) == "7  1.000000"
    assert cli.render(parse("models", "set-default", "m", "2.0"), {"status": "done"}) == "done"


def test_failures_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.fail("first\n  second", 3) == 3
    assert capsys.readouterr().err == "tserve: first second\n"


def test_nothing_listening_exits_8(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    [port] = free_ports(1)
    monkeypatch.setenv("TSERVE_MANAGEMENT_URL", f"http://127.0.0.1:{port}")
    assert cli.main(["models", "list"]) == 8
    assert capsys.readouterr().err.startswith(f"tserve: GET http://127.0.0.1:{port}/models")


# The human renderers, on answers shaped like the server's


def test_prediction_shapes() -> None:
    digits = {
        "label": "7",
        "probability": 0.999972,
        "top_k": [
            {"label": "7", "probability": 0.999972},
            {"label": "3", "probability": 2.8e-05},
        ],
    }
    assert output.prediction(digits) == "7  0.999972\n3  0.000028"
    cancer = {
        "predictions": [
            {"label": "malignant", "probability": 0.9},
            {"label": "benign", "probability": 0.75},
        ]
    }
    assert output.prediction(cancer) == "row 0  malignant  0.900000\nrow 1  benign     0.750000"
    ranked = {"label": "b", "labels": [{"label": "b", "score": 0.5}, {"label": "a", "score": 0.1}]}
    assert output.prediction(ranked) == "b  0.500000\na  0.100000"
    embeddings = {"embeddings": [[0.1, -0.2, 0.3, 0.4, 0.5], [1.0]], "truncated": [True, False]}
    assert output.prediction(embeddings) == (
        "text 0  5 dims  [0.1000, -0.2000, 0.3000, 0.4000, ...]  truncated\n"
        "text 1  1 dims  [1.0000]"
    )
    assert output.prediction({"other": 1}) == '{\n  "other": 1\n}'


def test_models_and_status() -> None:
    entries = [
        {"modelName": "cancer", "modelUrl": "cancer.mar"},
        {"modelName": "digits-big", "modelUrl": "d.mar"},
    ]
    assert output.models(entries) == "cancer      cancer.mar\ndigits-big  d.mar"
    assert output.models([]) == "no models registered"
    assert output.status({"status": "Workers scaled to 2 for model: m"}) == (
        "Workers scaled to 2 for model: m"
    )


def test_description() -> None:
    version = {
        "modelName": "cancer",
        "modelVersion": "2.0",
        "modelUrl": "cancer-2.0.mar",
        "minWorkers": 1,
        "maxWorkers": 2,
        "batchSize": 32,
        "maxBatchDelay": 5,
        "workers": [{"status": "READY"}, {"status": "UNLOADING"}],
        "customizedMetadata": {"task": "t", "labels": ["m", "b"], "accuracy": {"held_out": 0.98}},
    }
    assert output.description([version]) == "\n".join(
        [
            "cancer 2.0",
            "  archive            cancer-2.0.mar",
            "  workers            2 (READY, UNLOADING); min 1, max 2",
            "  batching           up to 32 per batch, 5 ms delay",
            "  task               t",
            "  held-out accuracy  0.98",
            "  labels             m, b",
        ]
    )


def test_metric_samples() -> None:
    text = (
        "# HELP ts_inference_requests_total Torchserve prometheus counter\n"
        "# TYPE ts_inference_requests_total counter\n"
        'ts_inference_requests_total{model_name="cancer",model_version="default",} 5.0\n'
    )
    assert output.metric_samples(text) == [
        {
            "name": "ts_inference_requests_total",
            "labels": {"model_name": "cancer", "model_version": "default"},
            "value": 5.0,
        }
    ]


@pytest.mark.parametrize("args", [("--json", "{name}"), ("{name}",)])
def test_a_malformed_json_file_is_named(
    args: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "rows.json"
    bad.write_text('{"inputs": [1, 2,')
    code = cli.main(["predict", "cancer", *(arg.format(name=bad) for arg in args)])
    _, err = capsys.readouterr()
    assert (code, err.startswith(f"tserve: {bad} is not JSON: ")) == (2, True), err


def test_a_url_without_its_scheme_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TSERVE_MANAGEMENT_URL", "127.0.0.1:8081")
    code = cli.main(["models", "list"])
    _, err = capsys.readouterr()
    assert code == 2, err
    assert "'127.0.0.1:8081' (given, or $TSERVE_MANAGEMENT_URL) must be http://" in err, err
