"""Pure, leakage-free transforms: scalers fitted on training spans, returns, moving averages, windows."""

from hpcast.features.scalers import Scaler, fit_scaler
from hpcast.features.targets import decode, encode
from hpcast.features.transforms import log_returns, moving_average, returns

__all__ = ["Scaler", "decode", "encode", "fit_scaler", "log_returns", "moving_average", "returns"]
