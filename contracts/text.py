"""Sentence-embedding models (minilm): texts in; embeddings, or a zero-shot ranking, out.

The request is a text/plain body, JSON ``{"text": "..."}`` or ``{"inputs": ["...", ...]}``,
optionally with ``"labels": [...]``. Without labels the answer is ``EmbeddingAnswer``, one
unit vector per text; with labels it is ``RankingAnswer``: the labels ranked by cosine
similarity to the one text. ``truncated`` says which texts filled ``max_tokens`` and were cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict, TypeGuard

from contracts.ranking import PRECISION
from contracts.wire import Wire, json_wire

KIND = "text"
TEXT, INPUTS, LABELS = "text", "inputs", "labels"


class EmbeddingAnswer(TypedDict):
    embeddings: list[list[float]]
    truncated: list[bool]


class LabelScore(TypedDict):
    label: str
    score: float


class RankingAnswer(TypedDict):
    label: str
    labels: list[LabelScore]
    truncated: bool


class Embedding(TypedDict):
    """One text's prediction, as batch scoring records it."""

    embedding: list[float]
    truncated: bool


def document(texts: str | Sequence[str], labels: Sequence[str] | None = None) -> dict[str, Any]:
    """One text (``{"text"}``) or several (``{"inputs"}``), with ``labels`` to rank."""
    body: dict[str, Any] = {TEXT: texts} if isinstance(texts, str) else {INPUTS: list(texts)}
    return body if labels is None else body | {LABELS: list(labels)}


def request(texts: str | Sequence[str], labels: Sequence[str] | None = None) -> Wire:
    return json_wire(document(texts, labels))


def embedding_answer(embeddings: Any, truncated: Sequence[bool]) -> EmbeddingAnswer:
    """``embeddings``: one row per text, a list or a float32 array (the handler's JSON
    encoder writes an array directly, as shortest round-trip decimals)."""
    return {"embeddings": embeddings, "truncated": list(truncated)}


def ranking_answer(
    labels: Sequence[str], scores: Sequence[float], truncated: bool
) -> RankingAnswer:
    """``labels`` with their cosine similarity to the text, most similar first."""
    pairs = sorted(zip(labels, scores, strict=True), key=lambda pair: -pair[1])
    ranked: list[LabelScore] = [
        {"label": label, "score": round(score, PRECISION)} for label, score in pairs
    ]
    return {"label": ranked[0]["label"], "labels": ranked, "truncated": truncated}


def is_ranking(body: Any) -> TypeGuard[RankingAnswer]:
    """Whether ``body`` is shaped as a RankingAnswer (for rendering an unknown model's)."""
    return isinstance(body, dict) and isinstance(body.get("labels"), list)


def is_embeddings(body: Any) -> TypeGuard[EmbeddingAnswer]:
    """Whether ``body`` is shaped as an EmbeddingAnswer (for rendering an unknown model's)."""
    return isinstance(body, dict) and isinstance(body.get("embeddings"), list)


def predictions(body: EmbeddingAnswer, count: int) -> list[Embedding]:
    """Per text of a request of ``count`` texts, its embedding and truncation flag."""
    pairs = list(zip(body["embeddings"], body["truncated"], strict=True))
    if len(pairs) != count:
        raise ValueError(f"the model answered {len(pairs)} embeddings for {count} texts")
    return [{"embedding": vector, "truncated": cut} for vector, cut in pairs]


def check(body: Any, texts: int, dimension: int) -> str | None:
    """None when ``body`` is a right EmbeddingAnswer for ``texts`` texts, else what is wrong."""
    vectors = body.get("embeddings") if isinstance(body, dict) else None
    if not isinstance(vectors, list) or len(vectors) != texts:
        return f"expected {texts} embeddings, got {str(body)[:200]}"
    sizes = {len(vector) if isinstance(vector, list) else -1 for vector in vectors}
    if sizes != {dimension}:
        return f"embedding lengths {sorted(sizes)}, expected {dimension}"
    truncated = body.get("truncated")
    if not isinstance(truncated, list) or len(truncated) != texts:
        return f"expected {texts} truncated flags, got {str(truncated)[:100]}"
    return None
