"""AirPassengers through the panel-native core gives what hpcast 0.1's single-series LSTMForecaster gave.

``fixtures/air_passengers_fit_v0_1.json`` holds 0.1's forecasts, bands and per-epoch validation losses for
two small configurations (written at commit 923e04e, before the core became panel-native). On the machine
that wrote them the new core reproduces them bit for bit; the tolerance only leaves room for another
CPU's float rounding over a few epochs.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from hpcast.config import RunConfig, TrainConfig
from hpcast.data import load_bundled
from hpcast.forecast.lstm import LSTMConfig
from hpcast.forecast.recurrent import RecurrentForecaster

EXPECTED = json.loads((Path(__file__).parent.parent / "fixtures" / "air_passengers_fit_v0_1.json").read_text())
CONFIGS = {
    "last": RunConfig(window=12, horizon=6, model=LSTMConfig(layers=(8, 4), dropout=(0.1, 0.0)),
                      train=TrainConfig(epochs=5, targets="last", seed=3)),
    "level": RunConfig(window=12, horizon=6, target="level", train=TrainConfig(epochs=5, seed=1)),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_a_single_series_fits_to_the_numbers_of_0_1(name):
    forecaster = RecurrentForecaster(CONFIGS[name]).fit(load_bundled("air_passengers").series(), "MS")
    forecast = forecaster.predict()
    expected = EXPECTED[name]
    for column in ("forecast", "lower_80", "upper_80", "lower_95", "upper_95"):
        np.testing.assert_allclose(forecast[column], expected[column], rtol=1e-4, err_msg=column)
    np.testing.assert_allclose([r.val_loss for r in forecaster.result.history], expected["val"], rtol=1e-4)
