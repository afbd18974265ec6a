"""Log-magnitude spectrograms of return windows (short-time Fourier transform), normalised without lookahead.

A sample dated t is the window of the ``window`` log-returns ending at t. `torch.stft` runs with
``center=False``, so frames cover that window only: nothing dated after t enters its spectrogram (no
padding from the future). The normaliser's per-frequency mean and spread come from training samples only.

Shapes: a batch of windows ``(B, W)`` gives spectrograms ``(B, F, T)`` with ``F = n_fft // 2 + 1``
frequency bins and ``T = 1 + (W - n_fft) // hop`` frames. Works on CPU and GPU tensors alike.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:  # torch and pandas load on use: the config (and `hpcast --help`) needs neither
    import pandas as pd
    import torch

__all__ = ["TAPERS", "SpectrogramConfig", "SpectrogramNormaliser", "Taper", "log_spectrogram", "return_windows"]

Taper = Literal["hann", "hamming", "blackman", "rect"]  # the window function applied to each frame
TAPERS: tuple[str, ...] = typing.get_args(Taper)
FLOOR = 1e-12  # added to magnitudes before the log, so a silent bin is finite


@dataclass(frozen=True)
class SpectrogramConfig:
    """Window length (returns per sample), FFT size, hop between frames and the taper applied to each frame."""

    window: int = 256
    n_fft: int = 64
    hop: int = 8
    taper: Taper = "hann"

    def __post_init__(self) -> None:
        if not 2 <= self.n_fft <= self.window:
            raise ValueError(f"n_fft ({self.n_fft}) must be in [2, window ({self.window})]")
        if self.hop < 1:
            raise ValueError(f"hop ({self.hop}) must be >= 1")
        if self.taper not in TAPERS:
            raise ValueError(f"taper ({self.taper!r}) must be one of {', '.join(TAPERS)}")

    @property
    def frequencies(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def frames(self) -> int:
        return 1 + (self.window - self.n_fft) // self.hop


def log_spectrogram(windows: torch.Tensor, config: SpectrogramConfig) -> torch.Tensor:
    """``log(|STFT| + FLOOR)`` of each window: ``(B, W) -> (B, F, T)`` (a single ``(W,)`` gives ``(F, T)``)."""
    if windows.shape[-1] != config.window:
        raise ValueError(f"windows have {windows.shape[-1]} values; the config says window={config.window}")
    import torch

    make = {"hann": torch.hann_window, "hamming": torch.hamming_window, "blackman": torch.blackman_window,
            "rect": torch.ones}[config.taper]
    taper = make(config.n_fft, dtype=windows.dtype, device=windows.device)
    spectrum = torch.stft(windows, config.n_fft, hop_length=config.hop, win_length=config.n_fft, window=taper,
                          center=False, return_complex=True)
    return torch.log(spectrum.abs() + FLOOR)


def return_windows(prices: pd.Series, window: int) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Each window of ``window`` consecutive log-returns, dated by its last return: ``(N,)``, ``(N, W)`` view."""
    values = prices.to_numpy(dtype=np.float64)
    if (values <= 0).any():
        raise ValueError("prices must be > 0 for log-returns")
    log_returns = np.diff(np.log(values))
    if len(log_returns) < window:
        raise ValueError(f"{len(values)} prices give {len(log_returns)} returns; a window needs {window}")
    return prices.index[window:], np.lib.stride_tricks.sliding_window_view(log_returns, window)


@dataclass(frozen=True)
class SpectrogramNormaliser:
    """Per-frequency mean and standard deviation over training spectrograms (all their frames)."""

    mean: np.ndarray  # (F,)
    std: np.ndarray  # (F,)

    @classmethod
    def fit(cls, spectrograms: np.ndarray | torch.Tensor) -> SpectrogramNormaliser:
        """Fit on ``(B, F, T)`` training spectrograms only (the caller picks the training span)."""
        import torch

        values = torch.as_tensor(spectrograms, dtype=torch.float64)
        if values.ndim != 3 or values.shape[0] == 0:
            raise ValueError(f"spectrograms must be (B, F, T) with B >= 1, got {tuple(values.shape)}")
        flat = values.permute(1, 0, 2).reshape(values.shape[1], -1)  # (F, B*T)
        std = flat.std(dim=1)
        return cls(flat.mean(dim=1).numpy(), torch.where(std > 0, std, torch.ones_like(std)).numpy())

    def transform(self, spectrograms: torch.Tensor) -> torch.Tensor:
        import torch

        mean = torch.as_tensor(self.mean, dtype=spectrograms.dtype, device=spectrograms.device)[:, None]
        std = torch.as_tensor(self.std, dtype=spectrograms.dtype, device=spectrograms.device)[:, None]
        return (spectrograms - mean) / std

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpectrogramNormaliser:
        return cls(np.asarray(data["mean"], dtype=np.float64), np.asarray(data["std"], dtype=np.float64))
