"""What a model is, as data: its settings dataclass, its estimator and its network, named in `MODELS`.

Specs import neither torch nor pandas (``hpcast --help`` lists the models instantly); the estimator and the
network are named as ``module:attribute`` and imported when a model is built.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal

from hpcast.errors import ConfigError

__all__ = ["ModelSpec", "RecurrentConfig", "import_name"]

Init = Literal["keras", "torch"]


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
    > 0 gives a global model a learned vector of that size per series (static covariate).
    """

    layers: tuple[int, ...] = (64,)
    dropout: tuple[float, ...] = (0.1,)
    init: Init = "keras"
    embedding: int = 0

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
