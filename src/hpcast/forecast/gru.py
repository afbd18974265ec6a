"""The GRU: the LSTM's recurrent forecaster with gated recurrent units (fewer parameters per layer)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hpcast.forecast.spec import ModelSpec, RecurrentConfig

__all__ = ["SPEC", "GRUConfig"]


@dataclass(frozen=True)
class GRUConfig(RecurrentConfig):
    kind: Literal["gru"] = "gru"


SPEC = ModelSpec("gru", GRUConfig, "hpcast.forecast.recurrent:RecurrentForecaster",
                 "stacked GRU over windows of the target and covariates; direct multi-step head",
                 network="hpcast.models.gru:GRUNet")
