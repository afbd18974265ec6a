"""Typed, frozen configuration: one dataclass per component, composed into `RunConfig`.

Loaded from TOML or dicts (unknown keys rejected), overridden from the CLI, and saved resolved into every
artifact and run folder. Deliberately free of torch imports so the CLI starts instantly.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = ["BacktestConfig", "ConfigError", "ModelConfig", "RunConfig", "SpectroConfig", "TrainConfig",
           "default_horizon", "default_window", "from_dict", "load_toml", "to_dict"]

Target = Literal["log_return", "level"]
Loss = Literal["mse", "mae", "huber"]
Init = Literal["keras", "torch"]
Kernels = Literal["auto", "torch", "triton"]
Device = Literal["auto", "cpu", "cuda"]
Architecture = Literal["lstm", "spectro-cnn"]
Taper = Literal["hann", "hamming", "blackman", "rect"]
Targets = Literal["all", "last"]
Precision = Literal["auto", "bf16", "fp32"]
Schedule = Literal["one-cycle", "constant"]

# Sensible per-frequency defaults: one trading month ahead for daily data, a year for monthly data, ...
_HORIZON = {"B": 30, "D": 30, "3D": 10, "W": 13, "MS": 12, "ME": 12, "QS": 8, "QE": 8, "YS": 3}
_WINDOW = {"B": 60, "D": 60, "3D": 40, "W": 52, "MS": 24, "ME": 24, "QS": 16, "QE": 16, "YS": 8}


class ConfigError(ValueError):
    """A configuration value breaks a rule; the message names the key, the value and the rule."""


def default_horizon(freq: str) -> int:
    return _HORIZON[freq]


def default_window(freq: str) -> int:
    return _WINDOW[freq]


@dataclass(frozen=True)
class ModelConfig:
    """Stacked LSTM: one hidden size and one dropout rate per layer, then a linear head.

    The defaults (one layer of 64, dropout 0.1, with `TrainConfig`'s lr 1e-2) won
    ``benchmarks/defaults_sweep.py`` on AirPassengers folds that end before the folds the README reports;
    see README "Choosing the defaults". The seed study's 50-60-80-120 stack is a flag away.
    """

    layers: tuple[int, ...] = (64,)
    dropout: tuple[float, ...] = (0.1,)
    init: Init = "keras"

    def __post_init__(self) -> None:
        if not self.layers or any(size < 1 for size in self.layers):
            raise ConfigError(f"layers ({list(self.layers)}) must be one or more hidden sizes >= 1")
        if len(self.dropout) != len(self.layers):
            raise ConfigError(f"dropout ({list(self.dropout)}) must give one rate per layer "
                              f"({len(self.layers)} layers)")
        if any(not 0 <= rate < 1 for rate in self.dropout):
            raise ConfigError(f"dropout ({list(self.dropout)}) rates must be in [0, 1)")


@dataclass(frozen=True)
class SpectroConfig:
    """The spectrogram model: STFT settings (``window`` returns per sample) and the CNN's shape."""

    window: int = 256
    n_fft: int = 64
    hop: int = 8
    taper: Taper = "hann"
    channels: tuple[int, ...] = (16, 32)
    lstm_hidden: int = 0  # > 0: an LSTM over the frames after the convolutions
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if not 8 <= self.n_fft <= self.window or self.hop < 1:
            raise ConfigError(f"n_fft ({self.n_fft}) must be in [8, window ({self.window})] and hop ({self.hop}) "
                              ">= 1")
        if len(self.channels) != 2 or any(c < 1 for c in self.channels):
            raise ConfigError(f"channels ({list(self.channels)}) must be two sizes >= 1")
        if self.lstm_hidden < 0 or not 0 <= self.dropout < 1:
            raise ConfigError(f"lstm_hidden ({self.lstm_hidden}) must be >= 0 and dropout ({self.dropout}) in [0, 1)")


@dataclass(frozen=True)
class TrainConfig:
    """Adam on a time-ordered split; early stopping on validation loss; seeded.

    The recipe (README "Training engine"): three levers that reach a given validation loss sooner without
    changing what the model computes at prediction time, each with an off switch:
    ``targets="last"`` (one target per window, every window), ``precision="fp32"``, ``schedule="constant"``.
    Validation is always the last step of every validation window, in float32, whatever the recipe.
    """

    epochs: int = 100
    batch_size: int = 64
    lr: float = 1e-2  # the peak under one-cycle; chosen by benchmarks/defaults_sweep.py
    loss: Loss = "mse"
    patience: int = 10
    clip_norm: float = 1.0
    val_fraction: float = 0.2  # the last windows, held out from training
    calibration_fraction: float = 0.5  # the later part of the held-out windows: intervals, never early stopping
    seed: int = 0
    kernels: Kernels = "auto"  # Triton LSTM layers and MSE on CUDA tensors ("auto"), never, or always
    device: Device = "auto"  # "auto": the GPU when torch sees one, else the CPU
    # DataLoader settings, used when samples are read from disk (the spectrogram model's datasets)
    loader_workers: int = 0
    pin_memory: bool = False
    prefetch: int = 2  # batches each worker reads ahead
    persistent_workers: bool = False
    # The recipe. "all": the LSTM predicts at every step of a window and the loss counts every step after
    # the first `warmup` fraction of it; windows start every `stride` steps (0: window // 10), since
    # neighbouring windows would repeat the same targets. "last": only the window's end, every window.
    targets: Targets = "all"
    warmup: float = 0.2
    stride: int = 0
    precision: Precision = "auto"  # "auto": bf16 autocast on GPUs with native bf16, float32 on CPUs
    schedule: Schedule = "one-cycle"  # lr warms up to `lr` and anneals towards 0 by the last epoch

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} ({getattr(self, name)}) must be >= 1")
        if self.lr <= 0:
            raise ConfigError(f"lr ({self.lr}) must be > 0")
        if not 0 < self.val_fraction < 1:
            raise ConfigError(f"val_fraction ({self.val_fraction}) must be in (0, 1)")
        if not 0 < self.calibration_fraction < 1:
            raise ConfigError(f"calibration_fraction ({self.calibration_fraction}) must be in (0, 1)")
        if self.patience < 1:
            raise ConfigError(f"patience ({self.patience}) must be >= 1")
        if not 0 <= self.warmup < 1 or self.stride < 0:
            raise ConfigError(f"warmup ({self.warmup}) must be in [0, 1) and stride ({self.stride}) >= 0")
        if self.loader_workers < 0 or self.prefetch < 1:
            raise ConfigError(f"loader_workers ({self.loader_workers}) must be >= 0 and prefetch "
                              f"({self.prefetch}) >= 1")


@dataclass(frozen=True)
class BacktestConfig:
    """Walk-forward folds over the last ``test_size`` points, one every ``step`` points (default = horizon)."""

    test_size: int | None = None
    step: int | None = None

    def __post_init__(self) -> None:
        for name in ("test_size", "step"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} ({value}) must be >= 1")


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs besides the data. ``None`` window/horizon mean 'pick for the frequency'."""

    window: int | None = None
    horizon: int | None = None
    target: Target = "log_return"
    interval_levels: tuple[float, ...] = (0.8, 0.95)
    architecture: Architecture = "lstm"
    model: ModelConfig = field(default_factory=ModelConfig)
    spectro: SpectroConfig = field(default_factory=SpectroConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    backtest: BacktestConfig = field(default_factory=BacktestConfig)

    def __post_init__(self) -> None:
        for name in ("window", "horizon"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} ({value}) must be >= 1")
        if any(not 0 < level < 1 for level in self.interval_levels):
            raise ConfigError(f"interval_levels ({list(self.interval_levels)}) must be in (0, 1)")

    def resolved(self, freq: str) -> RunConfig:
        """Fill frequency-dependent defaults so the saved config says exactly what ran."""
        if self.architecture == "spectro-cnn" and self.horizon not in (None, 1):
            raise ConfigError(f"horizon ({self.horizon}) must be 1 for spectro-cnn: it predicts the next step")
        if self.architecture == "spectro-cnn":
            return dataclasses.replace(self, window=self.window or default_window(freq), horizon=1)
        return dataclasses.replace(self, window=self.window or default_window(freq),
                                   horizon=self.horizon or default_horizon(freq))


def to_dict(config: Any) -> dict[str, Any]:
    """A JSON/TOML-ready dict (tuples become lists)."""
    return json_ready(dataclasses.asdict(config))


def json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    return value


def _coerce(kind: Any, value: Any, key: str) -> Any:
    if dataclasses.is_dataclass(kind):
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a table of settings, got {value!r}")
        return from_dict(kind, value, prefix=f"{key}.")
    origin = typing.get_origin(kind)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key} ({value!r}) must be a list")
        return tuple(_coerce(typing.get_args(kind)[0], item, key) for item in value)
    if origin is Literal:
        if value not in typing.get_args(kind):
            raise ConfigError(f"{key} ({value!r}) must be one of {list(typing.get_args(kind))}")
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        return _coerce(next(arg for arg in typing.get_args(kind) if arg is not type(None)), value, key)
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is bool and isinstance(value, bool):
        return value
    raise ConfigError(f"{key} ({value!r}) must be of type {getattr(kind, '__name__', kind)}")


def from_dict(cls: type, data: dict[str, Any], prefix: str = "") -> Any:
    """Build a config dataclass from a dict, rejecting unknown keys and wrong types by name."""
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(prefix + k for k in unknown)}; "
                          f"known: {', '.join(sorted(prefix + k for k in known))}")
    return cls(**{key: _coerce(hints[key], value, prefix + key) for key, value in data.items()})


def load_toml(path: str | Path) -> RunConfig:
    """Read a `RunConfig` from TOML (top-level keys plus [model], [train], [backtest] tables)."""
    with open(path, "rb") as handle:
        return from_dict(RunConfig, tomllib.load(handle))
