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

from hpcast.errors import ConfigError

__all__ = ["BacktestConfig", "ConfigError", "DistributedConfig", "ModelSettings", "RunConfig", "TrainConfig",
           "configure", "default_horizon", "default_window", "from_dict", "load_toml", "to_dict"]

Target = Literal["log_return", "level"]
Loss = Literal["mse", "mae", "huber"]
Kernels = Literal["auto", "torch", "triton"]
Device = Literal["auto", "cpu", "cuda"]
Strategy = Literal["ddp", "local-sgd", "store-avg"]
SeriesWeights = Literal["length", "equal"]
Scope = Literal["global", "per-series"]
Targets = Literal["all", "last"]
Precision = Literal["auto", "bf16", "fp32"]
Schedule = Literal["one-cycle", "constant"]
Fleet = Literal["auto", "on", "off"]

# Sensible per-frequency defaults: one trading month ahead for daily data, a year for monthly data, ...
_HORIZON = {"B": 30, "D": 30, "3D": 10, "W": 13, "MS": 12, "ME": 12, "QS": 8, "QE": 8, "YS": 3}
_WINDOW = {"B": 60, "D": 60, "3D": 40, "W": 52, "MS": 24, "ME": 24, "QS": 16, "QE": 16, "YS": 8}


def _whole_percent(level: float) -> bool:
    return abs(level * 100 - round(level * 100)) < 1e-6


def default_horizon(freq: str) -> int:
    return _HORIZON[freq]


def default_window(freq: str) -> int:
    return _WINDOW[freq]


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
    # A seed ensemble (recurrent models): `ensemble` networks from seeds seed, seed+1, ...; their mean is the
    # forecast, their spread a column of its own, the bands calibrated on the mean (hpcast.forecast.ensemble)
    ensemble: int = 1
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
    # A panel's windows per epoch: every window once (length: long series weigh more), or as many drawn
    # from each series, with replacement (equal)
    series_weights: SeriesWeights = "length"
    # Many networks of one shape (folds, ensemble members, trials) trained K at a time in one fused run
    # (hpcast.train.many): on CUDA devices ("auto", where it pays), on any device ("on"), or never
    fleet: Fleet = "auto"

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "ensemble"):
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
    """Walk-forward folds over the last ``test_size`` dates, one every ``step`` dates (default = horizon).

    ``scope``: on a panel, refit each network as one global model over every series, or one per series.
    ``refit_every``: refit the models at every K-th fold origin only, forecasting from the origins between
    with the latest fit and the history up to each origin (None: refit at every origin). ``var``: VaR levels
    to backtest on the one-step forecasts (0.99: the 1% quantile, the lower edge of the 98% band).
    ``adaptive``: with one-step forecasts, add each banded model again as ``<model>+aci``, its bands adapted
    online by adaptive conformal inference (`hpcast.forecast.calibration.adaptive_conformal`) from the hits
    of the origins before each one.
    """

    test_size: int | None = None
    step: int | None = None
    scope: Scope = "global"
    refit_every: int | None = None
    var: tuple[float, ...] = ()
    adaptive: float = 0.0  # > 0: also each banded model's bands adapted online (ACI) with this step size

    def __post_init__(self) -> None:
        for name in ("test_size", "step", "refit_every"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} ({value}) must be >= 1")
        if not 0 <= self.adaptive < 1:
            raise ConfigError(f"adaptive ({self.adaptive}) must be in [0, 1): the ACI step size (0: off), e.g. 0.005")
        for level in self.var:
            if not 0.5 < level < 1 or not _whole_percent(2 * level - 1):
                raise ConfigError(f"var ({level}) must be in (0.5, 1), a lower tail whose central band is a whole "
                                  "percent: 0.95, 0.975, 0.99 or 0.995 (the 1% quantile is 0.99's)")

    def band_levels(self) -> tuple[float, ...]:
        """The central band levels whose lower edges are the ``var`` quantiles: 0.99 -> 0.98."""
        return tuple(round(2 * level - 1, 6) for level in self.var)


@dataclass(frozen=True)
class DistributedConfig:
    """Training in several processes through torchrun (README "Distributed training")."""

    workers: int = 1  # processes on this machine
    strategy: Strategy = "ddp"  # gradients every step; parameters every sync_every steps; checkpoints via a store
    sync_every: int | None = None  # steps (local-sgd) or epochs (store-avg) between averaging; None: 8 / 5
    sync_url: str | None = None  # store-avg: where workers meet (file:///dir, s3://bucket/prefix)
    sync_timeout: float = 120.0  # store-avg: seconds to wait for the other workers' checkpoints
    max_restarts: int = 0  # restarts torchrun may make after a worker dies (the group resumes)

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ConfigError(f"workers ({self.workers}) must be >= 1")
        if self.max_restarts < 0:
            raise ConfigError(f"max_restarts ({self.max_restarts}) must be >= 0")
        if self.sync_every is not None and self.sync_every < 1:
            raise ConfigError(f"sync_every ({self.sync_every}) must be >= 1")
        if self.sync_timeout <= 0:
            raise ConfigError(f"sync_timeout ({self.sync_timeout}) must be > 0")


class ModelSettings(typing.Protocol):
    """One model's settings: a frozen dataclass whose ``kind`` names its row in `hpcast.forecast.MODELS`."""

    kind: str


def _default_model() -> ModelSettings:
    from hpcast.forecast.table import model_spec  # pure data: the one upward import (docs/architecture.md)

    return model_spec("lstm").config()


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs besides the data. ``None`` window/horizon mean 'pick for the frequency'.

    ``model`` holds exactly one model's settings, tagged by its ``kind`` (``[model] kind = "gru"`` in TOML;
    default the LSTM); `hpcast.forecast.MODELS` says which settings each kind has.
    """

    window: int | None = None
    horizon: int | None = None
    target: Target = "log_return"
    interval_levels: tuple[float, ...] = (0.8, 0.95)
    model: ModelSettings = field(default_factory=_default_model)
    train: TrainConfig = field(default_factory=TrainConfig)
    backtest: BacktestConfig = field(default_factory=BacktestConfig)
    distributed: DistributedConfig = field(default_factory=DistributedConfig)

    def __post_init__(self) -> None:
        for name in ("window", "horizon"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} ({value}) must be >= 1")
        levels = list(self.interval_levels)
        if not levels or any(not 0 < level < 1 for level in levels) or levels != sorted(set(levels)):
            raise ConfigError(f"interval_levels ({levels}) must be increasing levels in (0, 1), each once")
        if not all(_whole_percent(level) for level in levels):
            raise ConfigError(f"interval_levels ({levels}) must be whole percents (0.8, 0.95, 0.98): each names a "
                              "lower_XX/upper_XX column pair")

    @property
    def kind(self) -> str:
        """The model's name in `hpcast.forecast.MODELS`."""
        return self.model.kind

    def resolved(self, freq: str) -> RunConfig:
        """Fill frequency-dependent defaults so the saved config says exactly what ran."""
        from hpcast.forecast.table import model_spec

        fixed = model_spec(self.kind).horizon
        if fixed is not None and self.horizon not in (None, fixed):
            raise ConfigError(f"horizon ({self.horizon}) must be {fixed} for {self.kind}: it predicts "
                              f"{fixed} step(s) ahead")
        spectrogram = getattr(self.model, "spectrogram", None)
        if spectrogram is not None and self.window not in (None, spectrogram.window):
            raise ConfigError(f"window ({self.window}) is the recurrent models' input length; {self.kind} reads "
                              f"its spectrogram window ({spectrogram.window}, --spectro-window)")
        window = spectrogram.window if spectrogram is not None else self.window or default_window(freq)
        return dataclasses.replace(self, window=window, horizon=fixed or self.horizon or default_horizon(freq))

    def for_model(self, name: str) -> RunConfig:
        """This config with ``name``'s settings: its own if it is this config's model, else its defaults."""
        from hpcast.forecast.table import model_spec

        if name == self.kind:
            return self
        spec = model_spec(name)
        spectrogram = "spectrogram" in spec.config.__dataclass_fields__ or hasattr(self.model, "spectrogram")
        window = None if spectrogram else self.window  # the STFT sets its own window
        return dataclasses.replace(self, model=spec.config(kind=name), window=window)


def to_dict(config: Any) -> dict[str, Any]:
    """A JSON/TOML-ready dict (tuples become lists)."""
    return json_ready(dataclasses.asdict(config))


def json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    return value


def _model_settings(value: Any, key: str) -> Any:
    """A model's settings from a table whose ``kind`` picks the dataclass in `hpcast.forecast.MODELS`."""
    from hpcast.forecast.table import model_spec

    if dataclasses.is_dataclass(value):
        return value
    if not isinstance(value, dict):
        raise ConfigError(f"{key} must be a table of settings, got {value!r}")
    spec = model_spec(value.get("kind", "lstm"))
    return from_dict(spec.config, {"kind": spec.name, **value}, prefix=f"{key}.")


def _coerce(kind: Any, value: Any, key: str) -> Any:
    if kind is ModelSettings:
        return _model_settings(value, key)
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
    if kind is str and isinstance(value, str):
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
    """Read a `RunConfig` from TOML (top-level keys plus [model], [train], [backtest], [distributed] tables;
    ``[model] kind`` picks the model, default lstm)."""
    with open(path, "rb") as handle:
        return from_dict(RunConfig, tomllib.load(handle))


def configure(base: RunConfig | None = None, **settings: Any) -> RunConfig:
    """``base`` (default `RunConfig()`) with settings given by their own names, wherever they live:
    ``configure(epochs=20, layers=(32,), model="gru")`` sets ``train.epochs``, ``model.layers`` and picks the
    model (``model=`` names a row of `hpcast.forecast.MODELS`; its settings start from its defaults).

    Example:
        >>> configure(epochs=5, window=12).train.epochs
        5
    """
    from hpcast.forecast.table import model_spec

    config = to_dict(base or RunConfig())
    if "model" in settings:
        kind = model_spec(settings.pop("model")).name
        if kind != config["model"]["kind"]:
            config["model"] = {"kind": kind}
    model_fields = {f.name for f in dataclasses.fields(model_spec(config["model"]["kind"]).config)} - {"kind"}
    tables = {"train": TrainConfig, "backtest": BacktestConfig, "distributed": DistributedConfig}
    for key, value in settings.items():
        if key in {f.name for f in dataclasses.fields(RunConfig)} - {"model", *tables}:
            config[key] = value
        elif key in model_fields:
            config["model"][key] = value
        elif table := next((name for name, cls in tables.items() if key in cls.__dataclass_fields__), None):
            config[table][key] = value
        else:
            known = sorted({*model_fields, *(f for cls in tables.values() for f in cls.__dataclass_fields__),
                            "window", "horizon", "target", "interval_levels", "model"})
            raise ConfigError(f"unknown setting {key!r} for model {config['model']['kind']!r}; known: "
                              f"{', '.join(known)}")
    return from_dict(RunConfig, json_ready(config))
