"""The baselines (naive, seasonal naive, drift, ARIMA) on the `Forecaster` protocol.

Fitting one only remembers the panel: each forecast is `hpcast.models.baselines`' pure function of the
history it continues, so a backtest refits it per fold for free and every series gets its own. The season
is the frequency's declared one (`hpcast.data.season_length`); seasonal naive refuses data without one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hpcast.data.frame import season_length
from hpcast.data.panel import Panel
from hpcast.forecast.base import Forecaster
from hpcast.models.baselines import BASELINES

__all__ = ["BaselineForecaster"]


class BaselineForecaster(Forecaster):
    """A baseline named by ``config.model.kind``; no weights, no bands.

    Example:
        >>> from hpcast.config import RunConfig
        >>> from hpcast.data import load_bundled
        >>> f = BaselineForecaster(RunConfig().for_model("naive"))
        >>> f.fit(load_bundled("air_passengers").series(), "MS").predict()["forecast"].iloc[0]
        432.0
    """

    def _season(self) -> int:
        assert self.freq is not None
        season = season_length(self.freq)
        if self.kind == "seasonal_naive" and season == 1:
            raise ValueError(f"model 'seasonal_naive' needs a declared season; frequency {self.freq!r} has none "
                             "(only monthly and quarterly data declare one): leave it out")
        return season

    def _fit(self, panel: Panel, context: Any) -> None:
        self.freq = panel.freq
        self._season()  # refuse seasonal naive without a season now, not at the first forecast

    def _paths(self, panel: Panel, horizon: int) -> np.ndarray:
        forecast = BASELINES[self.kind]
        season = self._season()
        return np.stack([forecast(panel.values[panel.rows(s), 0], horizon, season) for s in range(panel.n_series)])
