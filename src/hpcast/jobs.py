"""Whole jobs that write a run folder: train, backtest, forecast, plot and the demo.

The CLI is a thin veneer over these functions; calling them from Python gives the same folders. Data is
loaded and validated by the caller *before* a folder is created, so bad input never leaves a half run.

A run folder holds ``manifest.json`` (what ran, on which data, with which versions), ``metrics.json``,
``report.md``, CSVs, PNG plots and, after training, ``model/`` (weights.safetensors + manifest.json).
"""

from __future__ import annotations

import hashlib
import json
import platform
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from hpcast import __version__
from hpcast._io import atomic_write_json, atomic_write_text
from hpcast.config import RunConfig, to_dict
from hpcast.data.frame import Dataset, season_length
from hpcast.data.panel import Panel

__all__ = ["backtest_job", "demo", "forecast_job", "new_run_folder", "plot_job", "train_job"]


_CREATED_FOLDERS: list[Path] = []  # run folders this process made, so a command that fails can take them back


def run_folders_made() -> int:
    """How many run folders this process has made so far (a mark for `discard_new_run_folders`)."""
    return len(_CREATED_FOLDERS)


def discard_new_run_folders(since: int) -> None:
    """Remove the run folders made after mark ``since`` (a command failed on its input: nothing to keep)."""
    import shutil

    while len(_CREATED_FOLDERS) > since:
        shutil.rmtree(_CREATED_FOLDERS.pop(), ignore_errors=True)


def new_run_folder(kind: str, out: str | Path | None = None, root: str | Path = "runs") -> Path:
    """``out`` if given, else ``runs/<YYYYmmdd-HHMMSS>-<kind>`` (suffixed if that exists).

    A folder made here is remembered until the process ends: `discard_new_run_folders` removes it when the
    command fails on its input, so a failed run leaves nothing behind (an existing folder is never removed).
    """
    if out is not None:
        folder = Path(out)
    else:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        folder = Path(root) / f"{stamp}-{kind}"
        suffix = 1
        while folder.exists():
            suffix += 1
            folder = Path(root) / f"{stamp}-{kind}-{suffix}"
    if not folder.exists():
        _CREATED_FOLDERS.append(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _merge_json(path: Path, updates: dict[str, Any]) -> dict[str, Any]:
    data = json.loads(path.read_text()) if path.is_file() else {}
    data.update(updates)
    atomic_write_json(path, data)
    return data


def _record(folder: Path, kind: str, config: RunConfig, data: dict[str, Any]) -> None:
    """The run folder's manifest: what ran, with which versions, config and data."""
    import torch

    _merge_json(folder / "manifest.json", {
        "command": kind, "created": datetime.now().isoformat(timespec="seconds"),
        "hpcast_version": __version__, "torch_version": torch.__version__,
        "python": platform.python_version(), "threads": torch.get_num_threads(),
        "config": to_dict(config), "seed": config.train.seed, "data": data,
    })


def _record_run(folder: Path, kind: str, panel: Panel, config: RunConfig) -> None:
    from hpcast.forecast.base import data_facts

    facts: dict[str, Any] = {**data_facts(panel), "freq": panel.freq, "notes": list(panel.notes)}
    if panel.n_series > 1 or len(panel.columns) > 1 or panel.known_future:
        facts.update(symbols=list(panel.symbols), covariates=[*panel.columns[1:], *panel.known_future])
    _record(folder, kind, config.resolved(panel.freq), facts)


def as_job_panel(data: Dataset | Panel, column: str | None = None) -> Panel:
    """What a job models: a panel as given, or a dataset's ``column`` (default its target) for every symbol."""
    return data if isinstance(data, Panel) else Panel.from_dataset(data, column)


def train_job(data: Dataset | Panel | Path, config: RunConfig, folder: Path, *, column: str | None = None,
              resume: bool = False, quiet: bool = False, dist: Any = None, profile: bool = False) -> Any:
    """Fit the configured model (`hpcast.forecast.MODELS`; one global model over every series of a panel; a
    seed ensemble of it with ``config.train.ensemble`` > 1) on all the data; write ``model/``,
    ``loss_curve.png`` (an ensemble's first member) and training metrics.

    ``data`` may instead be the folder of a spectrogram dataset (`hpcast.features.spectrogram_dataset`):
    spectro-cnn then trains on every symbol in it, read through DataLoader workers, and the run manifest
    records the dataset by a fingerprint of its index.

    Checkpoints go to ``checkpoint/`` each epoch; ``resume=True`` continues from there. Under torchrun
    (``dist``), every worker trains and only rank 0 writes. ``profile`` writes torch.profiler traces to
    ``profile/`` (one per worker).

    Example:
        >>> train_job(load_bundled("air_passengers"), RunConfig(), new_run_folder("train"))  # doctest: +SKIP
        >>> spectro = RunConfig(model=SpectroCNNConfig())  # hpcast.forecast.spectro_cnn  # doctest: +SKIP
        >>> train_job(Path("runs/spec"), spectro, new_run_folder("train"))  # doctest: +SKIP
    """
    from hpcast.forecast.table import estimator_for
    from hpcast.train.context import RunContext
    from hpcast.train.progress import EpochProgress
    from hpcast.viz.plots import loss_curve

    estimator = estimator_for(config.kind, config.train.ensemble)  # a seed ensemble with --ensemble K > 1
    main = dist is None or dist.is_main
    context = RunContext(progress=None if quiet else EpochProgress(), checkpoint_dir=folder / "checkpoint",
                         resume=resume, dist=dist, profile_dir=folder / "profile" if profile else None)
    if isinstance(data, Path):
        forecaster, facts = _fit_spectrograms(estimator, data, config, context)
        if main:
            _record(folder, "train", forecaster.config, facts)  # the dataset set the STFT: known after fitting
        name = config.kind
    else:
        panel = as_job_panel(data, column)
        if main:
            _record_run(folder, "train", panel, config)
            if dist is not None:
                _merge_json(folder / "manifest.json", {"workers": dist.world_size, "strategy": dist.strategy})
        forecaster = estimator(config).fit(panel, context=context)
        name = panel.name
    if not main:
        return forecaster
    result = forecaster.result
    metrics: dict[str, Any] = {}
    if result is not None:
        training = result.summary()
        if dist is not None and dist.rounds:  # store-avg: which workers each round averaged, and who was skipped
            training["sync_rounds"] = [vars(report) for report in dist.rounds]
        metrics = {"val_loss": result.best_val_loss, "loss": config.train.loss}
        _merge_json(folder / "manifest.json", {"recipe": result.recipe})  # the levers as they ran here
        _merge_json(folder / "metrics.json", {"training": training})
        loss_curve(result.history, folder / "loss_curve.png", title=f"{name}: training loss")
    forecaster.save(folder / "model", metrics=metrics)
    write_report(folder)
    return forecaster


def _fit_spectrograms(estimator: type, root: Path, config: RunConfig, context: Any) -> tuple[Any, dict[str, Any]]:
    """``estimator`` fitted on the spectrogram dataset at ``root``, and what the run manifest records of the data."""
    from hpcast.features.spectrogram_dataset import load_index

    if not hasattr(estimator, "fit_dataset"):
        raise ValueError(f"model ({config.kind!r}) trains on series in memory; only spectro-cnn trains from a "
                         f"spectrogram dataset ({root})")
    index = load_index(root)  # read before training: the fingerprint is of the data it trains on
    forecaster = estimator(config).fit_dataset(root, context=context)
    info = forecaster.data_info
    canonical = json.dumps(index, sort_keys=True).encode()  # config, cutoff, every symbol's price fingerprint
    return forecaster, {
        "name": f"spectrograms of {len(index['symbols'])} symbols", "source": str(root), "column": "next log_return",
        "freq": forecaster.freq, "rows": info["train_windows"] + info["val_windows"], "start": info["start"],
        "end": info["end"], "fingerprint": hashlib.sha256(canonical).hexdigest(), "notes": []}


_PLOTTED_SERIES = 12  # a panel's first series get a chart each; the CSVs hold all of them


def _chart_name(stem: str, panel: Panel, symbol: str) -> str:
    return f"{stem}.png" if panel.n_series == 1 else f"{stem}_{symbol}.png"


def backtest_job(data: Dataset | Panel, config: RunConfig, folder: Path, *, column: str | None = None,
                 models: tuple[str, ...] | None = None, quiet: bool = False) -> Any:
    """Walk-forward backtest of the network and the baselines on every series; write ``backtest.csv``, a chart
    per series (``backtest.png`` for one series) and metrics, pooled and per series."""
    from hpcast.evaluate.bands import var_returns
    from hpcast.evaluate.walkforward import backtest
    from hpcast.train.progress import FoldProgress
    from hpcast.viz.plots import backtest_plot, var_plot

    panel = as_job_panel(data, column)
    _record_run(folder, "backtest", panel, config)
    progress = None if quiet else FoldProgress()
    result = backtest(panel, config=config, models=models or None, progress=progress)
    result.predictions.to_csv(folder / "backtest.csv", index=False)
    _merge_json(folder / "metrics.json", {"backtest": result.to_dict()})
    for symbol in panel.symbols[:_PLOTTED_SERIES]:
        rows = result.predictions[result.predictions["symbol"] == symbol]
        backtest_plot(panel.series(symbol), rows, folder / _chart_name("backtest", panel, symbol),
                      title=f"{symbol}: walk-forward backtest")
        for level in config.backtest.var:
            returns = var_returns(rows, level)
            if len(returns):
                var_plot(returns, level, folder / _chart_name(f"var{round(level * 1000)}", panel, symbol),
                         title=f"{symbol}: {level:.1%} value at risk, one step ahead")
    write_report(folder)
    return result


def forecast_job(data: Dataset | Panel, forecaster: Any, folder: Path, *, column: str | None = None,
                 horizon: int | None = None) -> pd.DataFrame:
    """Forecast from the end of every series; write ``forecast.csv`` and a fan chart per series."""
    from hpcast.viz.plots import forecast_fan

    panel = as_job_panel(data, column)
    forecast = forecaster.predict(panel, horizon)
    forecast.assign(date=forecast["date"].dt.date).to_csv(folder / "forecast.csv", index=False,
                                                         float_format="%.6g")
    for s, symbol in enumerate(panel.symbols[:_PLOTTED_SERIES]):
        rows = forecast[forecast["symbol"] == symbol]
        series = panel.series(s)
        forecast_fan(series, rows.reset_index(drop=True), folder / _chart_name("forecast", panel, symbol),
                     title=f"{symbol}: {len(rows)}-step forecast from {series.index[-1].date()}")
    write_report(folder)
    return forecast


_MOVING_AVERAGES = {"3D": (30, 60), "W": (26, 52), "YS": (3, 5)}  # in periods, for series with no season


def plot_job(data: Dataset | Panel, folder: Path, *, column: str | None = None,
             run: Path | None = None) -> list[Path]:
    """Price with moving averages (MA100/MA200 for daily data, one and two seasons otherwise) of the first
    series; with ``run``, also redraw that run's loss curve, backtest and forecast fan from its saved files."""
    from hpcast.viz.plots import backtest_plot, forecast_fan, loss_curve, price_with_moving_averages

    data = as_job_panel(data, column)
    series = data.series(0)
    season = season_length(data.freq)
    windows = (season, 2 * season) if season > 1 else _MOVING_AVERAGES.get(data.freq, (100, 200))
    written = [price_with_moving_averages(series, folder / "price.png", windows=windows,
                                          title=f"{data.name}: {series.name} with MA{windows[0]}/MA{windows[1]}")]

    def first_series(frame: pd.DataFrame) -> pd.DataFrame:  # a panel run's CSVs hold every series
        return frame[frame["symbol"] == frame["symbol"].iloc[0]] if "symbol" in frame else frame

    if run is None:
        return written
    metrics = json.loads((run / "metrics.json").read_text()) if (run / "metrics.json").is_file() else {}
    if "training" in metrics:
        from hpcast.train.rules import EpochRecord

        history = [EpochRecord(**epoch) for epoch in metrics["training"]["epochs"]]
        written.append(loss_curve(history, folder / "loss_curve.png", title=f"{data.name}: training loss"))
    if (run / "backtest.csv").is_file():
        predictions = first_series(pd.read_csv(run / "backtest.csv", parse_dates=["origin", "date"]))
        written.append(backtest_plot(series, predictions, folder / "backtest.png",
                                     title=f"{data.name}: walk-forward backtest"))
    if (run / "forecast.csv").is_file():
        forecast = first_series(pd.read_csv(run / "forecast.csv", parse_dates=["date"]))
        written.append(forecast_fan(series, forecast, folder / "forecast.png",
                                    title=f"{data.name}: {len(forecast)}-step forecast from {series.index[-1].date()}"))
    return written


def demo(out: str | Path | None = None, *, epochs: int | None = None, seed: int = 0,
         quiet: bool = False) -> Path:
    """The main job, offline: S&P 500 → train → backtest vs baselines → 30-day forecast → report.

    Example:
        >>> folder = demo(out="runs/my-demo")  # doctest: +SKIP
    """
    import dataclasses

    from hpcast.data.bundled import load_bundled

    data = load_bundled("sp500")
    config = RunConfig()
    train = dataclasses.replace(config.train, seed=seed, **({"epochs": epochs} if epochs else {}))
    config = dataclasses.replace(config, train=train)
    folder = new_run_folder("demo", out)
    plot_job(data, folder)
    forecaster = train_job(data, config, folder, quiet=quiet)
    backtest_job(data, config, folder, quiet=quiet)
    forecast_job(data, forecaster, folder)
    _merge_json(folder / "manifest.json", {"command": "demo"})
    write_report(folder)
    return folder


def write_report(folder: Path) -> Path:
    from hpcast.report import render_report

    manifest = json.loads((folder / "manifest.json").read_text()) if (folder / "manifest.json").is_file() else {}
    metrics = json.loads((folder / "metrics.json").read_text()) if (folder / "metrics.json").is_file() else {}
    path = folder / "report.md"
    atomic_write_text(path, render_report(folder, manifest, metrics))
    return path
