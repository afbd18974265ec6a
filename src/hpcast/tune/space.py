"""The search space: one small table per model kind, narrowed by a TOML ``[space]`` table.

A parameter is an integer or float range (``log`` for learning rates) or a list of choices. Each name
maps onto `hpcast.config.configure` settings in `to_settings`: ``num_layers`` and ``hidden`` make
``layers`` (one hidden size repeated), ``dropout`` gives every layer the same rate. ``covariates`` (when
searched) is a covariate set, as ``--covariates`` writes it: it picks the panel a trial fits on
(`hpcast.tune.spans.Spans`), not a setting.

A narrowing file holds one entry per parameter to change::

    [space]
    lr = {low = 1e-3, high = 1e-2}   # a range inside which to search
    hidden = [32, 64]                 # choices
    num_layers = 1                    # fixed
    covariates = ["", "calendar"]     # covariate sets: none, or the calendar features
    distribution = ["point", "student-t"]  # output heads (searched only when named here)

Searching ``distribution`` changes what a trial is scored by: heads train by different losses (MSE, a
negative log-likelihood, the pinball loss), so trials are ranked by their validation CRPS instead, the one
score all heads share (a point forecast's CRPS is its absolute error; `hpcast.models.outputs`), and they
are not pruned (the per-epoch losses the pruner compares are not comparable across heads).

Example:
    >>> space = search_space("lstm", "MS", {"hidden": [16, 32]})
    >>> space["hidden"].choices
    (16, 32)
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from hpcast.config import default_window
from hpcast.errors import ConfigError
from hpcast.forecast.spec import Distribution

__all__ = ["COVARIATE_SETS", "ON_REQUEST", "Param", "load_space", "search_space", "to_settings"]

# the covariate sets searched by default (those the data can give: `hpcast.tune.spans.Spans.searched`)
COVARIATE_SETS = ("", "calendar", "volume,calendar", "ma_ratio:50,calendar")

Kind = Literal["int", "float", "log", "choice"]


@dataclass(frozen=True)
class Param:
    """One searched setting: a range ``[low, high]`` (``int``, ``float``, ``log``) or ``choices``."""

    name: str
    kind: Kind
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        if self.kind == "choice":
            if not self.choices:
                raise ConfigError(f"space.{self.name}: no choices left (an empty list); give at least one value")
            return
        assert self.low is not None and self.high is not None
        if self.low > self.high:
            raise ConfigError(f"space.{self.name}: low ({self.low:g}) must be <= high ({self.high:g})")
        if self.kind == "log" and self.low <= 0:
            raise ConfigError(f"space.{self.name}: low ({self.low:g}) must be > 0 on a log scale")

    def suggest(self, trial: Any) -> Any:
        """This parameter's value for an Optuna ``trial``."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high))  # type: ignore[arg-type]
        return trial.suggest_float(self.name, self.low, self.high, log=self.kind == "log")


def _recurrent(freq: str) -> dict[str, Param]:
    window = default_window(freq)
    params = [Param("num_layers", "int", 1, 2), Param("hidden", "choice", choices=(16, 32, 64, 128)),
              Param("dropout", "float", 0.0, 0.4), Param("lr", "log", 1e-3, 3e-2),
              Param("window", "int", max(2, window // 2), window), Param("batch_size", "choice", choices=(16, 32, 64))]
    return {p.name: p for p in params}


# model kind -> its default space for a frequency; the models without a row have nothing to tune here
SPACES = {"lstm": _recurrent, "gru": _recurrent}

# parameters searched only when a narrowing file names them (the output head: it changes the trial's score)
ON_REQUEST = {"distribution": Param("distribution", "choice", choices=typing.get_args(Distribution))}


def load_space(path: str | Path) -> dict[str, Any]:
    """The ``[space]`` table of a TOML file (one line of error when it has none)."""
    with open(path, "rb") as handle:
        data = tomllib.load(handle)
    if set(data) != {"space"} or not isinstance(data["space"], dict):
        raise ConfigError(f"{path}: a search space file holds one [space] table, got "
                          f"{', '.join(sorted(data)) or 'nothing'}")
    if not data["space"]:
        raise ConfigError(f"{path}: the [space] table is empty; name at least one parameter or leave --space out")
    return data["space"]


def _narrow(param: Param, value: Any) -> Param:
    if isinstance(value, list):
        return Param(param.name, "choice", choices=tuple(value))
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"low", "high"})
        if unknown or param.kind == "choice":
            rule = f"choose among {list(param.choices)}" if param.kind == "choice" else "give low and/or high"
            raise ConfigError(f"space.{param.name} ({value!r}): {rule}")
        return dataclasses.replace(param, low=value.get("low", param.low), high=value.get("high", param.high))
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        return Param(param.name, "choice", choices=(value,))
    raise ConfigError(f"space.{param.name} ({value!r}) must be a value, a list of choices or {{low, high}}")


def search_space(kind: str, freq: str, narrowed: dict[str, Any] | None = None,
                 covariates: tuple[str, ...] | None = None) -> dict[str, Param]:
    """The default space of model ``kind`` for data sampled at ``freq``, with ``narrowed``'s entries applied;
    with ``covariates``, a parameter ``covariates`` choosing among those covariate sets (narrowed like any other)."""
    if kind not in SPACES:
        raise ConfigError(f"model ({kind!r}) has no search space; tune one of {', '.join(SPACES)}")
    space = SPACES[kind](freq)
    if covariates is not None:
        space["covariates"] = Param("covariates", "choice", choices=covariates)
    space.update({name: param for name, param in ON_REQUEST.items() if name in (narrowed or {})})
    unknown = sorted(set(narrowed or {}) - set(space))
    if unknown:
        raise ConfigError(f"unknown search parameter(s) {', '.join(unknown)} for {kind}; known: "
                          f"{', '.join([*space, *(name for name in ON_REQUEST if name not in space)])}")
    for name, value in (narrowed or {}).items():
        space[name] = _narrow(space[name], value)
    return space


def to_settings(values: dict[str, Any]) -> dict[str, Any]:
    """A trial's parameter values as `hpcast.config.configure` settings."""
    settings = dict(values)
    layers = settings.pop("num_layers", 1)
    settings["layers"] = (settings.pop("hidden", 64),) * layers
    settings["dropout"] = (settings.pop("dropout", 0.1),) * layers
    return settings
