"""Build the ``cancer`` model: an MLP on scikit-learn's bundled breast-cancer data set."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from torch import nn

from models.cancer_net import CancerNet
from models.training import accuracy, seed_everything, train_classifier

SEED = 7
TEST_FRACTION = 0.2


def held_out_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train rows, test rows, train labels, test labels): the split the tests reuse."""
    data = load_breast_cancer()
    return train_test_split(
        data.data, data.target, test_size=TEST_FRACTION, random_state=SEED, stratify=data.target
    )


def build() -> tuple[nn.Module, dict[str, Any]]:
    """Train the model; return it with the metadata the handler serves."""
    seed_everything(SEED)  # before the model exists: its initial weights are seeded too
    data = load_breast_cancer()
    train_rows, test_rows, train_labels, test_labels = held_out_split()
    model = CancerNet()
    # The scaling is fitted on the training rows only and stored in the model's buffers.
    model.mean.copy_(torch.as_tensor(train_rows.mean(axis=0), dtype=torch.float32))
    model.scale.copy_(torch.as_tensor(train_rows.std(axis=0) + 1e-8, dtype=torch.float32))
    train_classifier(
        model, train_rows, train_labels, epochs=200, batch_size=64, learning_rate=1e-3, seed=SEED
    )
    held_out = accuracy(model, test_rows, test_labels)
    metadata = {
        "task": "tabular classification: is a breast mass malignant or benign",
        "dataset": "scikit-learn load_breast_cancer (Wisconsin diagnostic breast cancer)",
        "labels": [str(name) for name in data.target_names],
        "input": {
            "features": [str(name) for name in data.feature_names],
            "encodings": ['JSON {"inputs": [30 numbers]}', 'JSON {"inputs": [[...], ...]}'],
            "note": "raw measurements in the units of the data set; the model scales them",
        },
        "accuracy": {"held_out": round(held_out, 4), "test_samples": len(test_labels)},
    }
    return model, metadata
