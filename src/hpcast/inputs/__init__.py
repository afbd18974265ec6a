"""What every command reads: the table of data sources (`SOURCES`, `DataRequest`) and the loaders that turn
any of them into one series (`load_data`) or one panel with covariates (`load_panel`, `load_long_csv`).

This stage sits above the feature store and the covariates it reads from (DESIGN.md). Importing it loads
the table only (no pandas): the loaders load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from hpcast.inputs.sources import SOURCES, DataRequest

_HOMES = {"load_data": "hpcast.inputs.panels", "load_panel": "hpcast.inputs.panels",
          "load_long_csv": "hpcast.inputs.long_csv"}
__all__ = ["SOURCES", "DataRequest", *sorted(_HOMES)]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'hpcast.inputs' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
