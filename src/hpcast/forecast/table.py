"""`MODELS`: the one place a model is chosen by name. Jobs, backtests, the registry's loaders, the CLI's
choices and config validation all read it; adding a model is a spec module and a line here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hpcast.errors import ConfigError
from hpcast.forecast import gru, lstm, spectro_cnn
from hpcast.forecast.spec import ModelSpec, import_name

__all__ = ["BASELINE_NAMES", "ENSEMBLE_NAMES", "MODELS", "BaselineConfig", "EWMAConfig", "GarchConfig", "HARConfig",
           "HistSimConfig", "estimator_for", "model_spec"]

BaselineKind = Literal["naive", "seasonal_naive", "drift", "arima"]


@dataclass(frozen=True)
class BaselineConfig:
    """A baseline has no settings besides its name."""

    kind: BaselineKind = "naive"


def _at_least(config: object, name: str, minimum: int) -> None:
    if getattr(config, name) < minimum:
        raise ConfigError(f"{name} ({getattr(config, name)}) must be >= {minimum}")


@dataclass(frozen=True)
class GarchConfig:
    """GJR-GARCH(1,1), skew-t errors (`hpcast.forecast.volatility`): ``paths`` simulated paths past step 1."""

    kind: Literal["garch"] = "garch"
    paths: int = 2000

    def __post_init__(self) -> None:
        _at_least(self, "paths", 100)


@dataclass(frozen=True)
class EWMAConfig:
    """RiskMetrics EWMA variance with weight ``decay`` on yesterday's variance (`hpcast.forecast.volatility`)."""

    kind: Literal["ewma"] = "ewma"
    decay: float = 0.94

    def __post_init__(self) -> None:
        if not 0 < self.decay < 1:
            raise ConfigError(f"decay ({self.decay}) must be in (0, 1)")


@dataclass(frozen=True)
class HistSimConfig:
    """Historical simulation over the last ``lookback`` returns, ``paths`` bootstrap paths past step 1."""

    kind: Literal["hist-sim"] = "hist-sim"
    lookback: int = 252
    paths: int = 2000

    def __post_init__(self) -> None:
        _at_least(self, "lookback", 20)
        _at_least(self, "paths", 100)


@dataclass(frozen=True)
class HARConfig:
    """HAR on the log daily variance (lags 1, 5, 22): no settings besides its name."""

    kind: Literal["har"] = "har"


_BASELINE = "hpcast.forecast.baselines:BaselineForecaster"
_VOLATILITY = "hpcast.forecast.volatility:VolatilityForecaster"
MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (
    lstm.SPEC,
    gru.SPEC,
    spectro_cnn.SPEC,
    ModelSpec("naive", BaselineConfig, _BASELINE, "the last value, repeated (the random walk)", bands=False),
    ModelSpec("seasonal_naive", BaselineConfig, _BASELINE, "the last full season, repeated", bands=False,
              needs_season=True),
    ModelSpec("drift", BaselineConfig, _BASELINE, "the line from the first to the last value", bands=False),
    ModelSpec("arima", BaselineConfig, _BASELINE, "ARIMA(1,1,1) on log values, the airline model where a season "
              "is declared", bands=False),
    ModelSpec("garch", GarchConfig, _VOLATILITY, "GJR-GARCH(1,1) with skew-t errors on log returns (arch); bands "
              "from its own distribution"),
    ModelSpec("ewma", EWMAConfig, _VOLATILITY, "RiskMetrics EWMA variance, normal log returns; the price stays put"),
    ModelSpec("hist-sim", HistSimConfig, _VOLATILITY, "historical simulation: log returns resampled from the last "
              "lookback days"),
    ModelSpec("har", HARConfig, _VOLATILITY, "HAR regression of the log daily variance on its 1-, 5- and 22-day "
              "means; normal log returns"),
)}
BASELINE_NAMES = tuple(name for name, spec in MODELS.items() if spec.network is None)
_RECURRENT, _ENSEMBLE = "hpcast.forecast.recurrent:RecurrentForecaster", "hpcast.forecast.ensemble:EnsembleForecaster"
ENSEMBLE_NAMES = tuple(name for name, spec in MODELS.items() if spec.estimator == _RECURRENT)  # seed ensembles


def model_spec(name: str) -> ModelSpec:
    """The spec named ``name``; an unknown name lists the known ones."""
    if name not in MODELS:
        raise ConfigError(f"model ({name!r}) must be one of {', '.join(MODELS)}")
    return MODELS[name]


def estimator_for(name: str, ensemble: int = 1) -> type:
    """The estimator class that fits ``name``: its spec's, or with ``ensemble`` > 1 (``--ensemble``) the seed
    ensemble `hpcast.forecast.ensemble.EnsembleForecaster` of that recurrent network (jobs, backtests and
    `load_forecaster` all choose here).

    Example:
        >>> estimator_for("gru", ensemble=5).__name__
        'EnsembleForecaster'
    """
    spec = model_spec(name)
    if ensemble == 1:
        return spec.estimator_class()  # type: ignore[no-any-return]
    if name not in ENSEMBLE_NAMES:
        raise ConfigError(f"ensemble ({ensemble}) needs a recurrent model ({', '.join(ENSEMBLE_NAMES)}); "
                          f"model {name!r} trains no seed ensemble (use --ensemble 1)")
    return import_name(_ENSEMBLE)  # type: ignore[no-any-return]
