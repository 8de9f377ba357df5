"""The Python client against the real TorchServe: every input kind, its discovery of URLs and
tokens, and a typed error carrying the server's words for each kind of failure."""

from __future__ import annotations

import json
from pathlib import Path

import pandas
import pytest

from client import (
    AuthError,
    BadInputError,
    Client,
    HTTPError,
    NotFoundError,
    TransportError,
)
from contracts.metadata import read_metadata
from server.launcher import TorchServe
from server.settings import MODEL_STORE, ROOT, free_ports
from tests.answers import agrees
from tests.integration.archives import packed_workers
from tests.integration.clients import UNAUTHORIZED, client_env, client_for
from tests.integration.test_errors import gif

SEVEN = ROOT / "examples" / "seven.png"
ROWS = json.loads((ROOT / "examples" / "cancer_rows.json").read_text())
SEVEN_ANSWER = {
    "label": "7",
    "probability": 0.999972,
    "top_k": [
        {"label": "7", "probability": 0.999972},
        {"label": "3", "probability": 2.8e-05},
        {"label": "2", "probability": 0.0},
    ],
}


@pytest.fixture(scope="module")
def client(server: TorchServe) -> Client:
    return client_for(server)


def test_image_from_a_path_or_bytes(client: Client) -> None:
    assert agrees(SEVEN_ANSWER, client.predict("digits", image=SEVEN)) == []
    assert agrees(SEVEN_ANSWER, client.predict("digits", image=str(SEVEN))) == []
    assert agrees(SEVEN_ANSWER, client.predict("digits", image=SEVEN.read_bytes())) == []


def test_vector_one_row_or_many(client: Client) -> None:
    rows = client.predict("cancer", vector=ROWS["inputs"])["predictions"]
    assert [row["label"] for row in rows] == ["malignant", "malignant", "benign"]
    [one] = client.predict("cancer", vector=ROWS["inputs"][2])["predictions"]
    assert one == rows[2]
    assert client.predict("cancer", document=ROWS)["predictions"] == rows


def test_vector_rows_by_name_and_a_dataframe(client: Client) -> None:
    """Rows by the archive's feature names: a dict, or a pandas DataFrame in any column
    order; a missing or unknown column is named in the server's 400."""
    expected = client.predict("cancer", vector=ROWS["inputs"])["predictions"]
    names = read_metadata(MODEL_STORE / "cancer.mar")["input"]["features"]
    records = [dict(zip(names, row, strict=True)) for row in ROWS["inputs"]]
    assert client.predict("cancer", vector=records[0])["predictions"] == expected[:1]
    table = pandas.DataFrame(records)[list(reversed(names))]  # not the model's order
    assert client.predict("cancer", vector=table)["predictions"] == expected
    renamed = table.rename(columns={names[0]: "radius"})
    with pytest.raises(BadInputError) as caught:
        client.predict("cancer", vector=renamed)
    assert caught.value.message == (
        f"row 0: features by name need exactly the model's 30; "
        f"missing [{names[0]!r}], unknown ['radius']"
    )


def test_texts_and_labels(client: Client) -> None:
    one = client.predict("minilm", text="A man is eating food.")
    assert len(one["embeddings"]) == 1 and len(one["embeddings"][0]) == 384
    assert one["truncated"] == [False]
    two = client.predict("minilm", text=["A man is eating food.", "A man is riding a horse."])
    assert two["embeddings"][0] == pytest.approx(one["embeddings"][0], abs=1e-6)
    ranked = client.predict(
        "minilm",
        text="The striker scored twice in the final minutes.",
        labels=["cooking", "football", "astronomy"],
    )
    assert [entry["label"] for entry in ranked["labels"]] == ["football", "cooking", "astronomy"]


def test_explicit_version(client: Client) -> None:
    assert agrees(SEVEN_ANSWER, client.predict("digits", image=SEVEN, version="1.0")) == []


def test_management_reads(client: Client) -> None:
    assert sorted(model["modelName"] for model in client.list_models()) == [
        "cancer",
        "digits",
        "minilm",
    ]
    [cancer] = client.describe("cancer", customized=True)
    assert cancer["modelVersion"] == "1.0"
    assert cancer["customizedMetadata"]["labels"] == ["malignant", "benign"]
    statuses = [worker["status"] for worker in cancer["workers"]]
    assert statuses == ["READY"] * packed_workers("cancer")
    assert "customizedMetadata" not in client.describe("cancer")[0]


def test_metrics_need_no_token_and_filter_by_name(client: Client) -> None:
    client.predict("cancer", vector=ROWS["inputs"][0])  # the counter exists once used
    text = client.metrics(["ts_inference_requests_total"])
    samples = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert samples and all(line.startswith("ts_inference_requests_total{") for line in samples)


def expect(error: HTTPError, status: int, type_: str, message: str) -> None:
    assert (error.status, error.type, error.message) == (status, type_, message), error


def test_bad_input_carries_the_servers_message(client: Client) -> None:
    with pytest.raises(BadInputError) as caught:
        client.predict("cancer", vector=[14.2, 20.1])
    expect(caught.value, 400, "InputError", "row 0: expected 30 features, got 2")


def test_unsupported_image_is_bad_input(client: Client) -> None:
    with pytest.raises(BadInputError) as caught:
        client.predict("digits", image=gif())
    expect(caught.value, 415, "UnsupportedMediaType", "image must be PNG or JPEG, got 'GIF'")


def test_unknown_model_and_version(client: Client) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.predict("nope", vector=[1.0])
    expect(caught.value, 404, "ModelNotFoundException", "Model not found: nope")
    with pytest.raises(NotFoundError) as caught:
        client.predict("cancer", vector=[1.0], version="9.9")
    expect(
        caught.value,
        404,
        "ModelVersionNotFoundException",
        "Model version: 9.9 does not exist for model: cancer",
    )


INVALID_KEY = (
    "Token Authorization failed. Token either incorrect, expired, or not provided correctly"
)


def test_wrong_token_is_an_auth_error_naming_its_origin(server: TorchServe) -> None:
    wrong = Client(env=client_env(server) | {"TSERVE_TOKEN": "wrong"})
    with pytest.raises(AuthError) as caught:
        wrong.predict("cancer", vector=[1.0])
    expect(caught.value, 401, "Unauthorized", UNAUTHORIZED)
    assert str(caught.value).endswith("(token: $TSERVE_TOKEN)"), caught.value


def test_no_token_found_is_an_auth_error_saying_where_it_looked(
    server: TorchServe, tmp_path: Path
) -> None:
    lost = Client(env=client_env(server) | {"TSERVE_RUN_DIR": str(tmp_path)})
    with pytest.raises(AuthError) as caught:
        lost.list_models()
    expect(caught.value, 400, "InvalidKeyException", INVALID_KEY)
    assert f"looked in $TSERVE_MANAGEMENT_TOKEN, {tmp_path / 'key_file.json'}" in str(caught.value)


def test_tokens_from_the_environment(server: TorchServe, tmp_path: Path) -> None:
    keys = server.keys()
    env = client_env(server) | {
        "TSERVE_RUN_DIR": str(tmp_path),  # no key file: the variables must be used
        "TSERVE_TOKEN": server.api_key(),
        "TSERVE_MANAGEMENT_TOKEN": keys["management"],
    }
    by_env = Client(env=env)
    assert agrees(SEVEN_ANSWER, by_env.predict("digits", image=SEVEN)) == []
    assert len(by_env.list_models()) == 3


def test_inference_token_does_not_open_management(server: TorchServe) -> None:
    crossed = Client(
        env=client_env(server) | {"TSERVE_MANAGEMENT_TOKEN": server.keys()["inference"]}
    )
    with pytest.raises(AuthError):
        crossed.list_models()


def test_nothing_listening_is_a_transport_error() -> None:
    [port] = free_ports(1)
    nowhere = Client(inference_url=f"http://127.0.0.1:{port}", env={})
    with pytest.raises(TransportError, match="cannot connect"):
        nowhere.predict("cancer", vector=[1.0])
