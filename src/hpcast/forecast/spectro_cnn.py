"""The spectrogram CNN: convolutions over the STFT of the last ``window`` returns, forecasting the next step."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from hpcast.errors import ConfigError
from hpcast.features.spectrogram import SpectrogramConfig
from hpcast.forecast.spec import ModelSpec

__all__ = ["SPEC", "SpectroCNNConfig"]


@dataclass(frozen=True)
class SpectroCNNConfig:
    """The STFT the network sees (``spectrogram``) and the CNN's shape."""

    kind: Literal["spectro-cnn"] = "spectro-cnn"
    spectrogram: SpectrogramConfig = field(default_factory=SpectrogramConfig)
    channels: tuple[int, ...] = (16, 32)
    lstm_hidden: int = 0  # > 0: an LSTM over the frames after the convolutions
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if self.spectrogram.n_fft < 8:
            raise ConfigError(f"n_fft ({self.spectrogram.n_fft}) must be >= 8 for the CNN's kernels")
        if len(self.channels) != 2 or any(c < 1 for c in self.channels):
            raise ConfigError(f"channels ({list(self.channels)}) must be two sizes >= 1")
        if self.lstm_hidden < 0 or not 0 <= self.dropout < 1:
            raise ConfigError(f"lstm_hidden ({self.lstm_hidden}) must be >= 0 and dropout ({self.dropout}) in [0, 1)")


SPEC = ModelSpec("spectro-cnn", SpectroCNNConfig, "hpcast.forecast.spectro:SpectroForecaster",
                 "CNN over the spectrogram of the last returns; forecasts the next step",
                 network="hpcast.models.spectro_cnn:SpectroCNN", horizon=1)
