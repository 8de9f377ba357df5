"""Seeded, deterministic training loop shared by the demo models."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def seed_everything(seed: int) -> None:
    """Same seed, same weights on any machine: one thread fixes the order of float sums."""
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.use_deterministic_algorithms(True)


def train_classifier(
    model: nn.Module,
    features: np.ndarray,
    labels: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
) -> nn.Module:
    """Fit ``model`` with Adam and cross-entropy; the same seed gives the same weights."""
    seed_everything(seed)
    inputs = torch.as_tensor(features, dtype=torch.float32)
    targets = torch.as_tensor(labels, dtype=torch.long)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(inputs), generator=generator).split(batch_size):
            optimizer.zero_grad()
            loss_fn(model(inputs[batch]), targets[batch]).backward()
            optimizer.step()
    return model.eval()


def accuracy(model: nn.Module, features: np.ndarray, labels: np.ndarray) -> float:
    with torch.inference_mode():
        logits = model(torch.as_tensor(features, dtype=torch.float32))
    return float((logits.argmax(dim=1).numpy() == labels).mean())
