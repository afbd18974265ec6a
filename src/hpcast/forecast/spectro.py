"""`SpectroForecaster`: the spectrogram CNN on the `Forecaster` protocol.

It predicts the next step's log return from the spectrogram of the ``window`` returns before it, so its
horizon is 1 and its forecast is ``last price x exp(predicted return)``; the sign is the direction.

Two ways to fit, one trainer:
- `fit(series_or_panel)`: one series in memory. The held-out samples split as the recurrent models'
  windows do (`split_windows` with h = 1); the spectrogram normaliser and the target scale are fitted on
  the training samples only.
- `fit_dataset(root)`: many symbols from a memory-mapped spectrogram dataset
  (`hpcast.features.spectrogram_dataset`) read through DataLoader workers; samples dated after the
  dataset's cutoff validate (and calibrate, with a note: a dataset on disk has no later samples).

Intervals are split-conformal on residuals in log space (bands are multiplicative), pooled over symbols.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hpcast.data.panel import Panel
from hpcast.features.spectrogram import SpectrogramNormaliser, log_spectrogram
from hpcast.forecast.base import Forecaster, training_device
from hpcast.forecast.calibration import conformal_calibration
from hpcast.forecast.panel_windows import split_windows
from hpcast.train.batches import Batches, LoaderBatches, TensorBatches

__all__ = ["SpectroForecaster"]


class SpectroForecaster(Forecaster):
    """Fit the spectrogram CNN and forecast the next step with prediction intervals."""

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.normaliser: SpectrogramNormaliser | None = None
        self.target: tuple[float, float] = (0.0, 1.0)  # offset 0, root mean square of training next-step returns

    @property
    def spectrogram(self) -> Any:
        return self.config.model.spectrogram

    @property
    def min_history(self) -> int:
        """Points `predict` needs: a window of returns takes one price more."""
        return self.spectrogram.window + 1

    # -- fitting -------------------------------------------------------------------------------------------
    def _build(self, device: torch.device) -> torch.nn.Module:
        from hpcast.models.spectro_cnn import SpectroCNN

        spec, shape = self.spectrogram, self.config.model
        torch.manual_seed(self.config.train.seed)
        return SpectroCNN(spec.frequencies, spec.frames, tuple(shape.channels), shape.lstm_hidden,  # type: ignore[arg-type]
                          shape.dropout).to(device)

    def _train(self, train_data: Batches, val_data: Batches, device: torch.device, cal_data: Batches | None,
               context: Any) -> None:
        """Train with early stopping on ``val_data``; calibrate the bands on ``cal_data``, later samples that
        chose nothing (a dataset on disk has none yet: its validation samples calibrate, and a note says so)."""
        from hpcast.train.trainer import train

        self.net = self._build(device)
        self.result = train(self.net, train_data, val_data, self.config.train, context)
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

    def _fit(self, panel: Panel, context: Any) -> None:
        from hpcast.features.spectrogram_dataset import in_memory_spectrograms

        if panel.n_series != 1 or len(panel.columns) != 1 or panel.known_future:
            raise ValueError("spectro-cnn trains on one series without covariates in memory; for many symbols "
                             "build a spectrogram dataset (`hpcast features spectrogram`) and train with "
                             "--spectrograms")
        series = panel.series(0)
        spec, train = self.spectrogram, self.config.train
        samples = len(series) - spec.window - 1
        n_train, _, n_val, _ = split_windows(samples, 1, train.val_fraction, train.calibration_fraction)
        if n_train < 2:
            raise ValueError(f"series of {len(series)} points is too short for the spectrogram window "
                             f"({spec.window}) and val_fraction ({train.val_fraction})")
        cutoff = series.index[spec.window + n_train - 1]  # date of the last training sample
        prices = {"series": series}
        X_train, Y_train, (self.normaliser, self.target) = in_memory_spectrograms(prices, spec, cutoff, "train")
        X_val, Y_val, _ = in_memory_spectrograms(prices, spec, cutoff, "val", self.normaliser, self.target)
        if n_val < 1:  # the held-out samples split as the LSTM's windows do (h = 1: no gap)
            raise ValueError(f"series of {len(series)} points leaves {len(Y_val)} held-out sample(s): too few to "
                             "both stop early and calibrate (use a longer series or a larger val_fraction)")
        device = training_device(train.device)
        X_val, Y_val = X_val.to(device), Y_val.to(device)
        self._train(TensorBatches(X_train.to(device), Y_train.to(device)),
                    TensorBatches(X_val[:n_val], Y_val[:n_val]), device,
                    TensorBatches(X_val[n_val:], Y_val[n_val:]), context)
        self.series[panel.symbols[0]]["data"] = {  # the last training sample's target is the next day's return
            "train_windows": len(Y_train), "val_windows": n_val, "calibration_windows": len(Y_val) - n_val,
            "scaler_fitted_through": series.index[spec.window + n_train].date().isoformat()}

    def fit_dataset(self, root: str | Path, freq: str = "B", *, context: Any = None) -> SpectroForecaster:
        """Train on every symbol of a memory-mapped spectrogram dataset, reading through DataLoader workers.

        The STFT settings are the dataset's (it was built with them); the network's come from the config.
        """
        from hpcast.features.spectrogram_dataset import SpectrogramDataset, load_index
        from hpcast.train.context import RunContext

        index = load_index(root)
        model = dataclasses.replace(self.config.model, spectrogram=dataclasses.replace(self.spectrogram,
                                                                                       **index["config"]))
        self.config = dataclasses.replace(self.config, model=model, window=None).resolved(freq)
        train_set, val_set = SpectrogramDataset(root, "train"), SpectrogramDataset(root, "val")
        if len(val_set) == 0:
            raise ValueError(f"{root} has no samples after its cutoff {index['cutoff']} to validate on")
        self.normaliser, self.target = train_set.norm, (train_set.target_mean, train_set.target_std)
        device = training_device(self.config.train.device)
        self._train(LoaderBatches(train_set, self.config.train, device),
                    LoaderBatches(val_set, self.config.train, device), device, None, context or RunContext())
        self.freq = freq
        symbols = index["symbols"]
        self.series = {symbol: {"symbol": symbol, "calendar": None} for symbol in sorted(symbols)}
        self.data_info = {"dataset": str(Path(root).resolve()), "symbols": sorted(symbols),
                          "start": min(e["first"] for e in symbols.values()),
                          "end": max(e["last"] for e in symbols.values()), "train_windows": len(train_set),
                          "val_windows": len(val_set), "scaler_fitted_through": index["cutoff"]}
        return self

    # -- forecasting ---------------------------------------------------------------------------------------
    def predict_returns(self, windows: np.ndarray) -> np.ndarray:
        """Predicted next-step log returns for return windows ``(B, W)``."""
        assert self.net is not None and self.normaliser is not None
        device = next(self.net.parameters()).device
        spec = log_spectrogram(torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float64)),
                               self.spectrogram).to(torch.float32)
        inputs = self.normaliser.transform(spec.double()).float().to(device)
        self.net.eval()
        with torch.no_grad():
            scaled = self.net(inputs)[:, 0].double().cpu().numpy()
        return scaled * self.target[1] + self.target[0]

    def _paths(self, panel: Panel, horizon: int) -> np.ndarray:
        if self.net is None:
            raise RuntimeError("call fit() or load() before predict()")
        W = self.spectrogram.window
        paths = []
        for s in range(panel.n_series):
            values = panel.values[panel.rows(s), 0]
            if len(values) < W + 1:
                raise ValueError(f"history has {len(values)} points; the model needs the last {W + 1}")
            returns = np.diff(np.log(values[-(W + 1):]))
            paths.append([values[-1] * math.exp(float(self.predict_returns(returns[None])[0]))])
        return np.asarray(paths)

    # -- artifacts -----------------------------------------------------------------------------------------
    def _own_manifest(self) -> dict[str, Any]:
        assert self.normaliser is not None
        spec = self.spectrogram
        return {"model": {"kind": self.kind, "class": "SpectroCNN", "frequencies": spec.frequencies,
                          "frames": spec.frames, "horizon": 1},
                "feature_schema": {"inputs": ["log_return spectrogram"], "target": "next log_return",
                                   "window": spec.window, "n_fft": spec.n_fft, "hop": spec.hop, "taper": spec.taper},
                "normaliser": self.normaliser.to_dict(), "target_scale": list(self.target)}

    def _restore(self, manifest: dict[str, Any]) -> torch.nn.Module:
        self.normaliser = SpectrogramNormaliser.from_dict(manifest["normaliser"])
        self.target = tuple(manifest["target_scale"])  # type: ignore[assignment]
        return self._build(torch.device("cpu"))
