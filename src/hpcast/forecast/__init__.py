"""The estimators: one `Forecaster` base (`hpcast.forecast.base`), one spec per model, baselines on the same
protocol, and `MODELS` (`hpcast.forecast.table`), the only place a model is chosen by name.

Importing this package loads the specs only (no torch): ``from hpcast.forecast.recurrent import ...`` for
the estimators.
"""

from hpcast.forecast.table import MODELS, model_spec

__all__ = ["MODELS", "model_spec"]
