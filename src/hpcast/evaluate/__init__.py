"""Evaluation: metrics, walk-forward backtests against baselines, interval coverage."""

from hpcast.evaluate.backtest import BacktestResult, backtest, fold_origins, score
from hpcast.evaluate.metrics import METRICS, directional_accuracy, mae, mape, mase_scale, rmse, smape

__all__ = ["METRICS", "BacktestResult", "backtest", "directional_accuracy", "fold_origins", "mae", "mape",
           "mase_scale", "rmse", "score", "smape"]
