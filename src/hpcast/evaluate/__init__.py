"""Evaluation: the metric table, walk-forward backtests against baselines, interval coverage."""

from hpcast.evaluate.backtest import BacktestResult, backtest, fold_origins, score
from hpcast.evaluate.metrics import (
    HEADLINE,
    METRICS,
    Metric,
    Scored,
    directional_accuracy,
    mae,
    mape,
    mase,
    mase_scale,
    rmse,
    smape,
)

__all__ = ["HEADLINE", "METRICS", "BacktestResult", "Metric", "Scored", "backtest", "directional_accuracy",
           "fold_origins", "mae", "mape", "mase", "mase_scale", "rmse", "score", "smape"]
