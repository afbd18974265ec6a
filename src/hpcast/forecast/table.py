"""`MODELS`: the one place a model is chosen by name. Jobs, backtests, the registry's loaders, the CLI's
choices and config validation all read it; adding a model is a spec module and a line here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hpcast.errors import ConfigError
from hpcast.forecast import gru, lstm, spectro_cnn
from hpcast.forecast.spec import ModelSpec, import_name

__all__ = ["BASELINE_NAMES", "ENSEMBLE_NAMES", "MODELS", "BaselineConfig", "estimator_for", "model_spec"]

BaselineKind = Literal["naive", "seasonal_naive", "drift", "arima"]


@dataclass(frozen=True)
class BaselineConfig:
    """A baseline has no settings besides its name."""

    kind: BaselineKind = "naive"


_BASELINE = "hpcast.forecast.baselines:BaselineForecaster"
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
