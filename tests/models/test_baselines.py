import numpy as np
import pytest

from hpcast.data import load_bundled
from hpcast.models import arima, drift, naive, seasonal_naive

HISTORY = np.array([1.0, 2.0, 3.0, 5.0, 8.0])


def test_hand_computed_baselines():
    assert naive(HISTORY, 3).tolist() == [8.0, 8.0, 8.0]
    assert seasonal_naive(HISTORY, 5, season=2).tolist() == [5.0, 8.0, 5.0, 8.0, 5.0]
    assert drift(HISTORY, 2).tolist() == [9.75, 11.5]  # slope (8 - 1) / 4


def test_seasonal_naive_needs_a_full_season():
    with pytest.raises(ValueError, match=r"season \(12\) must be in \[1, 5\]"):
        seasonal_naive(HISTORY, 3, season=12)


def test_airline_model_matches_the_published_forecast():
    """Box & Jenkins' airline model on log AirPassengers; reference: R's arima() forecasts for 1961."""
    history = load_bundled("air_passengers").series().to_numpy()
    forecast = arima(history, 12, season=12)
    published = [450.42, 425.72, 479.01, 492.40, 509.05, 583.34, 670.01, 667.08, 558.19, 497.21, 429.87, 477.24]
    np.testing.assert_allclose(forecast, published, rtol=0.01)


def test_non_seasonal_arima_on_a_trend_continues_it():
    history = 100 * np.exp(0.01 * np.arange(80)) * (1 + 0.001 * np.sin(np.arange(80)))
    forecast = arima(history, 5)
    assert forecast[0] > history[-1] and np.all(np.diff(forecast) > 0)
