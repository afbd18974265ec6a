"""`EnsembleForecaster`: K networks of one recurrent kind from seeds ``seed, seed+1, ..., seed+K-1``, as one model.

Every member is a `RecurrentForecaster` trained on one shared `prepare_panel` split (the same scalers, the
same training, validation and calibration windows), so a member trained alone with its seed has the same
weights bit for bit. The members' training jobs go to `hpcast.train.many.train_many` together: one after
another on a CPU, fused K at a time on a GPU. The forecast is the members' mean decoded path; ``spread`` is
the members' standard deviation per step (over the K members, ddof 0), a column of its own beside the
bands, not a band. The bands are split-conformal per series (`calibrate_series`) on the *mean's* residuals
on the shared calibration windows, which no member trained on and no member's early stopping read.

Artifact: one ``weights.safetensors`` holding member k's tensors under ``member.k.``; the manifest's model
entry says ``ensemble: K`` (what `load_forecaster` picks this class by) and lists the members' seed, best
epoch and best validation loss.

Legend: K members, S series, M windows, h horizon.
"""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from hpcast.data.panel import Panel
from hpcast.errors import ConfigError
from hpcast.forecast.base import Forecaster
from hpcast.forecast.recurrent import RecurrentForecaster, calibrate_series
from hpcast.forecast.table import ENSEMBLE_NAMES

__all__ = ["EnsembleForecaster", "EnsembleResult"]


class _Members(torch.nn.Module):
    """The members' networks under one state dict: ``member.0.<tensor>``, ``member.1.<tensor>``, ..."""

    def __init__(self, nets: list[torch.nn.Module]) -> None:
        super().__init__()
        self.member = torch.nn.ModuleList(nets)


@dataclass
class EnsembleResult:
    """The members' `TrainResult`s, read like one: the first member's loss curve and recipe (what jobs plot and
    record), the members' mean best validation loss, and every member's seed, best epoch and loss."""

    members: list[Any]  # hpcast.train.trainer.TrainResult, one per member
    seeds: list[int]

    @property
    def history(self) -> list[Any]:
        return self.members[0].history  # type: ignore[no-any-return]

    @property
    def best_epoch(self) -> int:
        return self.members[0].best_epoch  # type: ignore[no-any-return]

    @property
    def best_val_loss(self) -> float:
        return statistics.fmean(result.best_val_loss for result in self.members)

    @property
    def recipe(self) -> dict[str, Any]:
        return self.members[0].recipe  # type: ignore[no-any-return]

    @property
    def seconds_per_epoch(self) -> float:
        return self.members[0].seconds_per_epoch  # type: ignore[no-any-return]

    def facts(self) -> list[dict[str, Any]]:
        return [{"seed": seed, "best_epoch": result.best_epoch, "best_val_loss": result.best_val_loss}
                for seed, result in zip(self.seeds, self.members, strict=True)]

    def summary(self) -> dict[str, Any]:
        """The first member's summary with the mean ``best_val_loss`` and a ``members`` list."""
        return {**self.members[0].summary(), "best_val_loss": self.best_val_loss,
                "ensemble": len(self.members), "members": self.facts()}


class EnsembleForecaster(Forecaster):
    """A seed ensemble of ``config.model.kind`` (lstm or gru) with ``config.train.ensemble`` members.

    Example:
        >>> from hpcast.config import RunConfig, TrainConfig
        >>> from hpcast.data import load_bundled
        >>> config = RunConfig(train=TrainConfig(ensemble=5))
        >>> f = EnsembleForecaster(config).fit(load_bundled("air_passengers").series(), "MS")  # doctest: +SKIP
        >>> f.predict().columns.tolist()  # doctest: +SKIP
        ['symbol', 'date', 'forecast', 'lower_80', 'upper_80', 'lower_95', 'upper_95', 'spread']
    """

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.members: list[RecurrentForecaster] = []
        self.member_facts: list[dict[str, Any]] = []  # seed, best epoch, best val loss per member

    @property
    def min_history(self) -> int:
        """Points `predict` needs before its first forecast (a member's)."""
        return self._member(0).min_history

    def _member(self, k: int) -> RecurrentForecaster:
        """Member ``k``: this config with seed ``seed + k``, sharing this model's series entries and inputs."""
        train = dataclasses.replace(self.config.train, seed=self.config.train.seed + k, ensemble=1)
        member = RecurrentForecaster(dataclasses.replace(self.config, train=train))
        member.freq, member.series = self.freq, self.series  # one dict: the scalers are the shared split's
        member.columns, member.known_future = self.columns, self.known_future
        return member

    # -- fitting -------------------------------------------------------------------------------------------
    def _fit(self, panel: Panel, context: Any) -> Any:
        if self.kind not in ENSEMBLE_NAMES:
            raise ConfigError(f"model ({self.kind!r}) must be one of {', '.join(ENSEMBLE_NAMES)} for a seed ensemble")
        self.members = [self._member(k) for k in range(self.config.train.ensemble)]
        windows = self.members[0]._windows(panel, context)  # one split for all: the same calibration windows
        jobs = [member._job(windows, panel, _member_context(context, k)) for k, member in enumerate(self.members)]
        results = yield jobs  # the members train together (fused on a GPU: hpcast.train.many)
        for member, result in zip(self.members, results, strict=True):
            member.result = result
            result.recipe["stride"] = member._stride()
        self.net = _Members([member.net for member in self.members])
        starts = windows.starts("cal")
        scored = [member._score(windows, starts, panel.values[:, 0]) for member in self.members]
        paths = np.mean([path for path, _ in scored], axis=0)  # (M, h): the mean's residuals calibrate
        spread = None if scored[0][1] is None else np.mean([spread for _, spread in scored], axis=0)
        calibrate_series(self.series, panel, windows, paths, self.config, spread)
        self.result = EnsembleResult([member.result for member in self.members],
                                     [member.config.train.seed for member in self.members])
        self.member_facts = self.result.facts()

    # -- forecasting ---------------------------------------------------------------------------------------
    def _member_paths(self, panel: Panel, horizon: int) -> np.ndarray:
        if not self.members:
            raise RuntimeError("call fit() or load() before predict()")
        return np.stack([member._paths(panel, horizon) for member in self.members])  # (K, S, horizon)

    def _paths(self, panel: Panel, horizon: int) -> np.ndarray:
        return np.mean(self._member_paths(panel, horizon), axis=0)  # (S, horizon)

    def _columns(self, panel: Panel, horizon: int) -> dict[str, np.ndarray]:
        if not self.members:
            raise RuntimeError("call fit() or load() before predict()")
        columns = [member._columns(panel, horizon) for member in self.members]
        paths = np.stack([c["forecast"] for c in columns])  # (K, S, horizon)
        scales = [c["_band_scale"] for c in columns if "_band_scale" in c]  # distribution heads: the mean spread
        return {"forecast": np.mean(paths, axis=0), "spread": np.std(paths, axis=0),
                **({"_band_scale": np.mean(scales, axis=0)} if scales else {})}

    def forecast_paths(self, windows: np.ndarray, symbol: str | None = None) -> np.ndarray:
        """The members' mean of `RecurrentForecaster.forecast_paths` ``(B, h)``."""
        if not self.members:
            raise RuntimeError("call fit() or load() before forecast_paths()")
        return np.mean([member.forecast_paths(windows, symbol) for member in self.members], axis=0)

    # -- artifacts -----------------------------------------------------------------------------------------
    def _own_manifest(self) -> dict[str, Any]:
        own = self.members[0]._own_manifest()  # every member has the same network shape and inputs
        own["model"].update(ensemble=len(self.members), members=self.member_facts)
        return own

    def _restore(self, manifest: dict[str, Any]) -> torch.nn.Module:
        model = manifest["model"]
        if model.get("ensemble") != self.config.train.ensemble:
            raise ValueError(f"manifest model.ensemble ({model.get('ensemble')}) differs from its config's "
                             f"train.ensemble ({self.config.train.ensemble})")
        self.members = [self._member(k) for k in range(self.config.train.ensemble)]
        for member in self.members:
            member.net = member._restore(manifest)
        self.member_facts = list(model.get("members", []))
        return _Members([member.net for member in self.members])


def _member_context(context: Any, k: int) -> Any:
    """Member ``k``'s run context: its own checkpoint folder (``member.k``, so resuming resumes each member);
    only the first member is profiled."""
    folder = None if context.checkpoint_dir is None else context.checkpoint_dir / f"member.{k}"
    return dataclasses.replace(context, checkpoint_dir=folder, profile_dir=context.profile_dir if k == 0 else None)
