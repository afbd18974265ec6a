"""`Forecaster`: what every model shares — config resolution, fit on a panel, predict with dated bands,
save and load. A model adds only its own part: `_fit` (prepare, train, calibrate), `_paths` (point
forecasts from the end of each series) and its share of the manifest (`_own_manifest`, `_restore`).

Every model answers the same protocol, so jobs and backtests treat them alike:

- ``fit(data, freq=None, *, calendar=None, context=None)``: ``data`` is a `hpcast.data.panel.Panel` or a
  single ``pd.Series`` (a panel of one); ``context`` carries the run's progress bar, checkpoints and
  distributed group (`hpcast.train.context.RunContext`).
- ``predict(history=None, horizon=None)``: a frame ``symbol, date, forecast`` (+ ``lower_80, upper_80, ...``
  for models with bands), ``horizon`` rows per series, dated on each series' anchor or exchange calendar,
  continuing ``history`` (default: the fitted data).
- ``save(folder)`` / ``load(folder)``: ``weights.safetensors`` + ``manifest.json``, never a pickle.

A network's ``_fit`` is a generator: it prepares its data, *yields* its `hpcast.train.many.TrainingJob`s
and receives their `TrainResult`s back, then calibrates. `fit_many` drives many models' ``_fit`` at once,
so that their networks can train together (`hpcast.train.many.train_many`: K same-shape LSTMs fused in
one run on a GPU); ``fit`` is `fit_many` of one. A model without a network has a plain ``_fit``.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd

from hpcast.config import RunConfig, from_dict, to_dict
from hpcast.data.panel import Panel
from hpcast.forecast.artifacts import fingerprint, read_artifact, write_artifact
from hpcast.forecast.calibration import add_bands

__all__ = ["Forecaster", "as_panel", "data_facts", "fit_many", "load_forecaster", "training_device"]


def training_device(choice: str) -> Any:
    """``auto``: CUDA when torch sees a GPU, else CPU; ``cuda`` without a GPU is an error, not a fallback."""
    import torch

    if choice == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for, but torch sees no CUDA GPU (use --device auto or cpu)")
    if choice not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device ({choice!r}) must be 'auto', 'cpu' or 'cuda'")
    return torch.device("cuda" if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()) else "cpu")


def as_panel(data: Panel | pd.Series, freq: str | None = None, calendar: str | None = None) -> Panel:
    """A panel as given, or a single series as a panel of one (then ``freq`` is required)."""
    if isinstance(data, Panel):
        if freq is not None and freq != data.freq:
            raise ValueError(f"freq ({freq!r}) differs from the panel's ({data.freq!r})")
        return data
    if isinstance(data, pd.Series):
        if freq is None:
            raise ValueError("freq is required with a single pd.Series (e.g. 'B', 'MS'); a Panel carries its own")
        return Panel.from_series(data, freq, calendar)
    raise TypeError(f"data must be a hpcast Panel or a pd.Series, got {type(data).__name__}")


class Forecaster:
    """The estimator protocol and everything models share (module docstring)."""

    def __init__(self, config: RunConfig | None = None) -> None:
        self.config = config or RunConfig()
        self.freq: str | None = None
        self.series: dict[str, dict[str, Any]] = {}  # per symbol: calendar, scalers, calibration, data facts
        self.calibration: dict[str, Any] = {}  # pooled bands, for models that calibrate across series
        self.history: Panel | None = None
        self.net: Any = None
        self.result: Any = None  # hpcast.train.trainer.TrainResult once a network is fitted
        self.data_info: dict[str, Any] = {}
        self.columns: tuple[str, ...] = ()  # the fitted panel's columns (target first), () when unknown
        self.known_future: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return self.config.kind

    # -- the model's own part ------------------------------------------------------------------------------
    def _fit(self, panel: Panel, context: Any) -> Any:
        """Fit on ``panel``: return None, or (networks) be a generator that yields lists of
        `hpcast.train.many.TrainingJob` and is sent back their results (module docstring)."""
        raise NotImplementedError

    def _paths(self, panel: Panel, horizon: int) -> np.ndarray:
        """Point forecasts ``(S, horizon)`` from the end of each series of ``panel``."""
        raise NotImplementedError

    def _columns(self, panel: Panel, horizon: int) -> dict[str, np.ndarray]:
        """``forecast`` (`_paths`) and any columns a model reports besides it, each ``(S, horizon)``: a model
        with a predictive distribution of its own gives its bands here (``lower_XX``/``upper_XX``, and then
        has no conformal calibration); a ``_band_scale`` entry is no column: it scales bands calibrated on
        scaled scores (`add_bands`)."""
        return {"forecast": self._paths(panel, horizon)}

    @property
    def gives_samples(self) -> bool:
        """Whether ``sample_paths`` draws joint paths from the model's own distribution (a network with a
        distribution head does; the investor's simulator then uses them)."""
        return False

    def one_step_risk(self, panel: Panel, tails: dict[float, Sequence[float]] | None = None) -> dict[str, np.ndarray]:
        """What a model with a predictive distribution says of the next log return of each series of ``panel``,
        each ``(S,)``: ``variance`` and, per VaR level L of ``tails`` (L -> the tail quantile levels whose mean
        is the expected shortfall, `hpcast.evaluate.risk.es_levels`), ``es_<1000·L>``, consistent with the band
        whose lower edge is the VaR. ``{}`` for a model without a distribution."""
        return {}

    def _own_manifest(self) -> dict[str, Any]:
        return {"model": {"kind": self.kind}}

    def _restore(self, manifest: dict[str, Any]) -> Any:
        """Rebuild the fitted transforms and return an unloaded network (None for models without one)."""
        return None

    # -- fitting -------------------------------------------------------------------------------------------
    def fit(self, data: Panel | pd.Series, freq: str | None = None, *, calendar: str | None = None,
            context: Any = None) -> Self:
        """Fit on ``data`` (a `Panel`, or a ``pd.Series`` sampled at ``freq`` and, when daily, dated on
        ``calendar``); a network trains under ``context`` (default: one process, no checkpoints)."""
        return fit_many([self], [data], freq, calendar=calendar, contexts=[context])[0]

    def _begin_fit(self, data: Panel | pd.Series, freq: str | None, calendar: str | None) -> Panel:
        panel = as_panel(data, freq, calendar)
        self.config = self.config.resolved(panel.freq)
        self.freq = panel.freq
        self.series = {symbol: {"symbol": symbol, "calendar": panel.calendars[s]}
                       for s, symbol in enumerate(panel.symbols)}
        self.columns, self.known_future = panel.columns, panel.known_future
        return panel

    def _end_fit(self, panel: Panel) -> None:
        self.history = panel
        self.data_info = data_facts(panel)
        for symbol in panel.symbols:
            self.series[symbol].setdefault("data", {}).update(data_facts(panel.select([symbol])))

    # -- forecasting ---------------------------------------------------------------------------------------
    def model_symbol(self, symbol: str, given: int) -> str:
        """The fitted series a history's ``symbol`` continues (a one-series model continues any one series)."""
        if symbol in self.series:
            return symbol
        if len(self.series) == 1 and given == 1:
            return next(iter(self.series))
        raise ValueError(f"symbol ({symbol!r}) was not fitted; this model knows {sorted(self.series)}")

    def history_panel(self, history: Panel | pd.Series | None) -> Panel:
        if self.freq is None:
            raise RuntimeError("call fit() or load() before predict()")
        if history is None:
            if self.history is None:
                raise ValueError("give the history to forecast from (the model was loaded without one)")
            return self.history
        if isinstance(history, pd.Series):
            symbol = next(iter(self.series)) if len(self.series) == 1 else str(history.name)
            calendar = self.series.get(symbol, {}).get("calendar")
            history = Panel.from_series(history, self.freq, calendar, symbol=symbol)
        panel = as_panel(history)
        if self.columns and (panel.columns[1:] != self.columns[1:] or panel.known_future != self.known_future):
            raise ValueError(f"history has columns {[*panel.columns, *panel.known_future]}; the model was fitted on "
                             f"{[*self.columns, *self.known_future]} (give it the same --covariates)")
        return panel

    def check_horizon(self, horizon: int | None) -> int:
        h = self.config.horizon
        assert h is not None
        horizon = horizon or h
        if not 1 <= horizon <= h:
            raise ValueError(f"horizon ({horizon}) must be in [1, {h}] (the model was trained for {h} steps)")
        return horizon

    def predict(self, history: Panel | pd.Series | None = None, horizon: int | None = None) -> pd.DataFrame:
        """Forecast ``horizon`` steps (default: the fitted horizon) from the end of every series of
        ``history`` (default: the fitted data): ``symbol`` (the history's name for the series), ``date``,
        ``forecast`` and the bands."""
        from hpcast.data.calendars import future_dates

        panel = self.history_panel(history)
        horizon = self.check_horizon(horizon)
        columns = self._columns(panel, horizon)  # name -> (S, horizon)
        paths = columns.pop("forecast")
        spread = columns.pop("_band_scale", None)  # a head's spread or the EWMA σ: it scales the bands
        frames = []
        for s, given in enumerate(panel.symbols):
            symbol = self.model_symbol(given, panel.n_series)
            info = self.series[symbol]
            dates = future_dates(panel.index(s), self.freq, horizon, info.get("calendar"))  # its anchor, its sessions
            frame = pd.DataFrame({"symbol": given, "date": dates, "forecast": paths[s]})
            frame = add_bands(frame, info.get("calibration") or self.calibration, None if spread is None else spread[s])
            frames.append(frame.assign(**{name: values[s] for name, values in columns.items()}))
        return pd.concat(frames, ignore_index=True)

    # -- artifacts -----------------------------------------------------------------------------------------
    def manifest(self, metrics: dict[str, Any] | None = None) -> dict[str, Any]:
        """What `write_artifact` stores beside the weights (see `hpcast.forecast.artifacts`)."""
        import torch

        from hpcast import __version__

        assert self.freq is not None, "call fit() before manifest()"
        return {"hpcast_version": __version__, "torch_version": torch.__version__, **self._own_manifest(),
                "config": to_dict(self.config), "freq": self.freq, "seed": self.config.train.seed,
                "series": [self.series[symbol] for symbol in self.series], "calibration": self.calibration,
                "data": self.data_info, "training": self.result.summary() if self.result is not None else {},
                "inputs": {"columns": list(self.columns), "known_future": list(self.known_future)},
                "metrics": metrics or {}}

    def save(self, folder: str | Path, metrics: dict[str, Any] | None = None) -> Path:
        """Write ``weights.safetensors`` + ``manifest.json`` into ``folder``."""
        state = self.net.state_dict() if self.net is not None else {}
        return write_artifact(folder, state, self.manifest(metrics))

    @classmethod
    def from_artifact(cls, weights: dict[str, Any], manifest: dict[str, Any],
                      history: Panel | pd.Series | None = None) -> Self:
        """Rebuild from weights and a manifest already read (and checked) by `read_artifact`."""
        estimator = cls(from_dict(RunConfig, manifest["config"]))
        estimator.freq, estimator.data_info = manifest["freq"], manifest.get("data", {})
        estimator.series = {entry["symbol"]: entry for entry in manifest["series"]}
        estimator.calibration = manifest.get("calibration", {})
        inputs = manifest.get("inputs") or manifest.get("feature_schema", {})
        estimator.columns = tuple(inputs.get("columns", ()))
        estimator.known_future = tuple(inputs.get("known_future", ()))
        estimator.history = None if history is None else estimator.history_panel(history)
        net = estimator.net = estimator._restore(manifest)
        if net is not None:
            net.load_state_dict(weights)
            net.eval()
        return estimator

    @classmethod
    def load(cls, folder: str | Path, history: Panel | pd.Series | None = None) -> Self:
        """Rebuild from an artifact folder (no pickle); ``history`` is what `predict` continues from."""
        return cls.from_artifact(*read_artifact(folder), history)


def fit_many(forecasters: Sequence[Forecaster], data: Sequence[Panel | pd.Series], freq: str | None = None, *,
             calendar: str | None = None, contexts: Sequence[Any] | None = None,
             on_fitted: Any = None) -> list[Forecaster]:
    """Fit ``forecasters[i]`` on ``data[i]`` (under ``contexts[i]``), their networks' training together:
    every model first prepares its data and hands over its training jobs, then `train_many` trains all the
    jobs at once (fused where it pays, one after another elsewhere: a model's result is the same either
    way), then each model calibrates. ``on_fitted(i)`` is called as model ``i`` finishes.

    Example:
        >>> folds = fit_many([RecurrentForecaster(config) for _ in histories], histories)  # doctest: +SKIP
    """
    from hpcast.train.context import RunContext
    from hpcast.train.many import train_many

    if len(forecasters) != len(data) or (contexts is not None and len(contexts) != len(data)):
        raise ValueError(f"forecasters ({len(forecasters)}), data ({len(data)}) and contexts "
                         f"({len(contexts) if contexts is not None else 'none'}) must pair up one to one")
    contexts = [c if c is not None else RunContext() for c in (contexts or [None] * len(data))]
    panels = [f._begin_fit(d, freq, calendar) for f, d in zip(forecasters, data, strict=True)]
    running: dict[int, Any] = {}  # model index -> its _fit generator, while it waits for training results
    asked: dict[int, list[Any]] = {}  # model index -> the jobs it yielded
    for i, (forecaster, panel) in enumerate(zip(forecasters, panels, strict=True)):
        steps = forecaster._fit(panel, contexts[i])
        if inspect.isgenerator(steps):
            running[i], asked[i] = steps, next(steps, None)
        if asked.get(i) is None:
            _finish(forecasters, panels, i, running, asked, on_fitted)
    while asked:
        order = list(asked)
        results = iter(train_many([job for i in order for job in asked[i]]))
        answers = {i: [next(results) for _ in asked[i]] for i in order}
        asked.clear()
        for i in order:
            try:
                asked[i] = running[i].send(answers[i])
            except StopIteration:
                _finish(forecasters, panels, i, running, asked, on_fitted)
    return list(forecasters)


def _finish(forecasters: Sequence[Forecaster], panels: list[Panel], i: int, running: dict[int, Any],
            asked: dict[int, list[Any]], on_fitted: Any) -> None:
    running.pop(i, None)
    asked.pop(i, None)
    forecasters[i]._end_fit(panels[i])
    if on_fitted is not None:
        on_fitted(i)


def data_facts(panel: Panel) -> dict[str, Any]:
    """What the manifest records of the data a model saw (a fingerprint to recognise it by)."""
    if panel.n_series == 1:
        series = panel.series(0)
        return {"name": panel.name, "fingerprint": fingerprint(series), "rows": len(series), "column": series.name,
                "start": series.index[0].date().isoformat(), "end": series.index[-1].date().isoformat(),
                "calendar": panel.calendars[0]}
    dates = pd.DatetimeIndex(panel.dates)
    return {"name": panel.name, "fingerprint": panel.fingerprint(), "rows": len(dates), "symbols": list(panel.symbols),
            "column": panel.target, "start": dates.min().date().isoformat(), "end": dates.max().date().isoformat()}


def load_forecaster(folder: str | Path, history: Panel | pd.Series | None = None) -> Forecaster:
    """Whichever model a folder holds (its manifest names the kind in `MODELS`, and ``ensemble``, the members of
    a seed ensemble, where it has more than one), rebuilt without pickle."""
    from hpcast.forecast.table import estimator_for

    weights, manifest = read_artifact(folder)  # read and hashed once, whichever model it holds
    model = manifest["model"]
    return estimator_for(model["kind"], model.get("ensemble", 1)).from_artifact(weights, manifest, history)
