"""Baselines every model must be compared with: naive, seasonal naive, drift, ARIMA.

Each is a pure function ``history (N,) -> forecast (h,)`` so a backtest can refit it per fold for free.
ARIMA is fitted by statsmodels on log values when the series is positive (multiplicative effects, like
the classic airline model), with a seasonal part when the frequency has a season.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

__all__ = ["BASELINES", "arima", "drift", "naive", "seasonal_naive"]


def naive(history: np.ndarray, horizon: int, season: int = 1) -> np.ndarray:
    """Repeat the last value (the random-walk forecast)."""
    return np.full(horizon, float(history[-1]))


def seasonal_naive(history: np.ndarray, horizon: int, season: int = 1) -> np.ndarray:
    """Repeat the last full season: y_{T+k} = y_{T+k-m·ceil(k/m)}."""
    if season < 1 or len(history) < season:
        raise ValueError(f"season ({season}) must be in [1, {len(history)}] (the history length)")
    last_season = np.asarray(history[-season:], dtype=np.float64)
    return np.resize(last_season, horizon)


def drift(history: np.ndarray, horizon: int, season: int = 1) -> np.ndarray:
    """Extend the line from the first to the last value."""
    slope = (history[-1] - history[0]) / max(len(history) - 1, 1)
    return history[-1] + slope * np.arange(1, horizon + 1)


def arima(history: np.ndarray, horizon: int, season: int = 1) -> np.ndarray:
    """ARIMA(1,1,1), or the airline model SARIMA(0,1,1)(0,1,1)_m when the series has a season m > 1.

    Falls back to a non-seasonal model when the history is shorter than three seasons.
    """
    from statsmodels.tsa.arima.model import ARIMA  # heavy: imported on use

    history = np.asarray(history, dtype=np.float64)
    positive = bool((history > 0).all())
    y = np.log(history) if positive else history
    if season > 1 and len(y) >= 3 * season:
        order, seasonal = (0, 1, 1), (0, 1, 1, season)
    else:
        order, seasonal = (1, 1, 1), (0, 0, 0, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter; the backtest judges the result
        fitted = ARIMA(y, order=order, seasonal_order=seasonal).fit()
    forecast = np.asarray(fitted.forecast(horizon), dtype=np.float64)
    return np.exp(forecast) if positive else forecast


BASELINES: dict[str, Callable[[np.ndarray, int, int], np.ndarray]] = {
    "naive": naive, "seasonal_naive": seasonal_naive, "drift": drift, "arima": arima,
}
