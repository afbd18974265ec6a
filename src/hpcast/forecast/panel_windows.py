"""A panel made model-ready: encoded, split by time per series, scaled on training spans, windowed by index.

Per series (encoded values z of length n', windows b = 0..B-1 with B = n' - T - h + 1), `split_windows`
holds out the last ``val_fraction`` of windows; the later ``calibration_fraction`` of those calibrate the
intervals, the earlier ones stop early. Training windows are those whose targets all end before the first
held-out target (h - 1 windows left out), so no target is both trained on and validated on. Calibration
windows come after the stopping ones; their first targets may repeat the last stopping windows' (h - 1
windows), which only the choice of one number, the epoch, has seen. (A second gap of h - 1 windows would
make AirPassengers, 144 months with window 24 and horizon 12, too short to train at all.)

Each series' scalers (target: `hpcast.features.targets.SCALER_FOR_TARGET`; covariates: standard) see
``z[:cutoff]`` only, exactly the rows its training windows touch. Windows are never materialised: a
window is its first row in the stacked buffer, gathered per batch, and never crosses into the next series.

Legend: N' encoded rows of all series, F past columns (target first), K calendar features, S series,
T window, h horizon, B batch, M windows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from hpcast.config import RunConfig
from hpcast.data.panel import Panel
from hpcast.features.scalers import Scaler, fit_scaler
from hpcast.features.targets import SCALER_FOR_TARGET, encode
from hpcast.train.batches import Batch, Batches

__all__ = ["PanelBatches", "PanelWindows", "minimum_points", "prepare_panel", "split_windows"]


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
class PanelWindows:
    """The scaled buffer and every series' window split (module docstring); tensors on the training device.

    ``starts(part)`` gives windows as their first buffer row; `gather` turns rows into the model's input
    ``(M, T, width)`` following `hpcast.models.recurrent`'s layout, `targets` into ``(M, h)`` or ``(M, T, h)``.
    """

    buffer: torch.Tensor  # (N', F) float32, scaled
    future: torch.Tensor | None  # (N', K) float32 calendar features of each row's date, or None
    first_row: np.ndarray  # (S,) buffer row where each series starts
    first_source: np.ndarray  # (S,) the panel row the series' first buffer row dates from
    splits: np.ndarray  # (S, 4): n_train, first_val, n_val, first_cal per series
    windows: np.ndarray  # (S,) windows per series
    scalers: list[tuple[Scaler, Scaler | None]]  # per series: target, covariates
    window: int
    horizon: int
    with_ids: bool

    @property
    def width(self) -> int:
        K = 0 if self.future is None else self.future.shape[1]
        return self.buffer.shape[1] + self.horizon * K + (1 if self.with_ids else 0)

    def starts(self, part: str, stride: int = 1) -> np.ndarray:
        """First rows of the ``part`` windows (train, val, cal; train every ``stride`` steps and its last)."""
        out = []
        for s, (n_train, first_val, n_val, first_cal) in enumerate(self.splits):
            if part == "train":
                local = np.arange(0, n_train, stride)
                if local[-1] != n_train - 1:
                    local = np.append(local, n_train - 1)
            elif part == "val":
                local = np.arange(first_val, first_val + n_val)
            elif part == "cal":
                local = np.arange(first_cal, self.windows[s])
            else:
                raise ValueError(f"part ({part!r}) must be 'train', 'val' or 'cal'")
            out.append(self.first_row[s] + local)
        return np.concatenate(out).astype(np.int64)

    def series_of(self, rows: np.ndarray) -> np.ndarray:
        """The series of each buffer row."""
        return np.searchsorted(self.first_row, rows, side="right") - 1

    def panel_rows(self, rows: np.ndarray) -> np.ndarray:
        """The panel row each buffer row dates from (computed, not stored: no per-row index arrays)."""
        rows = np.asarray(rows)
        s = self.series_of(rows)
        return self.first_source[s] + (rows - self.first_row[s])

    def gather(self, starts: torch.Tensor) -> torch.Tensor:
        """Model inputs ``(B, T, width)`` of the windows starting at buffer rows ``starts (B,)``."""
        rows = starts[:, None] + torch.arange(self.window, device=starts.device)  # (B, T)
        x = self.buffer[rows]  # (B, T, F)
        parts = [x]
        if self.future is not None:
            ahead = rows[:, :, None] + 1 + torch.arange(self.horizon, device=starts.device)  # (B, T, h)
            parts.append(self.future[ahead].flatten(2))  # (B, T, h*K): the dates each step forecasts
        if self.with_ids:
            first = torch.as_tensor(self.first_row, device=starts.device)
            ids = (torch.searchsorted(first, starts, right=True) - 1).to(x.dtype)  # (B,): each window's series
            parts.append(ids[:, None, None].expand(-1, self.window, 1))  # (B, T, 1)
        return torch.cat(parts, dim=-1) if len(parts) > 1 else x

    def targets(self, starts: torch.Tensor, every_step: bool) -> torch.Tensor:
        """Scaled targets after each window ``(B, h)``, or after every step of it ``(B, T, h)``."""
        ahead = torch.arange(self.horizon, device=starts.device)
        if every_step:
            rows = starts[:, None] + torch.arange(self.window, device=starts.device)  # (B, T)
            return self.buffer[rows[:, :, None] + 1 + ahead, 0]  # (B, T, h)
        return self.buffer[starts[:, None] + self.window + ahead, 0]  # (B, h)

    def batches(self, starts: np.ndarray, every_step: bool = False, weights: str = "length") -> PanelBatches:
        return PanelBatches(self, torch.from_numpy(starts).to(self.buffer.device), every_step, weights)


class PanelBatches(Batches):
    """Windows of a `PanelWindows`, gathered per batch on its device (no window is ever copied in advance).

    ``weights="equal"``: each epoch draws as many windows as there are, with replacement, each series equally
    likely (short series are not drowned by long ones); ``"length"``: every window once, shuffled.
    """

    def __init__(self, windows: PanelWindows, starts: torch.Tensor, every_step: bool, weights: str = "length") -> None:
        if weights not in ("length", "equal"):
            raise ValueError(f"series_weights ({weights!r}) must be 'length' or 'equal'")
        self.windows, self.starts, self.every_step = windows, starts, every_step
        self.device = windows.buffer.device
        self.window = windows.window
        self.target_ndim = 3 if every_step else 2
        self.weights = None
        if weights == "equal":
            series = torch.from_numpy(windows.series_of(starts.cpu().numpy()))
            counts = torch.bincount(series, minlength=len(windows.first_row)).double()
            self.weights = 1.0 / counts[series]  # (M,): every series sums to 1

    def __len__(self) -> int:
        return int(self.starts.shape[0])

    def epoch_order(self, generator: torch.Generator) -> torch.Tensor:
        if self.weights is None:
            return torch.randperm(len(self), generator=generator)
        return torch.multinomial(self.weights, len(self), replacement=True, generator=generator)

    def _pair(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        starts = self.starts[index.to(self.device)]
        return self.windows.gather(starts), self.windows.targets(starts, self.every_step)

    def batches(self, order: torch.Tensor, batch_size: int, dist: Any = None) -> Iterator[Batch]:
        workers = dist.world_size if dist is not None else 1
        for first in range(0, len(order), batch_size):
            index = order[first:first + batch_size]
            if index.shape[0] < workers:
                continue  # a last batch too small to give every worker a window (the same on all workers)
            scale = 1.0
            if dist is not None:
                index, scale = dist.shard(index)
            yield (*self._pair(index), scale)

    def in_order(self, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for first in range(0, len(self), batch_size):
            yield self._pair(torch.arange(first, min(first + batch_size, len(self))))


def _too_short(panel: Panel, s: int, config: RunConfig, extra: int) -> ValueError:
    T, h, train = config.window, config.horizon, config.train
    need = minimum_points(T, h, train.val_fraction, train.calibration_fraction, extra=extra)  # type: ignore[arg-type]
    which = f"series {panel.symbols[s]!r} " if panel.n_series > 1 else "series "
    return ValueError(f"{which}of {int(panel.lengths[s])} points is too short for window ({T}), horizon ({h}), "
                      f"val_fraction ({train.val_fraction}) and calibration_fraction ({train.calibration_fraction}): "
                      f"it needs at least {need} points (training, early-stopping and calibration windows)")


def prepare_panel(panel: Panel, config: RunConfig, device: torch.device | str = "cpu", *,
                  with_ids: bool = False) -> PanelWindows:
    """Encode, split every series by time, fit its scalers on its training span only, and index its windows.

    Series by series, straight into one float32 buffer: the only full-size copy of the panel this makes is
    the model's own (half the float64 panel's bytes), so a panel that fits in memory trains in it.
    """
    T, h = config.window, config.horizon
    if T is None or h is None:
        raise ValueError("config must be resolved (window and horizon set); call config.resolved(freq)")
    drop = 1 if config.target == "log_return" else 0  # a log-return has no value at a series' first row
    lengths = panel.lengths - drop
    first_row = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    fractions = config.train.val_fraction, config.train.calibration_fraction
    scaled = np.empty((int(lengths.sum()), panel.values.shape[1]), dtype=np.float32)  # (N', F)
    splits, windows, scalers = [], [], []
    for s in range(panel.n_series):
        count = int(lengths[s]) - T - h + 1
        split = split_windows(max(count, 0), h, *fractions)
        if min(count, split[0], split[2], count - split[3]) < 1:
            raise _too_short(panel, s, config, drop)
        raw = panel.values[panel.rows(s)]  # (n, F) view
        z = encode(raw[:, 0], config.target)  # (n - drop,)
        covariates = raw[drop:, 1:]  # (n - drop, F - 1) view, aligned with z
        cutoff = split[1] + T  # the training windows touch z[:cutoff] only
        rows = slice(int(first_row[s]), int(first_row[s] + lengths[s]))
        target_scaler = fit_scaler(SCALER_FOR_TARGET[config.target], z[:cutoff])
        scaled[rows, 0] = target_scaler.transform(z)  # float64 arithmetic, stored as float32
        covariate_scaler = None
        if covariates.shape[1]:
            covariate_scaler = fit_scaler("standard", covariates[:cutoff])
            scaled[rows, 1:] = covariate_scaler.transform(covariates)
        splits.append(split)
        windows.append(count)
        scalers.append((target_scaler, covariate_scaler))
    future = None
    if "calendar" in panel.known_future:
        from hpcast.features.calendar_features import calendar_features

        future = np.concatenate([calendar_features(panel.index(s)[drop:], panel.freq, panel.calendars[s])
                                 for s in range(panel.n_series)])
        future = torch.from_numpy(future.astype(np.float32)).to(device)  # (N', K)
    return PanelWindows(torch.from_numpy(scaled).to(device), future, first_row, panel.offsets[:-1] + drop,
                        np.asarray(splits, dtype=np.int64), np.asarray(windows, dtype=np.int64), scalers,
                        int(T), int(h), with_ids and panel.n_series > 1)
