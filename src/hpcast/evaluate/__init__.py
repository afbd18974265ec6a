"""Evaluation: the metric table, walk-forward backtests against baselines, interval coverage, risk tests.

Importing this package loads the metric table only (numpy): ``hpcast backtest --help`` lists the metrics
without pandas or torch. The walk-forward backtest (`hpcast.evaluate.walkforward`) loads on first use of
`backtest`, `BacktestResult`, `fold_origins` or `score`.
"""

from __future__ import annotations

import importlib
from typing import Any

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

_WALKFORWARD = ("BacktestResult", "backtest", "fold_origins", "score")
__all__ = ["HEADLINE", "METRICS", "Metric", "Scored", *_WALKFORWARD, "directional_accuracy", "mae", "mape", "mase",
           "mase_scale", "rmse", "smape"]


def __getattr__(name: str) -> Any:
    if name not in _WALKFORWARD:
        raise AttributeError(f"module 'hpcast.evaluate' has no attribute {name!r}")
    return getattr(importlib.import_module("hpcast.evaluate.walkforward"), name)
