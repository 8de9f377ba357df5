"""The minilm model over HTTP: every input form, parity with sentence-transformers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from models.minilm import source_dir
from tests.integration.conftest import Api

SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "A man is riding a horse.",
]


@pytest.fixture(scope="module")
def reference() -> SentenceTransformer:
    """The independent implementation, from the same weights, offline."""
    return SentenceTransformer(str(source_dir()), device="cpu", local_files_only=True)


def embeddings(api: Api, texts: list[str]) -> np.ndarray:
    response = api.predict_json("minilm", {"inputs": texts})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["truncated"] == [False] * len(texts)
    return np.array(body["embeddings"])


def test_embeddings_match_sentence_transformers(api: Api, reference: SentenceTransformer) -> None:
    texts = [*SENTENCES, "Short.", "A somewhat longer sentence, with punctuation; and more words!"]
    served = embeddings(api, texts)
    expected = reference.encode(texts, normalize_embeddings=True)
    assert served.shape == (len(texts), 384)
    assert np.abs(served - expected).max() < 1e-4


def test_eating_is_closer_to_bread_than_to_horse(api: Api) -> None:
    food, bread, horse = embeddings(api, SENTENCES)
    assert food @ bread > food @ horse, (food @ bread, food @ horse)


def test_plain_text_json_text_and_multipart_agree(api: Api) -> None:
    plain = api.predict(
        "minilm", data=SENTENCES[0].encode(), headers={"Content-Type": "text/plain"}
    )
    single = api.predict_json("minilm", {"text": SENTENCES[0]})
    multipart = api.predict(
        "minilm", files={"data": ("s.txt", SENTENCES[0].encode(), "text/plain")}
    )
    bodies = [response.json() for response in (plain, single, multipart)]
    assert [r.status_code for r in (plain, single, multipart)] == [200, 200, 200], bodies
    vectors = [np.array(body["embeddings"][0]) for body in bodies]
    assert np.abs(vectors[0] - vectors[1]).max() < 1e-5
    assert np.abs(vectors[0] - vectors[2]).max() < 1e-5


def test_order_is_kept(api: Api) -> None:
    forward = embeddings(api, SENTENCES)
    backward = embeddings(api, SENTENCES[::-1])
    assert np.abs(forward - backward[::-1]).max() < 1e-5


def test_labels_are_ranked_by_similarity(api: Api) -> None:
    document = {
        "text": "The striker scored twice in the final minutes of the match.",
        "labels": ["cooking", "football", "astronomy"],
    }
    response = api.predict_json("minilm", document)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["label"] == "football"
    scores = [entry["score"] for entry in body["labels"]]
    assert scores == sorted(scores, reverse=True) and len(scores) == 3


def test_long_text_is_truncated_at_256_tokens_and_flagged(api: Api) -> None:
    words = " ".join(f"word{i}" for i in range(400))
    response = api.predict_json("minilm", {"inputs": [words, words + " extra tail"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["truncated"] == [True, True]
    first, second = (np.array(v) for v in body["embeddings"])
    assert np.abs(first - second).max() < 1e-5, "text past the 256th token is not read"


@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        ({"json": {"text": ""}}, 400, "text is empty"),
        ({"json": {"inputs": ["ok", 1]}}, 400, "inputs[1] must be a string, got int"),
        (
            {"json": {"sentence": "x"}},
            400,
            'JSON input must be {"text": "..."}, {"inputs": '
            '["...", ...]} or {"text": "...", "labels": ["...", ...]}',
        ),
        ({"json": {"inputs": ["x"] * 65}}, 413, "too many inputs: 65, at most 64 per request"),
        ({"json": {"text": "x" * 20_001}}, 413, "text has 20,001 characters, at most 20,000"),
    ],
)
def test_bad_text(api: Api, kwargs: dict[str, Any], status: int, message: str) -> None:
    response = api.predict("minilm", **kwargs)
    assert response.status_code == status, response.text
    assert response.json()["message"] == message


def test_non_utf8_bytes(api: Api) -> None:
    response = api.predict("minilm", data=b"caf\xe9", headers={"Content-Type": "text/plain"})
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith("text is not valid UTF-8")
