"""MLP over the 30 features of the Wisconsin breast-cancer data set.

The standardisation fitted at training time is kept in buffers, so it travels in the
state_dict inside the archive and is never recomputed at serve time.
"""

import torch
from torch import nn

N_FEATURES = 30
N_CLASSES = 2


class CancerNet(nn.Module):
    mean: torch.Tensor
    scale: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(N_FEATURES))
        self.register_buffer("scale", torch.ones(N_FEATURES))
        self.layers = nn.Sequential(
            nn.Linear(N_FEATURES, 32),
            nn.ReLU(),
            nn.Linear(32, N_CLASSES),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 30) raw features -> (N, 2) logits."""
        return self.layers((x - self.mean) / self.scale)
