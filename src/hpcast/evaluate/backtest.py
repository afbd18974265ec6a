"""Walk-forward backtest: expanding window, every model refitted per fold, all on the same folds.

Fold k forecasts ``h`` points from origin ``n - test_size + k·step`` using only the points before the
origin; the LSTM is refitted (scaler included) on each fold's history, so nothing after a cutoff is ever
seen. Metrics pool all folds' points; MASE scales each fold by its own history's in-sample naive error,
one step (m = 1) unless the frequency declares a season (`hpcast.data.season_length`). The seasonal
naive baseline runs only where a season is declared, and ARIMA is then the airline model; otherwise
ARIMA(1,1,1) on log prices.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hpcast.config import RunConfig
from hpcast.data.frame import season_length
from hpcast.evaluate.metrics import directional_accuracy, mae, mape, mase_scale, rmse, smape
from hpcast.models.baselines import BASELINES

__all__ = ["BacktestResult", "backtest", "fold_origins", "score"]

DEFAULT_MODELS = ("lstm", "naive", "seasonal_naive", "drift", "arima")
NETWORKS = ("lstm", "spectro-cnn")  # refitted on each fold's history like the baselines


def fold_origins(n_points: int, test_size: int, horizon: int, step: int) -> list[int]:
    """History lengths at which each fold forecasts; every fold's ``horizon`` points lie inside the data."""
    if not horizon <= test_size < n_points:
        raise ValueError(f"test_size ({test_size}) must be in [horizon ({horizon}), points ({n_points}))")
    first = n_points - test_size
    return list(range(first, n_points - horizon + 1, step))


@dataclass(frozen=True)
class BacktestResult:
    """``predictions``: one row per (fold, model, step); ``metrics``: one row per model; ``coverage``:
    share of actual values inside the LSTM's intervals, per level."""

    predictions: pd.DataFrame
    metrics: pd.DataFrame
    coverage: dict[str, float]
    origins: list[str]
    horizon: int
    season: int

    def to_dict(self) -> dict[str, Any]:
        metrics = self.metrics.astype(object).where(self.metrics.notna(), None)
        return {"horizon": self.horizon, "season": self.season, "folds": self.origins,
                "metrics": metrics.to_dict(orient="index"), "interval_coverage": self.coverage}


def score(predictions: pd.DataFrame) -> pd.DataFrame:
    """Pooled metrics per model from a predictions frame (columns model, actual, forecast, last, scale)."""
    rows = {}
    for model, group in predictions.groupby("model", sort=False):
        actual, forecast = group["actual"].to_numpy(), group["forecast"].to_numpy()
        rows[model] = {"mae": mae(actual, forecast), "rmse": rmse(actual, forecast),
                       "mape": mape(actual, forecast), "smape": smape(actual, forecast),
                       "mase": float(np.mean(np.abs(actual - forecast) / group["scale"].to_numpy())),
                       "directional_accuracy": directional_accuracy(actual, forecast, group["last"].to_numpy())}
    return pd.DataFrame.from_dict(rows, orient="index")


def _network(name: str, config: RunConfig) -> Any:
    """A fresh estimator for ``name`` (torch is imported only when a network runs)."""
    if name == "spectro-cnn":
        from hpcast.train.spectro import SpectroForecaster

        if config.horizon != 1:
            raise ValueError(f"horizon ({config.horizon}) must be 1 to backtest spectro-cnn (it forecasts the "
                             "next step): pass --horizon 1, and every model is compared one step ahead")
        return SpectroForecaster(config)
    from hpcast.train.forecaster import LSTMForecaster

    return LSTMForecaster(dataclasses.replace(config, architecture="lstm"))


def backtest(series: pd.Series, freq: str, config: RunConfig, *, models: tuple[str, ...] | None = None,
             fitted: dict[str, Any] | None = None, progress: Any = None) -> BacktestResult:
    """Run every model in ``models`` on the same walk-forward folds of ``series``.

    ``models`` are refitted on each fold's history; None means `DEFAULT_MODELS`, less seasonal naive where
    the frequency declares no season. ``fitted`` maps names to already-trained forecasters
    (e.g. a registry's champion and challenger) that are *not* refitted: each fold only asks them to
    forecast from that fold's history. Only fold origins after their training data keep that honest;
    the caller chooses ``config.backtest.test_size`` so.

    Example:
        >>> from hpcast.data import load_bundled
        >>> result = backtest(load_bundled("air_passengers").series(), "MS", RunConfig())  # doctest: +SKIP
        >>> result.metrics.loc[["lstm", "seasonal_naive"], "mase"]  # doctest: +SKIP
    """
    season = season_length(freq)
    if models is None:
        models = tuple(m for m in DEFAULT_MODELS if season > 1 or m != "seasonal_naive")
    unknown = [m for m in models if m not in NETWORKS and m not in BASELINES]
    if unknown:
        raise ValueError(f"models ({unknown}) must be among {[*NETWORKS, *BASELINES]}")
    if season == 1 and "seasonal_naive" in models:
        raise ValueError(f"model 'seasonal_naive' needs a declared season; frequency {freq!r} has none "
                         "(only monthly and quarterly data declare one): leave it out")
    config = config.resolved(freq)
    h = config.horizon
    assert h is not None
    step = config.backtest.step or h
    test_size = config.backtest.test_size or (3 if freq in ("B", "D") else 2) * h
    origins = fold_origins(len(series), test_size, h, step)
    values = series.to_numpy(dtype=np.float64)
    rows: list[pd.DataFrame] = []
    if progress is not None:
        progress.start(len(origins))
    for fold, origin in enumerate(origins):
        history, actual = values[:origin], values[origin:origin + h]
        common = {"fold": fold, "origin": series.index[origin - 1], "date": series.index[origin:origin + h],
                  "step": np.arange(1, h + 1), "actual": actual, "last": history[-1],
                  "scale": mase_scale(history, season)}
        for model in models:
            if model in NETWORKS:
                forecast = _network(model, config).fit(series.iloc[:origin], freq).predict()
                rows.append(pd.DataFrame({**common, "model": model, **{
                    c: forecast[c].to_numpy() for c in forecast.columns if c != "date"}}))
            else:
                predicted = BASELINES[model](history, h, season)
                rows.append(pd.DataFrame({**common, "model": model, "forecast": predicted}))
        for name, forecaster in (fitted or {}).items():
            forecast = forecaster.predict(series.iloc[:origin], h)
            rows.append(pd.DataFrame({**common, "model": name, "forecast": forecast["forecast"].to_numpy()}))
        if progress is not None:
            progress.advance(fold)
    if progress is not None:
        progress.finish()
    predictions = pd.concat(rows, ignore_index=True)
    coverage = {}
    lstm = predictions[predictions["model"] == "lstm"]
    for level in config.interval_levels if "lstm" in models else ():
        pct = round(level * 100)
        inside = (lstm["actual"] >= lstm[f"lower_{pct}"]) & (lstm["actual"] <= lstm[f"upper_{pct}"])
        coverage[f"{level:g}"] = float(inside.mean())
    return BacktestResult(predictions=predictions, metrics=score(predictions), coverage=coverage,
                          origins=[series.index[o - 1].date().isoformat() for o in origins], horizon=h,
                          season=season)
