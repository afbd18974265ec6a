"""The same network in PyTorch (``nn.LSTM`` per layer + ``nn.Linear``), fed from the shared ``theta``.

Used as the independent reference in tests (autograd instead of hand-written BPTT) and as ``--impl torch``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from hpcast.models.scratch.params import Layout, from_torch, to_torch

__all__ = ["TorchLSTM"]


class TorchLSTM(nn.Module):
    """``(B, T, F) -> (B, O)`` with weights copied from ``theta`` on every call."""

    def __init__(self, layout: Layout, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        self.layout = layout
        sizes = (layout.input_size, *layout.hidden)
        self.lstm = nn.ModuleList(nn.LSTM(sizes[k], sizes[k + 1], batch_first=True) for k in range(layout.layers))
        self.head = nn.Linear(layout.hidden[-1], layout.output_size)
        self.to(dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for lstm in self.lstm:
            x, _ = lstm(x)  # (B, T, H_l)
        return self.head(x[:, -1])  # (B, O)

    def load_theta(self, theta: np.ndarray) -> None:
        with torch.no_grad():
            for name, value in to_torch(theta, self.layout).items():
                self.get_parameter(name).copy_(value)

    def predict(self, theta: np.ndarray, X: np.ndarray) -> np.ndarray:
        self.load_theta(theta)
        with torch.no_grad():
            return self(torch.from_numpy(X)).numpy()

    def loss_and_grad(self, theta: np.ndarray, X: np.ndarray, Y: np.ndarray,
                      loss: str = "mse") -> tuple[float, np.ndarray]:
        self.load_theta(theta)
        self.zero_grad(set_to_none=False)
        y = self(torch.from_numpy(X))
        target = torch.from_numpy(Y)
        if loss == "mse":
            value = nn.functional.mse_loss(y, target)
        elif loss == "ce":
            value = nn.functional.cross_entropy(y, target.argmax(dim=1))
        else:
            raise ValueError(f"loss ({loss!r}) must be 'mse' or 'ce'")
        value.backward()
        grads = {name: p.grad for name, p in self.named_parameters()}
        return value.item(), from_torch(grads, self.layout).astype(theta.dtype)
