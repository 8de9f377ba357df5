"""Handler for sentence embeddings (all-MiniLM-L6-v2): texts in, 384-dim vectors out.

Embeddings are the model card's recipe: mean of the token embeddings under the attention
mask, then L2 normalisation. With ``labels``, the labels come back ranked by cosine
similarity to the text: a zero-shot classifier on the same embeddings. Texts longer than
the model's 256 tokens are truncated (as sentence-transformers does) and flagged. On the
KServe routes: a v2 ``text`` BYTES tensor (and optional ``labels``), or v1 instances, one
text each (contracts/oip.py).
"""

from __future__ import annotations

import os
from typing import Any

import torch

from contracts import oip, text
from contracts.pooling import filled, mean_pooled
from handlers.batched_handler import BatchedHandler
from handlers.errors import InputError, PayloadTooLarge
from handlers.payload import Payload
from handlers.protocols import V2Request, element_text, output
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

    def parse_v2(self, request: V2Request) -> TextRequest:
        tensors = request.inputs
        unknown = set(tensors) - {oip.TEXT, oip.LABELS}
        if oip.TEXT not in tensors or unknown:
            raise InputError(
                f'a v2 request to this model has the input "{oip.TEXT}" (BYTES, one text per '
                f'element) and optionally "{oip.LABELS}" (BYTES); got {sorted(tensors)}'
            )
        texts = self._texts(tensors[oip.TEXT])
        document: dict[str, Any] = {text.INPUTS: texts}
        if oip.LABELS in tensors:
            if len(texts) != 1:
                raise InputError(f'"{oip.LABELS}" are ranked against one text, got {len(texts)}')
            document = {text.TEXT: texts[0], text.LABELS: self._texts(tensors[oip.LABELS])}
        return self.parse(Payload(document, "application/json"))

    @staticmethod
    def _texts(tensor: Any) -> list[str]:
        if tensor.datatype != "BYTES":
            raise InputError(f"input {tensor.name!r}: texts are BYTES, not {tensor.datatype}")
        return [element_text(item, tensor.name) for item in tensor.data]

    def parse_v1(self, instances: list[Any]) -> TextRequest:
        return self.parse(Payload({text.INPUTS: instances}, "application/json"))

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

    def answer_v1(self, outputs: dict[str, torch.Tensor], request: TextRequest) -> list[Any]:
        embeddings, truncated = outputs["embeddings"].contiguous().numpy(), outputs["truncated"]
        return [
            {"embedding": vector, "truncated": cut}
            for vector, cut in zip(embeddings, truncated.tolist(), strict=True)
        ]

    def answer_v2(
        self, outputs: dict[str, torch.Tensor], request: TextRequest
    ) -> list[dict[str, Any]]:
        answer = self.answer(outputs, request)
        if text.is_ranking(answer):
            ranked = answer["labels"]
            return [
                output(oip.LABEL, "BYTES", [1], [answer["label"]]),
                output(oip.LABELS, "BYTES", [len(ranked)], [item["label"] for item in ranked]),
                output(oip.SCORES, "FP32", [len(ranked)], [item["score"] for item in ranked]),
                output(oip.TRUNCATED, "BOOL", [1], [answer["truncated"]]),
            ]
        embeddings = outputs["embeddings"][: len(request.texts)].contiguous().numpy()
        count, dimension = embeddings.shape
        return [
            output(oip.EMBEDDINGS, "FP32", [count, dimension], embeddings.reshape(-1)),
            output(oip.TRUNCATED, "BOOL", [count], outputs["truncated"].tolist()),
        ]
