"""The models' contracts: request builders, answer builders and decoders, their checks."""

from __future__ import annotations

import base64
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from contracts import CONTRACTS, image, ranking, text, vector
from contracts.errors import error_body
from contracts.metadata import KINDS, MetadataError, read_metadata
from contracts.pooling import filled, mean_pooled

DIGITS = [str(digit) for digit in range(10)]
CANCER = ["malignant", "benign"]
TOP_K = 3
PNG = b"\x89PNG\r\n\x1a\n" + bytes(8)


def test_every_kind_has_a_contract() -> None:
    assert set(CONTRACTS) == set(KINDS)
    assert all(kind == CONTRACTS[kind].KIND for kind in KINDS)


def test_requests_are_built_in_each_wire_format() -> None:
    assert image.request(PNG).content_type == "image/png"
    assert image.request(b"\xff\xd8\xff\xe0").content_type == "image/jpeg"
    assert image.request(b"GIF89a").content_type == "application/octet-stream"
    assert base64.b64decode(image.json_document(PNG)["image"]) == PNG
    assert json.loads(vector.request([[1, 2], [3, 4]]).body) == {"inputs": [[1, 2], [3, 4]]}
    assert vector.document(torch.tensor([1.5, 2.5])) == {"inputs": [1.5, 2.5]}
    assert text.document("hi") == {"text": "hi"}
    assert text.document(("a", "b"), ["x"]) == {"inputs": ["a", "b"], "labels": ["x"]}
    wire = text.request(["a"])
    assert (json.loads(wire.body), wire.content_type) == ({"inputs": ["a"]}, "application/json")


def test_classification_ranks_and_rounds_once() -> None:
    assert ranking.classification(CANCER, [0.1234567, 0.8765433]) == {
        "label": "benign",
        "probability": 0.876543,
        "probabilities": {"malignant": 0.123457, "benign": 0.876543},
    }
    probabilities = [0.0] * 10
    probabilities[7], probabilities[1], probabilities[4] = 0.7, 0.2, 0.1
    answer = image.answer(DIGITS, probabilities, TOP_K)
    assert answer["label"] == "7"
    assert [entry["label"] for entry in answer["top_k"]] == ["7", "1", "4"]
    assert image.check(answer, DIGITS, TOP_K, expected="7") is None


def test_answers_unpack_to_one_prediction_per_input() -> None:
    rows = vector.answer(CANCER, [[0.9, 0.1], [0.2, 0.8]])
    assert [p["label"] for p in vector.predictions(rows, 2)] == ["malignant", "benign"]
    with pytest.raises(ValueError, match="2 predictions for 3 rows"):
        vector.predictions(rows, 3)
    embeddings = text.embedding_answer([[1.0, 0.0], [0.0, 1.0]], [False, True])
    assert text.predictions(embeddings, 2)[1] == {"embedding": [0.0, 1.0], "truncated": True}
    with pytest.raises(ValueError, match="2 embeddings for 1 texts"):
        text.predictions(embeddings, 1)
    ranked = text.ranking_answer(["a", "b"], [0.1, 0.9], truncated=False)
    assert ranked["label"] == "b" and [e["label"] for e in ranked["labels"]] == ["b", "a"]


def test_pooling_leaves_padding_out_and_flags_full_texts() -> None:
    hidden = torch.tensor([[[3.0, 4.0], [100.0, 100.0]], [[1.0, 0.0], [0.0, 1.0]]])
    mask = torch.tensor([[1, 0], [1, 1]])
    pooled = mean_pooled(hidden, mask)
    assert torch.allclose(pooled[0], torch.tensor([0.6, 0.8]))  # the padding token left out
    assert torch.allclose(pooled.norm(dim=1), torch.ones(2))
    assert filled(mask, max_tokens=2).tolist() == [False, True]


def test_error_body_is_torchserves_shape() -> None:
    assert error_body(413, "PayloadTooLarge", "too big") == {
        "code": 413,
        "type": "PayloadTooLarge",
        "message": "too big",
    }


def archive_with(tmp_path: Path, metadata: Any) -> Path:
    path = tmp_path / "model.mar"
    with zipfile.ZipFile(path, "w") as mar:
        mar.writestr("metadata.json", json.dumps(metadata))
    return path


def test_metadata_names_its_kind(tmp_path: Path) -> None:
    metadata = {"kind": "vector", "labels": CANCER}
    assert read_metadata(archive_with(tmp_path, metadata)) == metadata
    with pytest.raises(MetadataError, match="make archive"):
        read_metadata(archive_with(tmp_path, {"labels": CANCER}))
    with zipfile.ZipFile(tmp_path / "empty.mar", "w") as mar:
        mar.writestr("other.txt", "")
    with pytest.raises(MetadataError, match=r"no metadata\.json"):
        read_metadata(tmp_path / "empty.mar")


SEVEN: dict[str, Any] = {
    "label": "7",
    "probability": 0.99,
    "top_k": [{"label": "7"}, {"label": "3"}, {"label": "2"}],
}


def test_a_right_digit_answer_passes() -> None:
    assert image.check(SEVEN, DIGITS, TOP_K, expected="7") is None


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({"label": "x"}, "no known label"),
        (SEVEN | {"label": "1"}, "label '1', expected '7'"),
        (SEVEN | {"top_k": SEVEN["top_k"][:2]}, "top_k should list 3 labels"),
        (
            SEVEN | {"top_k": [{"label": "7"}, {"label": "3"}, {"label": "b"}]},
            "outside the model's labels",
        ),
        ([], "no known label"),
    ],
)
def test_a_wrong_digit_answer_is_named(answer: Any, problem: str) -> None:
    assert problem in (image.check(answer, DIGITS, TOP_K, expected="7") or "")


def test_cancer_answers_need_one_known_label_per_row() -> None:
    rows = {"predictions": [{"label": "benign"}, {"label": "malignant"}]}
    assert vector.check(rows, CANCER, rows=2) is None
    assert "expected 3 predictions" in (vector.check(rows, CANCER, rows=3) or "")
    odd = {"predictions": [{"label": "benign"}, {"label": "cat"}]}
    assert "labels not in" in (vector.check(odd, CANCER, rows=2) or "")


def test_embeddings_need_one_384_vector_and_flag_per_text() -> None:
    good = {"embeddings": [[0.0] * 384, [0.1] * 384], "truncated": [False, False]}
    assert text.check(good, texts=2, dimension=384) is None
    assert "expected 3 embeddings" in (text.check(good, texts=3, dimension=384) or "")
    short = good | {"embeddings": [[0.0] * 384, [0.1] * 383]}
    assert text.check(short, texts=2, dimension=384) == "embedding lengths [383, 384], expected 384"
    assert "truncated flags" in (
        text.check(good | {"truncated": [False]}, texts=2, dimension=384) or ""
    )


class Table:
    """A DataFrame's duck type (pandas is not a runtime dependency): columns and records."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records
        self.columns = list(records[0])

    def to_dict(self, orient: str) -> list[dict[str, Any]]:
        assert orient == "records", orient
        return self.records


def test_rows_by_name_are_sent_by_name() -> None:
    """A mapping is one row by name, a table one row per record; the handler orders the
    features and names missing or unknown ones (tests/integration/test_client.py)."""
    row = {"b": np.float64(2.5), "a": np.int64(1)}
    assert vector.document(row) == {"inputs": {"b": 2.5, "a": 1}}
    assert vector.document([row, {"a": 3}]) == {"inputs": [{"b": 2.5, "a": 1}, {"a": 3}]}
    sent = json.loads(vector.request(Table([row, {"b": 4.0, "a": np.int64(5)}])).body)
    assert sent == {"inputs": [{"b": 2.5, "a": 1}, {"b": 4.0, "a": 5}]}
    assert type(sent["inputs"][0]["a"]) is int
