"""Pure, leakage-free transforms: scalers fitted on training spans, returns, moving averages, covariates,
calendar features, spectrograms and the on-disk spectrogram dataset. (Windows are index gathers over a
panel's buffer: `hpcast.forecast.panel_windows`.)

Names load on first use (PEP 562), so a config that embeds `hpcast.features.spectrogram.SpectrogramConfig`
does not pull pandas into ``hpcast --help``.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {"Scaler": "scalers", "fit_scaler": "scalers", "decode": "targets", "encode": "targets",
          "log_returns": "transforms", "moving_average": "transforms", "returns": "transforms"}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'hpcast.features' has no attribute {name!r}")
    return getattr(importlib.import_module(f"hpcast.features.{_HOMES[name]}"), name)
