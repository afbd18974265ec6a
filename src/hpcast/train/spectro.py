"""`SpectroForecaster`: the spectrogram CNN as an estimator with the same face as `LSTMForecaster`.

It predicts the next step's log return from the spectrogram of the ``window`` returns before it, so its
horizon is 1 and its forecast is ``last price x exp(predicted return)``; the sign is the direction.

Two ways to fit, one trainer:
- `fit(series, freq)`: one series in memory. The last ``val_fraction`` of samples validate; the
  spectrogram normaliser and the target scale are fitted on the training samples only.
- `fit_dataset(root)`: many symbols from a memory-mapped spectrogram dataset (`hpcast.train.spectro_data`)
  read through DataLoader workers; samples dated after the dataset's cutoff validate.

Intervals are split-conformal on the validation residuals, in log space (bands are multiplicative).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from hpcast.config import RunConfig
from hpcast.data.calendars import future_dates, resolve_calendar
from hpcast.features.spectrogram import SpectrogramConfig, SpectrogramNormaliser, log_spectrogram
from hpcast.models.spectro_cnn import SpectroCNN
from hpcast.train.artifacts import SavedModel, fingerprint, read_artifact
from hpcast.train.batches import Batches, LoaderBatches, TensorBatches
from hpcast.train.forecaster import conformal_calibration, interval_columns, split_windows, training_device
from hpcast.train.trainer import TrainResult, train

__all__ = ["SpectroForecaster", "load_forecaster", "spectrogram_config"]


def spectrogram_config(config: RunConfig) -> SpectrogramConfig:
    s = config.spectro
    return SpectrogramConfig(s.window, s.n_fft, s.hop, s.taper)


class SpectroForecaster(SavedModel):
    """Fit the spectrogram CNN and forecast the next step with prediction intervals."""

    def __init__(self, config: RunConfig | None = None) -> None:
        self.config = dataclasses.replace(config or RunConfig(), architecture="spectro-cnn")
        self.freq: str | None = None
        self.calendar: str | None = None
        self.net: SpectroCNN | None = None
        self.normaliser: SpectrogramNormaliser | None = None
        self.target: tuple[float, float] = (0.0, 1.0)  # offset 0, root mean square of training next-step returns
        self.calibration: dict[str, Any] = {}
        self.history: pd.Series | None = None
        self.result: TrainResult | None = None
        self.data_info: dict[str, Any] = {}

    # -- fitting ---------------------------------------------------------------------------------------
    def _build(self, device: torch.device) -> SpectroCNN:
        spec = spectrogram_config(self.config)
        torch.manual_seed(self.config.train.seed)
        shape = self.config.spectro
        return SpectroCNN(spec.frequencies, spec.frames, tuple(shape.channels), shape.lstm_hidden,  # type: ignore[arg-type]
                          shape.dropout).to(device)

    def _train(self, train_data: Batches, val_data: Batches, device: torch.device, cal_data: Batches | None = None,
               **options: Any) -> None:
        """Train with early stopping on ``val_data``; calibrate the bands on ``cal_data``, later samples that
        chose nothing (a dataset on disk has none yet: its validation samples calibrate, and a note says so)."""
        self.net = self._build(device)
        self.result = train(self.net, train_data, val_data, self.config.train, **options)
        residuals = []
        self.net.eval()
        with torch.no_grad():
            for inputs, targets in (cal_data or val_data).in_order(1024):
                residuals.append(((self.net(inputs) - targets) * self.target[1]).abs().double().cpu().numpy())
        absolute = np.concatenate(residuals)  # (n, 1): |log-return error| = |log actual - log forecast|
        self.calibration = conformal_calibration(absolute, self.config.interval_levels, "log")
        if cal_data is None:
            self.calibration["notes"].append("calibrated on the early-stopping samples, which chose the epoch: "
                                             "the bands may be a little narrow")

    def fit(self, series: pd.Series, freq: str, *, calendar: str | None = None, progress: Any = None,
            checkpoint_dir: str | Path | None = None, resume: bool = False, dist: Any = None,
            profile_dir: str | Path | None = None) -> SpectroForecaster:
        """Train on one series (float prices indexed by increasing dates) sampled at ``freq``, dated on
        ``calendar`` when daily (as `LSTMForecaster.fit`)."""
        from hpcast.train.spectro_data import in_memory_spectrograms

        calendar = resolve_calendar(calendar, freq)  # an unknown name fails before training, not after
        self.config = self.config.resolved(freq)
        spec = spectrogram_config(self.config)
        samples = len(series) - spec.window - 1
        train = self.config.train
        n_train, _, n_val, _ = split_windows(samples, 1, train.val_fraction, train.calibration_fraction)
        if n_train < 2:
            raise ValueError(f"series of {len(series)} points is too short for the spectrogram window "
                             f"({spec.window}) and val_fraction ({train.val_fraction})")
        cutoff = series.index[spec.window + n_train - 1]  # date of the last training sample
        prices = {"series": series}
        X_train, Y_train, (self.normaliser, self.target) = in_memory_spectrograms(prices, spec, cutoff, "train")
        X_val, Y_val, _ = in_memory_spectrograms(prices, spec, cutoff, "val", self.normaliser, self.target)
        device = training_device(self.config.train.device)
        if n_val < 1:  # the held-out samples split as the LSTM's windows do (h = 1: no gap)
            raise ValueError(f"series of {len(series)} points leaves {len(Y_val)} held-out sample(s): too few to "
                             "both stop early and calibrate (use a longer series or a larger val_fraction)")
        X_val, Y_val = X_val.to(device), Y_val.to(device)
        self._train(TensorBatches(X_train.to(device), Y_train.to(device)),
                    TensorBatches(X_val[:n_val], Y_val[:n_val]), device,
                    TensorBatches(X_val[n_val:], Y_val[n_val:]), checkpoint_dir=checkpoint_dir,
                    resume=resume, progress=progress, dist=dist, profile_dir=profile_dir)
        self.freq, self.calendar, self.history = freq, calendar, series
        self.data_info = {"fingerprint": fingerprint(series), "rows": len(series), "column": series.name,
                          "start": series.index[0].date().isoformat(), "end": series.index[-1].date().isoformat(),
                          "train_windows": len(Y_train), "val_windows": n_val,
                          "calibration_windows": len(Y_val) - n_val,
                          "scaler_fitted_through": cutoff.date().isoformat()}
        return self

    def fit_dataset(self, root: str | Path, freq: str = "B", *, progress: Any = None,
                    checkpoint_dir: str | Path | None = None,
                    profile_dir: str | Path | None = None) -> SpectroForecaster:
        """Train on every symbol of a memory-mapped spectrogram dataset, reading through DataLoader workers.

        The STFT settings are the dataset's (it was built with them); the network's come from the config.
        """
        from hpcast.train.spectro_data import SpectrogramDataset, load_index

        index = load_index(root)
        spectro = dataclasses.replace(self.config.spectro, **index["config"])
        self.config = dataclasses.replace(self.config, spectro=spectro).resolved(freq)
        train_set, val_set = SpectrogramDataset(root, "train"), SpectrogramDataset(root, "val")
        if len(val_set) == 0:
            raise ValueError(f"{root} has no samples after its cutoff {index['cutoff']} to validate on")
        self.normaliser, self.target = train_set.norm, (train_set.target_mean, train_set.target_std)
        device = training_device(self.config.train.device)
        self._train(LoaderBatches(train_set, self.config.train, device),
                    LoaderBatches(val_set, self.config.train, device), device, checkpoint_dir=checkpoint_dir,
                    progress=progress, profile_dir=profile_dir)
        self.freq = freq
        symbols = index["symbols"]
        self.data_info = {"dataset": str(Path(root).resolve()), "symbols": sorted(symbols),
                          "start": min(e["first"] for e in symbols.values()),
                          "end": max(e["last"] for e in symbols.values()), "train_windows": len(train_set),
                          "val_windows": len(val_set), "scaler_fitted_through": index["cutoff"]}
        return self

    # -- forecasting -----------------------------------------------------------------------------------
    @property
    def min_history(self) -> int:
        """Points `predict` needs: a window of returns takes one price more."""
        return self.config.spectro.window + 1

    def predict_returns(self, windows: np.ndarray) -> np.ndarray:
        """Predicted next-step log returns for return windows ``(B, W)``."""
        assert self.net is not None and self.normaliser is not None
        device = next(self.net.parameters()).device
        spec = log_spectrogram(torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float64)),
                               spectrogram_config(self.config)).to(torch.float32)
        inputs = self.normaliser.transform(spec.double()).float().to(device)
        self.net.eval()
        with torch.no_grad():
            scaled = self.net(inputs)[:, 0].double().cpu().numpy()
        return scaled * self.target[1] + self.target[0]

    def predict(self, history: pd.Series | None = None, horizon: int | None = None) -> pd.DataFrame:
        """Forecast the step after ``history`` (default: the fitted series): date, forecast, bands."""
        if self.net is None or self.freq is None:
            raise RuntimeError("call fit() or load() before predict()")
        history = self.history if history is None else history
        assert history is not None
        if horizon not in (None, 1):
            raise ValueError(f"horizon ({horizon}) must be 1: spectro-cnn forecasts the next step only")
        W = spectrogram_config(self.config).window
        values = history.to_numpy(dtype=np.float64)
        if len(values) < W + 1:
            raise ValueError(f"history has {len(values)} points; the model needs the last {W + 1}")
        returns = np.diff(np.log(values[-(W + 1):]))
        forecast = values[-1] * math.exp(float(self.predict_returns(returns[None])[0]))
        date = future_dates(history.index, self.freq, 1, self.calendar)[0]
        frame = pd.DataFrame({"date": [date], "forecast": [forecast]})
        for level, quantiles in self.calibration["quantiles"].items():
            lower, upper = interval_columns(float(level))
            frame[lower], frame[upper] = forecast * math.exp(-quantiles[0]), forecast * math.exp(quantiles[0])
        return frame

    # -- artifacts -------------------------------------------------------------------------------------
    def _own_manifest(self) -> dict[str, Any]:
        assert self.normaliser is not None
        spec = spectrogram_config(self.config)
        return {"model": {"class": "SpectroCNN", "frequencies": spec.frequencies, "frames": spec.frames, "horizon": 1},
                "feature_schema": {"inputs": ["log_return spectrogram"], "target": "next log_return",
                                   "window": spec.window, "n_fft": spec.n_fft, "hop": spec.hop, "taper": spec.taper},
                "normaliser": self.normaliser.to_dict(), "target_scale": list(self.target)}

    def _restore(self, manifest: dict[str, Any]) -> SpectroCNN:
        self.normaliser = SpectrogramNormaliser.from_dict(manifest["normaliser"])
        self.target = tuple(manifest["target_scale"])  # type: ignore[assignment]
        return self._build(torch.device("cpu"))


def load_forecaster(folder: str | Path, history: pd.Series | None = None) -> Any:
    """Whichever forecaster a model folder holds (its manifest names the network), rebuilt without pickle."""
    from hpcast.train.forecaster import LSTMForecaster

    weights, manifest = read_artifact(folder)  # read and hashed once, whichever network it holds
    estimator = SpectroForecaster if manifest["model"]["class"] == "SpectroCNN" else LSTMForecaster
    return estimator.from_artifact(weights, manifest, history)
