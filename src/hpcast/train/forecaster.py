"""`LSTMForecaster`: the estimator over date-indexed series (fit, predict, save, load).

It owns what the network must not know: target encoding, the time-ordered split, the scaler (fitted on
the training span only), conformal calibration and the artifact. The network (`LSTMNet`) only sees tensors.

Split (indices into the encoded series z of length N', windows b = 0..B-1 with B = N' - T - h + 1):
the last ``val_fraction`` of windows are held out, and the later ``calibration_fraction`` of those
calibrate the intervals; the earlier ones validate (early stopping). Training windows are those whose
targets all end before the first held-out target (h - 1 windows left out), so no target is ever both
trained on and validated on. Calibration windows are disjoint from the early-stopping ones and come
after them; their first targets may repeat the last stopping windows' (h - 1 windows), which only the
choice of one number, the epoch, has seen. A second gap of h - 1 windows would make AirPassengers
(144 months, window 24, horizon 12) too short to train at all. The scaler sees ``z[:cutoff]`` only,
exactly the values the training windows touch.

Intervals are split-conformal: absolute residuals of the calibration windows (which chose nothing: not
the weights, not the epoch), per horizon step, in log space for the log-return target (so bands are
multiplicative) and in price space for the level target. A band never narrows with the horizon step.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from hpcast.config import RunConfig
from hpcast.data.calendars import future_dates, resolve_calendar
from hpcast.features.scalers import Scaler, fit_scaler
from hpcast.features.targets import SCALER_FOR_TARGET, decode, encode
from hpcast.features.windows import every_step_targets, supervised_windows
from hpcast.kernels.dispatch import resolve
from hpcast.models.lstm import LSTMNet
from hpcast.train.artifacts import SavedModel, fingerprint
from hpcast.train.trainer import TrainResult, train

__all__ = ["LSTMForecaster", "Prepared", "conformal_calibration", "interval_columns", "minimum_points", "prepare",
           "residuals_needed", "split_windows", "training_device"]


def training_device(choice: str) -> torch.device:
    """``auto``: CUDA when torch sees a GPU, else CPU; ``cuda`` without a GPU is an error, not a fallback."""
    if choice == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for, but torch sees no CUDA GPU (use --device auto or cpu)")
    if choice not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device ({choice!r}) must be 'auto', 'cpu' or 'cuda'")
    return torch.device("cuda" if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()) else "cpu")


def interval_columns(level: float) -> tuple[str, str]:
    pct = round(level * 100)
    return f"lower_{pct}", f"upper_{pct}"


def _conformal_quantile(residuals: np.ndarray, level: float) -> np.ndarray:
    """Per-column finite-sample conformal quantile: the ceil((n+1)·level)-th smallest residual.

    With too few residuals for that rank the largest one is used (the band is then a little narrow;
    backtests report the coverage actually reached).
    """
    n = residuals.shape[0]
    rank = min(math.ceil((n + 1) * level), n)
    return np.sort(residuals, axis=0)[rank - 1]


def residuals_needed(level: float) -> int:
    """The fewest residuals whose conformal rank ceil((n+1)·level) exists: 4 for 80%, 19 for 95%."""
    n = 1
    while math.ceil(round((n + 1) * level, 9)) > n:
        n += 1
    return n


def conformal_calibration(residuals: np.ndarray, levels: tuple[float, ...], space: str) -> dict[str, Any]:
    """Per-step conformal quantiles of absolute ``residuals (n, h)``, made non-decreasing over the steps.

    A later step's band is never narrower than an earlier one's (the uncertainty of step k includes that of
    the steps before it; residual noise would otherwise let it shrink). Where ``n`` is below
    `residuals_needed` for a level, the band uses the largest residual and a note says so.
    """
    n = int(residuals.shape[0])
    notes = [f"the {level:.0%} band rests on {n} calibration residuals; a split-conformal {level:.0%} band "
             f"needs at least {residuals_needed(level)}, so it uses the largest one and may cover less than "
             f"{level:.0%}" for level in levels if n < residuals_needed(level)]
    return {"space": space, "windows": n, "notes": notes,
            "quantiles": {f"{level:g}": np.maximum.accumulate(_conformal_quantile(residuals, level)).tolist()
                          for level in levels}}


def split_windows(windows: int, horizon: int, val_fraction: float, calibration_fraction: float) -> tuple[int, ...]:
    """``(n_train, first_val, n_val, first_cal)`` for ``windows`` time-ordered windows (module docstring).

    Training windows are ``[0, n_train)``, validation ``[first_val, first_val + n_val)``, calibration
    ``[first_cal, windows)``, with h - 1 windows between training and validation. A count below 1 means
    the series is too short.
    """
    held_out = max(1, round(windows * val_fraction))
    first_val = windows - held_out
    first_cal = windows - max(1, round(held_out * calibration_fraction))
    return first_val - horizon + 1, first_val, first_cal - first_val, first_cal


def minimum_points(window: int, horizon: int, val_fraction: float, calibration_fraction: float,
                   extra: int = 0) -> int:
    """The fewest series points for which every part of `split_windows` has a window (``extra``: points the
    target encoding drops, 1 for log-returns)."""
    windows = 1
    while True:
        n_train, _, n_val, first_cal = split_windows(windows, horizon, val_fraction, calibration_fraction)
        if min(n_train, n_val, windows - first_cal) >= 1:
            return windows + window + horizon - 1 + extra
        windows += 1


@dataclass(frozen=True)
class Prepared:
    """Model-ready tensors for one series. ``X (B, T, 1)`` and ``Y (B, h)`` are views of ``scaled (N',)``."""

    scaler: Scaler
    scaled: torch.Tensor
    X: torch.Tensor
    Y: torch.Tensor
    n_train: int
    first_val: int
    n_val: int
    first_cal: int
    cutoff_position: int  # position in the series of the last value the training span (and scaler) sees

    @property
    def train_xy(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.X[:self.n_train], self.Y[:self.n_train]

    @property
    def val_xy(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The early-stopping windows."""
        end = self.first_val + self.n_val
        return self.X[self.first_val:end], self.Y[self.first_val:end]

    @property
    def n_cal(self) -> int:
        return len(self.X) - self.first_cal

    def every_step_xy(self, stride: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Training windows every ``stride`` steps (and the last one) with a target per step: ``X (M, T, 1)``,
        ``Y (M, T, h)``. The targets are exactly those the single-target training windows reach."""
        T, h = self.X.shape[1], self.Y.shape[1]
        starts = torch.arange(0, self.n_train, stride)
        if int(starts[-1]) != self.n_train - 1:
            starts = torch.cat([starts, torch.tensor([self.n_train - 1])])
        return self.X[starts], every_step_targets(self.scaled, T, h)[starts]

    def recipe_train_xy(self, targets: str, stride: int) -> tuple[tuple[torch.Tensor, torch.Tensor], int]:
        """The training set the recipe asks for, and the window stride used (``stride`` 0: window // 10)."""
        if targets == "last":
            return self.train_xy, 1
        stride = stride or max(1, self.X.shape[1] // 10)
        return self.every_step_xy(stride), stride


def prepare(series: pd.Series, config: RunConfig) -> Prepared:
    """Encode, split by time, fit the scaler on the training span only, and window (see module docstring)."""
    T, h = config.window, config.horizon
    if T is None or h is None:
        raise ValueError("config must be resolved (window and horizon set); call config.resolved(freq)")
    z = encode(series.to_numpy(dtype=np.float64), config.target)  # (N',)
    offset = len(series) - len(z)
    windows = len(z) - T - h + 1
    fractions = config.train.val_fraction, config.train.calibration_fraction
    n_train, first_val, n_val, first_cal = split_windows(max(windows, 0), h, *fractions)
    if min(windows, n_train, n_val, windows - first_cal) < 1:
        need = minimum_points(T, h, *fractions, extra=offset)
        raise ValueError(f"series of {len(series)} points is too short for window ({T}), horizon ({h}), "
                         f"val_fraction ({fractions[0]}) and calibration_fraction ({fractions[1]}): it needs at "
                         f"least {need} points (training, early-stopping and calibration windows)")
    cutoff = first_val + T  # training windows touch z[:cutoff] only
    scaler = fit_scaler(SCALER_FOR_TARGET[config.target], z[:cutoff])
    scaled = torch.from_numpy(scaler.transform(z).astype(np.float32))  # (N',)
    X, Y = supervised_windows(scaled[:, None], scaled, T, h)  # (B, T, 1), (B, h)
    return Prepared(scaler, scaled, X, Y, int(n_train), int(first_val), int(n_val), int(first_cal),
                    cutoff - 1 + offset)


class LSTMForecaster(SavedModel):
    """Fit an LSTM on one series and forecast ``horizon`` steps with prediction intervals.

    Example:
        >>> from hpcast.data import load_bundled
        >>> f = LSTMForecaster(RunConfig()).fit(load_bundled("air_passengers").series(), "MS")  # doctest: +SKIP
        >>> f.predict().columns.tolist()  # doctest: +SKIP
        ['date', 'forecast', 'lower_80', 'upper_80', 'lower_95', 'upper_95']
    """

    def __init__(self, config: RunConfig | None = None) -> None:
        self.config = config or RunConfig()
        self.freq: str | None = None
        self.calendar: str | None = None
        self.net: LSTMNet | None = None
        self.scaler: Scaler | None = None
        self.calibration: dict[str, Any] = {}
        self.history: pd.Series | None = None
        self.result: TrainResult | None = None
        self.data_info: dict[str, Any] = {}

    # -- fitting ---------------------------------------------------------------------------------------
    def fit(self, series: pd.Series, freq: str, *, calendar: str | None = None, progress: Any = None,
            checkpoint_dir: str | Path | None = None, resume: bool = False, dist: Any = None,
            profile_dir: str | Path | None = None) -> LSTMForecaster:
        """Train on ``series`` (float values indexed by increasing dates) sampled at ``freq``; a daily series is
        dated on ``calendar`` (`hpcast.data.calendars.CALENDARS`; default weekdays for ``B``), which `predict`
        continues."""
        calendar = resolve_calendar(calendar, freq)  # an unknown name fails before training, not after
        config = self.config = self.config.resolved(freq)
        prepared = prepare(series, config)
        self.scaler = prepared.scaler
        device = training_device(config.train.device)
        if dist is not None and device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))  # one GPU per worker
        chosen, stride = prepared.recipe_train_xy(config.train.targets, config.train.stride)
        train_xy = tuple(t.to(device) for t in chosen)  # the whole dataset stays on the device
        val_xy = tuple(t.to(device) for t in prepared.val_xy)
        if config.train.kernels == "triton":
            resolve("triton", train_xy[0])  # fail before training when Triton cannot run here
        torch.manual_seed(config.train.seed)
        self.net = LSTMNet(config.model, input_size=1, horizon=prepared.Y.shape[1],
                           kernels=config.train.kernels).to(device)
        self.result = train(self.net, train_xy, val_xy, config.train,
                            checkpoint_dir=checkpoint_dir, resume=resume, progress=progress, dist=dist,
                            profile_dir=profile_dir)
        self.result.recipe["stride"] = stride
        self.freq, self.calendar, self.history = freq, calendar, series
        self.calibration = self._calibrate(series.to_numpy(dtype=np.float64), prepared.first_cal, prepared.n_cal)
        self.data_info = {"fingerprint": fingerprint(series), "rows": len(series), "column": series.name,
                          "start": series.index[0].date().isoformat(), "end": series.index[-1].date().isoformat(),
                          "train_windows": prepared.n_train, "val_windows": prepared.n_val,
                          "calibration_windows": prepared.n_cal,
                          "scaler_fitted_through": series.index[prepared.cutoff_position].date().isoformat()}
        return self

    def _calibrate(self, values: np.ndarray, first_cal: int, n_cal: int) -> dict[str, Any]:
        h = self.config.horizon
        starts = first_cal + np.arange(n_cal)
        windows = values[starts[:, None] + np.arange(self.min_history)]  # what each validation window saw
        actual = values[(starts + self.min_history)[:, None] + np.arange(h)]  # (B, h)
        predicted = self.forecast_paths(windows)
        log_space = self.config.target == "log_return"
        residuals = np.abs(np.log(actual) - np.log(predicted)) if log_space else np.abs(actual - predicted)
        return conformal_calibration(residuals, self.config.interval_levels, "log" if log_space else "linear")

    # -- forecasting -----------------------------------------------------------------------------------
    @property
    def min_history(self) -> int:
        """Points `predict` needs before its first forecast."""
        assert self.config.window is not None
        return self.config.window + (1 if self.config.target == "log_return" else 0)

    def forecast_paths(self, windows: np.ndarray) -> np.ndarray:
        """Point forecasts ``(B, h)`` for ``B`` windows of raw values ``(B, min_history)``, in one batch.

        `predict` is this for the end of one history, plus dates and bands; calibration and benchmarks
        score many windows at once through it.
        """
        if self.net is None or self.scaler is None:
            raise RuntimeError("call fit() or load() before forecast_paths()")
        windows = np.asarray(windows, dtype=np.float64)
        if windows.ndim != 2 or windows.shape[1] != self.min_history:
            raise ValueError(f"windows must have shape (B, {self.min_history}), got {windows.shape}")
        z = self.scaler.transform(encode(windows, self.config.target))  # (B, T)
        X = torch.from_numpy(z.astype(np.float32))[:, :, None]  # (B, T, 1)
        self.net.eval()
        with torch.no_grad():
            scaled = self.net(X.to(next(self.net.parameters()).device)).double().cpu().numpy()  # (B, h)
        return decode(self.scaler.inverse(scaled), windows[:, -1], self.config.target)

    def predict(self, history: pd.Series | None = None, horizon: int | None = None) -> pd.DataFrame:
        """Forecast from the end of ``history`` (default: the fitted series): date, forecast, bands."""
        if self.net is None or self.freq is None:
            raise RuntimeError("call fit() or load() before predict()")
        history = self.history if history is None else history
        assert history is not None
        h, need = self.config.horizon, self.min_history
        horizon = horizon or h
        if not 1 <= horizon <= h:
            raise ValueError(f"horizon ({horizon}) must be in [1, {h}] (the model was trained for {h} steps)")
        values = history.to_numpy(dtype=np.float64)
        if len(values) < need:
            raise ValueError(f"history has {len(values)} points; the model needs the last {need}")
        path = self.forecast_paths(values[None, -need:])[0, :horizon]
        dates = future_dates(history.index, self.freq, horizon, self.calendar)  # its anchor, its exchange's sessions
        frame = pd.DataFrame({"date": dates, "forecast": path})
        for level, quantiles in self.calibration["quantiles"].items():
            q = np.asarray(quantiles[:horizon])
            lower, upper = interval_columns(float(level))
            if self.calibration["space"] == "log":
                frame[lower], frame[upper] = path * np.exp(-q), path * np.exp(q)
            else:
                frame[lower], frame[upper] = path - q, path + q
        return frame

    # -- artifacts -------------------------------------------------------------------------------------
    def _own_manifest(self) -> dict[str, Any]:
        assert self.scaler is not None
        return {"model": {"class": "LSTMNet", "input_size": 1, "horizon": self.config.horizon},
                "feature_schema": {"inputs": [self.config.target], "target": self.config.target,
                                   "window": self.config.window, "scaler": self.scaler.kind},
                "scaler": self.scaler.to_dict()}

    def _restore(self, manifest: dict[str, Any]) -> LSTMNet:
        self.scaler = Scaler.from_dict(manifest["scaler"])
        return LSTMNet(self.config.model, input_size=manifest["model"]["input_size"],
                       horizon=manifest["model"]["horizon"], kernels="auto")  # whatever runs here
