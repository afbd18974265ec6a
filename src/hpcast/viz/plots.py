"""PNG plots for run folders: prices with moving averages, the forecast fan, backtest predictions against
actuals, and the training loss curve. Drawn on `matplotlib.figure.Figure` objects, never through pyplot's
state: a job that writes plots leaves the process's backend alone (a notebook keeps its inline figures)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from hpcast.features.transforms import moving_average

__all__ = ["backtest_plot", "forecast_fan", "loss_curve", "price_with_moving_averages", "spectrogram_plot",
           "var_plot"]

_COLORS = {"lstm": "#d62728", "naive": "#7f7f7f", "seasonal_naive": "#9467bd", "drift": "#8c564b",
           "arima": "#2ca02c", "garch": "#1f77b4", "ewma": "#ff7f0e", "hist-sim": "#17becf", "har": "#bcbd22"}


def _figure(title: str, ylabel: str) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.8), dpi=110)
    ax = fig.subplots()
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    return fig, ax


def _save(fig: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    return path


def price_with_moving_averages(series: pd.Series, path: str | Path, windows: Sequence[int] = (100, 200),
                               title: str = "") -> Path:
    """The series with trailing moving averages (MA100/MA200 by default)."""
    fig, ax = _figure(title or f"{series.name} with moving averages", str(series.name))
    ax.plot(series.index, series.to_numpy(), lw=1, color="#1f77b4", label=str(series.name))
    for window, color in zip(windows, ("#ff7f0e", "#2ca02c", "#9467bd"), strict=False):
        if window < len(series):
            ax.plot(series.index, moving_average(series, window), lw=1.2, color=color, label=f"MA{window}")
    ax.legend(loc="upper left")
    return _save(fig, path)


def forecast_fan(history: pd.Series, forecast: pd.DataFrame, path: str | Path, title: str = "",
                 context: int = 250) -> Path:
    """Last ``context`` observations, the forecast and its prediction intervals as shaded bands."""
    fig, ax = _figure(title or f"{history.name}: forecast with prediction intervals", str(history.name))
    tail = history.iloc[-context:]
    ax.plot(tail.index, tail.to_numpy(), lw=1.2, color="#1f77b4", label="observed")
    levels = sorted({int(c.split("_")[1]) for c in forecast.columns if c.startswith("lower_")}, reverse=True)
    for level, alpha in zip(levels, (0.18, 0.32, 0.45), strict=False):
        ax.fill_between(forecast["date"], forecast[f"lower_{level}"], forecast[f"upper_{level}"],
                        color="#d62728", alpha=alpha, lw=0, label=f"{level}% interval")
    dates = [tail.index[-1], *forecast["date"]]
    ax.plot(dates, [tail.iloc[-1], *forecast["forecast"]], lw=1.6, color="#d62728", label="forecast")
    ax.legend(loc="upper left")
    return _save(fig, path)


def backtest_plot(history: pd.Series, predictions: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Each model's walk-forward forecasts against the actual series over the backtest span."""
    fig, ax = _figure(title or f"{history.name}: walk-forward backtest", str(history.name))
    start = predictions["origin"].min()
    context = history[history.index >= start - (predictions["date"].max() - start)]
    ax.plot(context.index, context.to_numpy(), lw=1.4, color="black", label="actual")
    one_step = predictions["step"].max() == 1 if "step" in predictions else False
    for model, group in predictions.groupby("model", sort=False):
        folds = [group] if one_step else [fold for _, fold in group.groupby("fold")]  # daily origins: one line
        for k, fold in enumerate(folds):
            ax.plot(fold["date"], fold["forecast"], lw=1.2, color=_COLORS.get(str(model)),
                    label=str(model) if k == 0 else None, alpha=0.9 if model == "lstm" else 0.6)
    origins = predictions["origin"].unique()
    for origin in origins if len(origins) <= 30 else ():  # more would hide the lines
        ax.axvline(origin, color="#bbbbbb", lw=0.8, ls="--")
    ax.legend(loc="upper left", ncol=3)
    return _save(fig, path)


def var_plot(rows: pd.DataFrame, level: float, path: str | Path, title: str = "") -> Path:
    """Realised one-step log returns against each model's VaR line at ``level``, its exceptions marked
    (``rows``: `hpcast.evaluate.bands.var_returns` of one series)."""
    fig, ax = _figure(title or f"{level:.1%} value at risk, one step ahead", "log return")
    first = rows[rows["model"] == rows["model"].iloc[0]]
    ax.bar(first["date"], first["return"], width=1.0, color="#999999", label="realised return")
    for model, group in rows.groupby("model", sort=False):
        color = _COLORS.get(str(model))
        ax.plot(group["date"], group["var"], lw=1.2, color=color, label=f"{model} VaR")
        hits = group[group["return"] < group["var"]]
        ax.scatter(hits["date"], hits["return"], marker="x", s=36, color=color or "black", zorder=3,
                   label=f"{model}: {len(hits)} exceptions in {len(group)} days")
    ax.legend(loc="lower left", ncol=2, fontsize=8)
    return _save(fig, path)


def loss_curve(history: Sequence[Any], path: str | Path, title: str = "Training loss") -> Path:
    """Train and validation loss per epoch (log scale), with the best epoch marked."""
    fig, ax = _figure(title, "loss")
    epochs = [r.epoch for r in history]
    ax.plot(epochs, [r.train_loss for r in history], marker="o", ms=3, label="train")
    ax.plot(epochs, [r.val_loss for r in history], marker="o", ms=3, label="validation")
    best = min(history, key=lambda r: r.val_loss)
    ax.axvline(best.epoch, color="#bbbbbb", ls="--", label=f"best epoch {best.epoch}")
    ax.set_xlabel("epoch")
    ax.set_yscale("log")
    ax.legend()
    fig.autofmt_xdate = lambda *a, **k: None  # epochs are not dates
    return _save(fig, path)


def spectrogram_plot(prices: pd.Series, config: Any, path: Path, samples: int = 3) -> Path:
    """A few spectrograms (evenly spaced sample dates), each under the prices of the window it came from."""
    import matplotlib.dates
    import numpy as np
    import torch

    from hpcast.features.spectrogram import log_spectrogram, return_windows

    dates, windows = return_windows(prices, config.window)
    picks = np.linspace(0, len(dates) - 1, samples).round().astype(int)
    fig, axes = _figure("", "")[0], None
    fig.clf()
    axes = fig.subplots(2, samples, gridspec_kw={"height_ratios": [1, 1.3]}, squeeze=False)
    for column, pick in enumerate(picks):
        end = prices.index.get_loc(dates[pick])
        span = prices.iloc[end - config.window:end + 1]
        axes[0, column].plot(span.index, span.to_numpy(), linewidth=1)
        axes[0, column].set_title(f"window ending {dates[pick].date()}", fontsize=9)
        axes[0, column].tick_params(labelsize=7)
        axes[0, column].xaxis.set_major_locator(matplotlib.dates.AutoDateLocator(maxticks=4))
        spectrum = log_spectrogram(torch.from_numpy(windows[pick].copy()), config).numpy()
        image = axes[1, column].imshow(spectrum, origin="lower", aspect="auto", cmap="magma")
        axes[1, column].set_xlabel(f"frame (hop {config.hop})", fontsize=8)
        axes[1, column].set_ylabel("frequency bin" if column == 0 else "", fontsize=8)
        fig.colorbar(image, ax=axes[1, column], fraction=0.05, label="log |STFT|" if column == samples - 1 else None)
    fig.suptitle(f"{prices.name or 'series'}: log-return spectrograms (window {config.window}, n_fft {config.n_fft})")
    fig.tight_layout()
    fig.savefig(path)
    return path
