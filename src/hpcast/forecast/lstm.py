"""The LSTM: stacked ``nn.LSTM`` layers over windows, a linear head for all horizon steps at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hpcast.forecast.spec import ModelSpec, RecurrentConfig

__all__ = ["SPEC", "LSTMConfig"]


@dataclass(frozen=True)
class LSTMConfig(RecurrentConfig):
    kind: Literal["lstm"] = "lstm"


SPEC = ModelSpec("lstm", LSTMConfig, "hpcast.forecast.recurrent:RecurrentForecaster",
                 "stacked LSTM over windows of the target and covariates; direct multi-step head",
                 network="hpcast.models.lstm:LSTMNet")
