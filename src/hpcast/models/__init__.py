"""Models: the PyTorch LSTM (`hpcast.models.lstm`, imported on use) and the baselines."""

from hpcast.models.baselines import BASELINES, arima, drift, naive, seasonal_naive

__all__ = ["BASELINES", "arima", "drift", "naive", "seasonal_naive"]
