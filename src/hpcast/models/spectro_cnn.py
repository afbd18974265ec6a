"""A small CNN over a return spectrogram, optionally followed by an LSTM over its time frames.

Input ``(B, F, T)`` (frequency bins by frames, see `hpcast.features.spectrogram`); output ``(B, 1)``:
the next-day log return in the target's scaled units (its sign is the predicted direction).

Layers: two 3x3 convolutions (``channels``), each with a ReLU and a 2x pooling over frequency
only (frames keep their time resolution), dropout, then either the mean over frames (``lstm_hidden=0``) or
an LSTM over the frames whose last hidden state is used, and a linear head.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SpectroCNN"]


class SpectroCNN(nn.Module):
    """``(B, F, T) -> (B, 1)``; see the module docstring."""

    def __init__(self, frequencies: int, frames: int, channels: tuple[int, int] = (16, 32), lstm_hidden: int = 0,
                 dropout: float = 0.1) -> None:
        super().__init__()
        if frequencies < 4 or frames < 1:
            raise ValueError(f"a spectrogram of {frequencies} bins x {frames} frames is too small (need >= 4 bins)")
        first, second = channels
        self.features = nn.Sequential(
            nn.Conv2d(1, first, 3, padding=1), nn.ReLU(), nn.MaxPool2d((2, 1)),
            nn.Conv2d(first, second, 3, padding=1), nn.ReLU(), nn.MaxPool2d((2, 1)),
            nn.Dropout(dropout))
        width = second * (frequencies // 4)  # features per frame after two 2x poolings over frequency
        self.lstm = nn.LSTM(width, lstm_hidden, batch_first=True) if lstm_hidden > 0 else None
        self.head = nn.Linear(lstm_hidden or width, 1)
        self.shape = (frequencies, frames)

    def forward(self, spectrograms: torch.Tensor) -> torch.Tensor:
        B = spectrograms.shape[0]
        maps = self.features(spectrograms[:, None])  # (B, C, F/4, T)
        per_frame = maps.permute(0, 3, 1, 2).reshape(B, maps.shape[3], -1)  # (B, T, C*F/4)
        # The mean over frames, or the LSTM's hidden state after the last frame.
        summary = per_frame.mean(dim=1) if self.lstm is None else self.lstm(per_frame)[0][:, -1]
        return self.head(summary)
