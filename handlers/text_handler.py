"""Handler for sentence embeddings (all-MiniLM-L6-v2): texts in, 384-dim vectors out.

Embeddings are the model card's recipe: mean of the token embeddings under the attention
mask, then L2 normalisation. With ``labels``, the labels come back ranked by cosine
similarity to the text: a zero-shot classifier on the same embeddings. Texts longer than
the model's 256 tokens are truncated (as sentence-transformers does) and flagged.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from contracts import text
from contracts.pooling import filled, mean_pooled
from handlers.batched_handler import BatchedHandler
from handlers.errors import PayloadTooLarge
from handlers.payload import Payload
from handlers.text_parsing import TextRequest, text_request

# Everything the model needs is inside the archive: never reach for the hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# The fast tokenizer's own thread pool would fight the worker's torch thread and the other
# workers for the same cores (measured: docs/load-and-bench.md "Model settings
# measurements"). Set before the tokenizer first runs; the caller's setting wins.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from transformers import AutoModel, AutoTokenizer

MODEL_FOLDER = "minilm"  # inside the archive: weights, config and tokenizer
# Tokens one request may bring (texts and labels, each cut at the model's 256): the model
# takes ~0.11 s per full 256-token text on one thread here, so 2,048 hold a worker ~1 s.
MAX_TOKENS_PER_REQUEST = 2048
SPECIAL_TOKENS = 2  # [CLS] and [SEP] around every text


class TextHandler(BatchedHandler):
    def load_model(self, context: Any) -> None:
        folder = os.path.join(context.system_properties["model_dir"], MODEL_FOLDER)
        self.device = torch.device("cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self.model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
        self.max_tokens = int(self.metadata["max_tokens"])

    def parse(self, payload: Payload) -> TextRequest:
        request = text_request(payload)
        self._check_tokens(request.rows)
        return request

    def _check_tokens(self, texts: list[str]) -> None:
        """Refuse a request whose texts make more than MAX_TOKENS_PER_REQUEST tokens.

        A WordPiece token covers at least one character, so a request whose characters
        cannot reach the budget is not tokenized here (nearly every request).
        """
        cap = self.max_tokens
        bound = sum(min(len(text) + SPECIAL_TOKENS, cap) for text in texts)
        if bound <= MAX_TOKENS_PER_REQUEST:
            return
        ids = self.tokenizer(texts, truncation=True, max_length=cap)["input_ids"]
        tokens = sum(map(len, ids))
        if tokens > MAX_TOKENS_PER_REQUEST:
            raise PayloadTooLarge(
                f"texts make {tokens:,} tokens (each cut at {cap}), "
                f"at most {MAX_TOKENS_PER_REQUEST:,} per request"
            )

    def rows_of(self, request: TextRequest) -> list[str]:
        return request.rows

    def forward(self, parts: list[Any]) -> dict[str, torch.Tensor]:
        """Per text: its embedding, and whether it filled max_tokens (was cut), so truncation
        is reported without tokenizing anything twice."""
        texts = [text for part in parts for text in part]
        tokens = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_tokens, return_tensors="pt"
        )
        hidden = self.model(**tokens).last_hidden_state
        return {
            "embeddings": mean_pooled(hidden, tokens["attention_mask"]),
            "truncated": filled(tokens["attention_mask"], self.max_tokens),
        }

    def answer(
        self, outputs: dict[str, torch.Tensor], request: TextRequest
    ) -> text.EmbeddingAnswer | text.RankingAnswer:
        embeddings, truncated = outputs["embeddings"], outputs["truncated"]
        count = len(request.texts)
        if request.labels is None:
            # A float32 array: the JSON encoder writes it with no per-number Python work.
            return text.embedding_answer(embeddings.contiguous().numpy(), truncated.tolist())
        scores = (embeddings[count:] @ embeddings[0]).tolist()
        return text.ranking_answer(request.labels, scores, bool(truncated[0]))
