"""Training: the loop (`trainer`) and its run infrastructure (`context.RunContext`), checkpoints, artifacts
and the `LSTMForecaster` estimator.

Submodules import torch, so import them directly: ``from hpcast.train.forecaster import LSTMForecaster``.
"""

__all__: list[str] = []
