"""Build the ``digits`` model: a CNN on scikit-learn's bundled 8x8 handwritten digits.

Each training scan is drawn dark-on-light at 32x32 (two upscaling styles) and goes through
the same ``ink_from_gray`` + ``ink_to_grid`` steps as an uploaded image, so serving sees the
distribution the model was trained on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from handlers.digit_features import ink_from_gray, ink_to_grid
from models.digits_net import DigitsNet
from models.training import accuracy, seed_everything, train_classifier

SEED = 7
TEST_FRACTION = 0.2
UPSCALE = 4  # 8x8 scans become 32x32 before framing, like a real image would be


def upscaled(scan: np.ndarray, resample: Image.Resampling) -> np.ndarray:
    """An 8x8 scan (values 0..16) as a 32x32 ink image in [0, 1]."""
    image = Image.fromarray((scan / 16.0).astype(np.float32), mode="F")
    return np.asarray(image.resize((8 * UPSCALE, 8 * UPSCALE), resample))


def framed(scans: np.ndarray, resample: Image.Resampling) -> np.ndarray:
    """Scans (N, 8, 8) -> model inputs (N, 1, 8, 8), processed as the handler processes images."""
    papers = (1.0 - np.clip(upscaled(scan, resample), 0.0, 1.0) for scan in scans)
    grids = [ink_to_grid(ink_from_gray(paper)) for paper in papers]
    return np.stack(grids)[:, None].astype(np.float32)


def held_out_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train scans, test scans, train labels, test labels): the split the tests reuse."""
    digits = load_digits()
    return train_test_split(
        digits.images,
        digits.target,
        test_size=TEST_FRACTION,
        random_state=SEED,
        stratify=digits.target,
    )


def build() -> tuple[nn.Module, dict[str, Any]]:
    """Train the model; return it with the metadata the handler serves."""
    seed_everything(SEED)  # before the model exists: its initial weights are seeded too
    train_scans, test_scans, train_labels, test_labels = held_out_split()
    styles = (Image.Resampling.NEAREST, Image.Resampling.BILINEAR)
    features = np.concatenate([framed(train_scans, style) for style in styles])
    labels = np.concatenate([train_labels] * len(styles))
    model = train_classifier(
        DigitsNet(), features, labels, epochs=30, batch_size=64, learning_rate=1e-3, seed=SEED
    )
    held_out = accuracy(model, framed(test_scans, Image.Resampling.NEAREST), test_labels)
    metadata = {
        "task": "image classification: one handwritten digit per image",
        "dataset": "scikit-learn load_digits (UCI optical recognition of handwritten digits)",
        "labels": [str(d) for d in range(10)],
        "input": {
            "formats": ["PNG", "JPEG"],
            "encodings": ["raw body", "multipart field 'data'", 'JSON {"image": "<base64>"}'],
            "note": "any size and mode; dark-on-light and light-on-dark both work",
        },
        "accuracy": {"held_out": round(held_out, 4), "test_samples": len(test_labels)},
    }
    return model, metadata
