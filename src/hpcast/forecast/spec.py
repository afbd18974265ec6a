"""What a model is, as data: its settings dataclass, its estimator and its network, named in `MODELS`.

Specs import neither torch nor pandas (``hpcast --help`` lists the models instantly); the estimator and the
network are named as ``module:attribute`` and imported when a model is built.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal

from hpcast.errors import ConfigError

__all__ = ["DEFAULT_QUANTILES", "Calibration", "Distribution", "ModelSpec", "RecurrentConfig", "import_name"]

Init = Literal["keras", "torch"]
# the rows of `hpcast.models.outputs.OUTPUTS` (named here too, since specs load no torch; a test keeps them equal)
Distribution = Literal["point", "normal", "student-t", "quantiles"]
Calibration = Literal["plain", "ewma"]
DEFAULT_QUANTILES = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.975, 0.99)


def import_name(path: str) -> Any:
    """The attribute ``module:attribute`` names."""
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class RecurrentConfig:
    """A stack of recurrent layers (one hidden size and one dropout rate per layer) and a linear head.

    The defaults (one layer of 64, dropout 0.1, with `TrainConfig`'s lr 1e-2) won
    ``benchmarks/defaults_sweep.py`` on AirPassengers folds that end before the folds the README reports;
    see README "Choosing the defaults". The seed study's 50-60-80-120 stack is a flag away. ``embedding``
    > 0 gives a global model a learned vector of that size per series (static covariate). ``distribution``
    picks the output head (`hpcast.models.outputs`): one number per step trained by ``train.loss`` (point),
    or a distribution per step trained by its likelihood (normal, student-t) or the pinball loss over
    ``quantiles`` (quantiles). A distribution head's bands are split-conformal on errors over its own
    predicted spread; a point head's on plain errors (``calibration="plain"``) or on errors over the series'
    EWMA volatility at each forecast origin (``"ewma"``, log-return targets), so they widen in storms.
    """

    layers: tuple[int, ...] = (64,)
    dropout: tuple[float, ...] = (0.1,)
    init: Init = "keras"
    embedding: int = 0
    distribution: Distribution = "point"
    quantiles: tuple[float, ...] = DEFAULT_QUANTILES
    calibration: Calibration = "plain"

    def __post_init__(self) -> None:
        if not self.layers or any(size < 1 for size in self.layers):
            raise ConfigError(f"layers ({list(self.layers)}) must be one or more hidden sizes >= 1")
        if len(self.dropout) != len(self.layers):
            raise ConfigError(f"dropout ({list(self.dropout)}) must give one rate per layer "
                              f"({len(self.layers)} layers)")
        if any(not 0 <= rate < 1 for rate in self.dropout):
            raise ConfigError(f"dropout ({list(self.dropout)}) rates must be in [0, 1)")
        if self.embedding < 0:
            raise ConfigError(f"embedding ({self.embedding}) must be >= 0 (0: no symbol embedding)")
        levels = list(self.quantiles)
        if not levels or any(not 0 < q < 1 for q in levels) or levels != sorted(set(levels)) or 0.5 not in levels:
            raise ConfigError(f"quantiles ({levels}) must be increasing levels in (0, 1), each once, 0.5 among them "
                              "(the median is the quantiles head's point forecast)")


@dataclass(frozen=True)
class ModelSpec:
    """One row of `MODELS`.

    Attributes:
        name: what ``--model`` and ``[model] kind`` say.
        config: the settings dataclass (its ``kind`` field is ``name``).
        estimator: ``module:Class`` of the `hpcast.forecast.base.Forecaster` that fits it.
        network: ``module:Class`` of its ``nn.Module`` (None for baselines).
        description: one line for ``--help`` and ``hpcast models``.
        horizon: a fixed horizon (spectro-cnn forecasts one step), or None for any.
        bands: whether its forecasts carry conformal bands.
        needs_season: only for frequencies that declare a season (seasonal naive).
    """

    name: str
    config: type
    estimator: str
    description: str
    network: str | None = None
    horizon: int | None = None
    bands: bool = True
    needs_season: bool = False

    def estimator_class(self) -> Any:
        return import_name(self.estimator)

    def network_class(self) -> Any:
        if self.network is None:
            raise ValueError(f"model {self.name!r} has no network")
        return import_name(self.network)
