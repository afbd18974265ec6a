"""hpcast: forecast financial time series with LSTM networks, honestly and fast.

    >>> import hpcast
    >>> model = hpcast.fit(hpcast.load_panel(dataset="air_passengers"), epochs=20)  # doctest: +SKIP
    >>> model.predict()                                                            # doctest: +SKIP

`fit`, `backtest`, `load_panel` and `load_model` are `hpcast.api`'s; `Panel`, `MODELS` and `RunConfig`
the types they take. Importing hpcast does nothing heavy: torch, statsmodels, yfinance and matplotlib load
on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"  # the one place: pyproject.toml reads it from here (setuptools, statically)
_HOMES = {"fit": "hpcast.api", "backtest": "hpcast.api", "load_panel": "hpcast.api", "load_model": "hpcast.api",
          "Panel": "hpcast.data.panel", "MODELS": "hpcast.forecast.table", "RunConfig": "hpcast.config"}
__all__ = ["__version__", *sorted(_HOMES)]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'hpcast' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
