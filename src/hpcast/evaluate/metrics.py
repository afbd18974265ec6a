"""Point-forecast metrics over one or more forecast paths.

All take ``actual`` and ``predicted`` of the same shape. MASE divides by the in-sample mean absolute
error of the naive forecast on the training history (Hyndman & Koehler, 2006): one step ahead (m = 1)
unless the series declares a season m (12 monthly, 4 quarterly), then the seasonal naive's. MASE < 1
means better than that naive method was in-sample. Directional accuracy counts the steps where the
forecast's direction of change from the last observed value matches the actual one, over the steps
where the forecast calls a direction (a flat forecast calls none, so naive has no directional score).
"""

from __future__ import annotations

import numpy as np

__all__ = ["METRICS", "directional_accuracy", "mae", "mape", "mase_scale", "rmse", "smape"]


def mae(actual: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(np.abs(actual - predicted)))


def rmse(actual: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.sqrt(np.mean((actual - predicted) ** 2)))


def mape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute percentage error, in percent (undefined when an actual value is 0)."""
    if np.any(actual == 0):
        return float("nan")
    return float(100 * np.mean(np.abs((actual - predicted) / actual)))


def smape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Symmetric MAPE in percent, 0..200: 200·|a-p| / (|a|+|p|), 0 where both are 0."""
    denominator = np.abs(actual) + np.abs(predicted)
    ratio = np.divide(2 * np.abs(actual - predicted), denominator, out=np.zeros_like(denominator, dtype=float),
                      where=denominator > 0)
    return float(100 * np.mean(ratio))


def mase_scale(history: np.ndarray, season: int) -> float:
    """In-sample MAE of the naive forecast at lag ``season`` (1: one-step; lag 1 when the history is too short)."""
    lag = season if len(history) > season else 1
    return float(np.mean(np.abs(history[lag:] - history[:-lag])))


def directional_accuracy(actual: np.ndarray, predicted: np.ndarray, last: np.ndarray) -> float:
    """Share (0..1) of called directions that were right; NaN if the forecast never calls one."""
    called = np.sign(predicted - last)
    mask = called != 0
    if not mask.any():
        return float("nan")
    return float(np.mean(called[mask] == np.sign(actual - last)[mask]))


METRICS = ("mae", "rmse", "mape", "smape", "mase", "directional_accuracy")
