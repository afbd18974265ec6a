"""What the network predicts, and how its output maps back to prices.

- ``log_return`` (default): the next h log-returns, divided by their training root mean square and not
  centred, so an output of zero decodes to exactly the last value: the naive forecast. (Centring on the
  training mean would make zero the drift forecast instead: +9.7% over 30 steps for bitcoin.)
- ``level``: min-max scaled price levels, as the seed study did; kept to reproduce it.
"""

from __future__ import annotations

import numpy as np

from hpcast.features.scalers import ScalerKind

__all__ = ["SCALER_FOR_TARGET", "decode", "encode"]

SCALER_FOR_TARGET: dict[str, ScalerKind] = {"log_return": "scale", "level": "minmax"}


def encode(values: np.ndarray, target: str) -> np.ndarray:
    """Series values ``(..., N)`` -> model space ``(..., N')``; log_return drops the first point (N' = N - 1)."""
    values = np.asarray(values, dtype=np.float64)
    if target == "log_return":
        if (values <= 0).any():
            raise ValueError("target 'log_return' needs positive values; this series has values <= 0 "
                             "(use --target level)")
        return np.diff(np.log(values), axis=-1)
    if target == "level":
        return values.copy()
    raise ValueError(f"target ({target!r}) must be one of {sorted(SCALER_FOR_TARGET)}")


def decode(predicted: np.ndarray, last_value: float | np.ndarray, target: str) -> np.ndarray:
    """Model-space paths ``(..., h)`` -> value paths ``(..., h)`` starting after ``last_value``."""
    predicted = np.asarray(predicted, dtype=np.float64)
    if target == "log_return":
        return np.asarray(last_value)[..., None] * np.exp(np.cumsum(predicted, axis=-1))
    if target == "level":
        return predicted
    raise ValueError(f"target ({target!r}) must be one of {sorted(SCALER_FOR_TARGET)}")
