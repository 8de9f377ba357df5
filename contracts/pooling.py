"""Sentence embeddings from a transformer's token states: the model card's recipe for
all-MiniLM-L6-v2 (mean over the attention mask, then L2 normalisation). Shared by the
text handler and the benchmark's direct and Flask contestants, so they cannot drift.
"""

from __future__ import annotations

import torch


def mean_pooled(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """(N, tokens, D) token states -> (N, D) unit vectors, padding tokens left out."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, p=2, dim=1)


def filled(attention_mask: torch.Tensor, max_tokens: int) -> torch.Tensor:
    """Per text, whether it filled all ``max_tokens`` (so the tokenizer cut it)."""
    return attention_mask.sum(dim=1) >= max_tokens
