"""The ``hpcast`` command: a thin veneer over `hpcast.jobs` and `hpcast.data`.

Heavy libraries (torch, statsmodels, matplotlib, yfinance) are imported inside commands, so
``hpcast --help`` answers instantly. Every command's help ends with an example; ``docs/cli.md`` is
generated from these help texts (``make docs``) and a test keeps the two in step.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from hpcast import __version__
from hpcast.config import ConfigError, RunConfig, from_dict, load_toml, to_dict

__all__ = ["cli", "main", "render_docs"]

_USER_ERRORS: tuple[type[Exception], ...] = (ValueError, FileNotFoundError)  # DataError, ConfigError, ...


def _user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn rule violations into one-line ``Error: ...`` messages with exit code 1 (no traceback)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except _USER_ERRORS as error:
            raise click.ClickException(" ".join(str(error).split())) from error

    return wrapper


def _data_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--dataset", metavar="NAME", help="Bundled dataset (see `hpcast data list`)."),
        click.option("--csv", "csv_path", metavar="PATH", help="Your own CSV file (a date and a value column)."),
        click.option("--date-col", metavar="C", help="CSV date column [default: date]."),
        click.option("--value-col", metavar="C",
                     help="Column to model [default: adj_close for prices, else value/close]."),
        click.option("--ticker", metavar="SYMBOL", help="Yahoo Finance symbol, fetched once then cached."),
        click.option("--start", metavar="DATE", help="With --ticker: first date [default: 2000-01-01]."),
        click.option("--end", metavar="DATE", help="With --ticker: end date, exclusive [default: today]."),
    ]
    return functools.reduce(lambda f, option: option(f), reversed(options), command)


def _load(kwargs: dict[str, Any]) -> Any:
    from hpcast.data import load_data

    dataset = load_data(kwargs.pop("dataset"), csv=kwargs.pop("csv_path"), date_col=kwargs.pop("date_col"),
                        value_col=kwargs["value_col"] if kwargs.get("csv_path") else None,
                        ticker=kwargs.pop("ticker"), start=kwargs.pop("start"), end=kwargs.pop("end"))
    column = kwargs.pop("value_col")
    if column is not None and column not in dataset.value_columns:
        column = None  # a CSV's value column is renamed to 'value' on load
    dataset.series(column)  # validate the column now, before anything is written
    return dataset, column


def _floats(text: str | None) -> tuple[float, ...] | None:
    return None if text is None else tuple(float(x) for x in text.split(","))


def _ints(text: str | None) -> tuple[int, ...] | None:
    return None if text is None else tuple(int(x) for x in text.split(","))


def _train_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--config", "config_path", metavar="TOML", help="Settings file; flags override it."),
        click.option("--window", type=int, help="Input window T [default: 60 daily, 24 monthly, ...]."),
        click.option("--horizon", type=int, help="Steps forecast at once h [default: 30 daily, 12 monthly]."),
        click.option("--target", type=click.Choice(["log_return", "level"]),
                     help="What the net predicts [default: log_return; level reproduces the seed study]."),
        click.option("--layers", metavar="H1,H2,..", help="Hidden size per LSTM layer [default: 64]."),
        click.option("--dropout", metavar="P1,P2,..", help="Dropout per layer [default: 0.1 each]."),
        click.option("--init", type=click.Choice(["keras", "torch"]), help="Weight init [default: keras]."),
        click.option("--epochs", type=int, help="Maximum epochs (early stopping usually ends sooner) [default: 100]."),
        click.option("--batch-size", type=int, help="Windows per step [default: 64]."),
        click.option("--lr", type=float, help="Adam learning rate [default: 0.003]."),
        click.option("--loss", type=click.Choice(["mse", "mae", "huber"]), help="Training loss [default: mse]."),
        click.option("--patience", type=int, help="Early-stopping patience in epochs [default: 10]."),
        click.option("--val-fraction", type=float, help="Last share of windows for validation [default: 0.2]."),
        click.option("--seed", type=int, help="Random seed; same seed, same weights [default: 0]."),
        click.option("--kernels", type=click.Choice(["auto", "torch", "triton"]),
                     help="Triton LSTM/MSE kernels: on CUDA (auto), never, or always [default: auto]."),
        click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]),
                     help="Where training runs: the GPU if there is one (auto) [default: auto]."),
    ]
    return functools.reduce(lambda f, option: option(f), reversed(options), command)


def _saved_config(model_dir: str) -> RunConfig:
    """The resolved config stored in a saved model (a run folder or its ``model/``)."""
    from hpcast.train.artifacts import read_artifact

    path = Path(model_dir)
    _, manifest = read_artifact(path / "model" if (path / "model").is_dir() else path)
    return from_dict(RunConfig, manifest["config"])


def _run_config(kwargs: dict[str, Any], base_config: RunConfig | None = None) -> RunConfig:
    """Merge a base (saved model's config, else the TOML file, else defaults) and the flags into one config."""
    path = kwargs.pop("config_path")
    if base_config is not None and path:
        raise click.UsageError("give --model or --config, not both")
    base = to_dict(base_config or (load_toml(path) if path else RunConfig()))
    for key in ("window", "horizon", "target"):
        if (value := kwargs.pop(key)) is not None:
            base[key] = value
    layers, dropout = _ints(kwargs.pop("layers")), _floats(kwargs.pop("dropout"))
    if layers is not None:
        base["model"]["layers"] = list(layers)
        if dropout is None:
            dropout = (base["model"]["dropout"][0],) * len(layers)
    if dropout is not None:
        base["model"]["dropout"] = list(dropout)
    if (init := kwargs.pop("init")) is not None:
        base["model"]["init"] = init
    for key in ("epochs", "batch_size", "lr", "loss", "patience", "val_fraction", "seed", "kernels", "device"):
        if (value := kwargs.pop(key)) is not None:
            base["train"][key] = value
    for key in ("test_size", "step"):
        if key in kwargs and (value := kwargs.pop(key)) is not None:
            base["backtest"][key] = value
    return from_dict(RunConfig, base)


def _console() -> Any:
    from rich.console import Console

    return Console()


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="hpcast")
def cli() -> None:
    """Forecast financial time series with LSTM networks, honestly and fast.

    Start with `hpcast demo`, then point any command at a bundled dataset (--dataset), your own CSV
    (--csv) or a Yahoo ticker (--ticker). Every run writes a folder under runs/ with a report.

    \b
    Example:
        hpcast train --dataset air_passengers --epochs 50
    """


@cli.command()
@click.option("--out", metavar="DIR", help="Run folder [default: runs/<timestamp>-demo].")
@click.option("--epochs", type=int, help="Maximum epochs per fit [default: 100].")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@_user_errors
def demo(out: str | None, epochs: int | None, seed: int) -> None:
    """Run the whole flow offline on bundled S&P 500 prices.

    Trains the default LSTM, backtests it against naive, seasonal naive, drift and ARIMA on the same
    walk-forward folds, forecasts the next 30 trading days with 80%/95% intervals, and writes
    report.md, forecast.csv, metrics.json, manifest.json, the model and PNG plots.

    \b
    Example:
        hpcast demo --out runs/demo
    """
    from hpcast.jobs import demo as run_demo

    folder = run_demo(out, epochs=epochs, seed=seed)
    click.echo(f"report: {folder / 'report.md'}")


@cli.group()
def data() -> None:
    """List and inspect the bundled datasets.

    \b
    Example:
        hpcast data show sp500
    """


@data.command("list")
def data_list() -> None:
    """List bundled datasets with frequency, description and licence tier.

    \b
    Example:
        hpcast data list
    """
    from rich.table import Table

    from hpcast.data.bundled import BUNDLED

    table = Table("name", "freq", "description", "licence", box=None)
    for name, info in BUNDLED.items():
        table.add_row(name, info.freq, info.description, info.licence.split(":")[0])
    _console().print(table)


@data.command("show")
@click.argument("name")
@_user_errors
def data_show(name: str) -> None:
    """Show a bundled dataset's range, frequency, rows, columns, source and licence.

    \b
    Example:
        hpcast data show air_passengers
    """
    from hpcast.data.bundled import BUNDLED, load_bundled

    dataset = load_bundled(name)
    info = BUNDLED[name]
    facts = {**dataset.summary(), "licence": info.licence, "caveat": info.caveat or "—",
             "notes": "; ".join(dataset.notes) or "—"}
    for key, value in facts.items():
        click.echo(f"{key:>10}: {value}")
    click.echo(dataset.frame.tail(3).to_string(index=False))


@cli.command()
@click.argument("ticker")
@click.option("--start", default="2000-01-01", show_default=True, help="First date.")
@click.option("--end", help="End date, exclusive [default: today].")
@click.option("--out", metavar="FILE", help="Also write the prices to this CSV (usable with --csv).")
@_user_errors
def fetch(ticker: str, start: str, end: str | None, out: str | None) -> None:
    """Download daily prices from Yahoo Finance into the local cache.

    A second fetch of the same range is served from the cache without any request
    (cache folder: $HPCAST_CACHE or ./hpcast-data/cache).

    \b
    Example:
        hpcast fetch ^GSPC --start 2015-01-01 --out sp500.csv
    """
    from hpcast.data.yahoo import fetch_yahoo

    dataset = fetch_yahoo(ticker, start, end)
    summary = dataset.summary()
    click.echo(f"{ticker}: {summary['rows']} rows, {summary['from']} to {summary['to']} ({dataset.source})")
    if out:
        dataset.frame.drop(columns="symbol").to_csv(out, index=False)
        click.echo(f"written: {out}")


def _print_training(forecaster: Any, folder: Path, profile: bool = False) -> None:
    result = forecaster.result
    if profile:
        from rich.table import Table

        table = Table("epoch", "wall s", "compute s", "data s", "sync s", "samples/s", title="per-epoch profile")
        for r in result.history:
            table.add_row(str(r.epoch), f"{r.seconds:.2f}", f"{r.compute_seconds:.2f}", f"{r.data_seconds:.3f}",
                          f"{r.sync_seconds:.3f}", f"{r.samples / r.seconds:,.0f}")
        _console().print(table)
        click.echo(f"traces: {folder / 'profile'} (open in https://ui.perfetto.dev or chrome://tracing)")
    click.echo(f"trained {len(result.history)} epochs (best {result.best_epoch}, validation loss "
               f"{result.best_val_loss:.4g}) at {result.seconds_per_epoch:.2f} s/epoch")
    click.echo(f"model: {folder / 'model'}\nreport: {folder / 'report.md'}")


@cli.command()
@_data_options
@_train_options
@click.option("--out", metavar="DIR", help="Run folder [default: runs/<timestamp>-train].")
@click.option("--resume", is_flag=True, help="Continue an interrupted run in --out from its last checkpoint.")
@click.option("--workers", type=int, default=1, show_default=True,
              help="Worker processes on this machine, launched through torchrun.")
@click.option("--strategy", type=click.Choice(["ddp", "local-sgd", "store-avg"]), default="ddp", show_default=True,
              help="ddp: gradients averaged every step; local-sgd: parameters averaged every --sync-every steps; "
                   "store-avg: checkpoints averaged through --sync-url every --sync-every epochs.")
@click.option("--sync-every", type=int, help="Steps (local-sgd) or epochs (store-avg) between averaging "
                                             "[default: 8 steps, 5 epochs].")
@click.option("--sync-url", metavar="URL", help="store-avg: where workers meet (file:///dir, s3://bucket/prefix); "
                                                "credentials from the environment / AWS chain.")
@click.option("--sync-timeout", type=float, default=120.0, show_default=True,
              help="store-avg: seconds to wait for the other workers' checkpoints.")
@click.option("--max-restarts", type=int, default=0, show_default=True,
              help="Restarts torchrun may make after a worker dies; the group resumes from the last checkpoint.")
@click.option("--profile", is_flag=True, help="Write torch.profiler traces (profile/, open in Perfetto) and print "
                                               "a per-epoch table of compute, data and sync time.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@_user_errors
def train(out: str | None, resume: bool, workers: int, strategy: str, sync_every: int | None,
          sync_url: str | None, sync_timeout: float, max_restarts: int, profile: bool, quiet: bool,
          **kwargs: Any) -> None:
    """Train the LSTM on a series and save the model (safetensors + manifest).

    The last --val-fraction of windows validates (early stopping); the scaler is fitted on the training
    span only. Prints seconds per epoch; per-epoch timings go to metrics.json. With --workers N it runs
    N processes through torchrun (gloo on CPU, NCCL on GPU); only rank 0 writes.

    \b
    Example:
        hpcast train --dataset air_passengers --epochs 100 --out runs/air
        hpcast train --dataset sp500 --target level --window 100 \\
            --layers 50,60,80,120 --dropout 0.2,0.3,0.4,0.5 --batch-size 32 --epochs 2
        hpcast train --dataset sp500 --workers 2 --strategy ddp --out runs/ddp
        hpcast train --dataset sp500 --workers 2 --strategy store-avg --sync-url s3://bucket/hpcast
    """
    import os

    from hpcast.jobs import new_run_folder, train_job
    from hpcast.train.distributed import Distributed, in_worker

    dataset, column = _load(kwargs)
    config = _run_config(kwargs)
    if resume and out is None:
        raise click.UsageError("--resume needs --out, the folder of the interrupted run")
    if workers < 1:
        raise click.BadParameter(f"{workers} must be >= 1", param_hint="--workers")
    if in_worker():  # one of torchrun's processes: join the group and train
        dist = Distributed.from_env(strategy, sync_every, sync_url, sync_timeout)  # type: ignore[arg-type]
        restarted = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) > 0
        try:
            folder = Path(out) if out else new_run_folder("train")
            forecaster = train_job(dataset, config, folder, column=column, resume=resume or restarted,
                                   quiet=quiet, dist=dist, profile=profile)
        finally:
            dist.close()
        if dist.is_main:
            _print_training(forecaster, folder, profile)
        return
    if strategy == "store-avg" and not sync_url:
        raise click.UsageError("--strategy store-avg needs --sync-url (file:///shared/dir or s3://bucket/prefix)")
    folder = new_run_folder("train", out)
    if workers > 1:
        _launch_workers(click.get_current_context(), folder, workers, max_restarts)
        return
    forecaster = train_job(dataset, config, folder, column=column, resume=resume, quiet=quiet, profile=profile)
    _print_training(forecaster, folder, profile)


def _launch_workers(context: click.Context, folder: Path, workers: int, max_restarts: int) -> None:
    """Re-run this very command in ``workers`` torchrun processes, writing into ``folder``."""
    import subprocess

    from hpcast.train.distributed import torchrun_command

    argv = [context.info_name or "train"]
    for param in context.command.params:
        value = context.params.get(param.name or "")
        if not isinstance(param, click.Option) or param.name == "out" or value is None or value is False:
            continue
        flag = max(param.opts, key=len)
        argv += [flag] if param.is_flag else [flag, str(value)]
    argv += ["--out", str(folder)]
    done = subprocess.run(torchrun_command(workers, argv, max_restarts), check=False)
    if done.returncode != 0:
        raise click.ClickException(f"torchrun exited with code {done.returncode}; see the messages above")


def _print_backtest(result: Any) -> None:
    from rich.table import Table

    from hpcast.report import verdict

    table = Table("model", "MAE", "RMSE", "MAPE %", "sMAPE %", "MASE", "Direction %",
                  title=f"walk-forward backtest: {len(result.origins)} folds × {result.horizon} steps")
    for model, row in result.metrics.iterrows():
        direction = row["directional_accuracy"]
        table.add_row(model, *(f"{row[k]:.3f}" for k in ("mae", "rmse", "mape", "smape", "mase")),
                      "—" if direction != direction else f"{100 * direction:.1f}",
                      style="bold" if model == "lstm" else None)
    console = _console()
    console.print(table)
    console.print(verdict(result.to_dict()["metrics"]))
    if result.coverage:
        console.print("interval coverage: " + ", ".join(f"{float(k):.0%} band held {v:.0%}"
                                                        for k, v in result.coverage.items()))


@cli.command()
@_data_options
@_train_options
@click.option("--test-size", type=int, help="Points at the end covered by folds [default: 3 horizons "
                                            "daily, 2 otherwise].")
@click.option("--step", type=int, help="Points between fold origins [default: the horizon].")
@click.option("--models", default="lstm,naive,seasonal_naive,drift,arima", show_default=True,
              help="Comma-separated models to compare.")
@click.option("--model", "model_dir", metavar="DIR",
              help="Backtest the configuration of a trained run (refitted on every fold).")
@click.option("--out", metavar="DIR", help="Run folder [default: runs/<timestamp>-backtest].")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@_user_errors
def backtest(out: str | None, models: str, model_dir: str | None, quiet: bool, **kwargs: Any) -> None:
    """Walk-forward backtest: the LSTM beside the baselines on the same folds.

    Each fold refits every model (and the LSTM's scaler) on the history before its origin only.
    Metrics: MAE, RMSE, MAPE, sMAPE, MASE and directional accuracy; plus the empirical coverage of
    the LSTM's conformal intervals.

    \b
    Example:
        hpcast backtest --dataset air_passengers --test-size 24
        hpcast backtest --dataset air_passengers --test-size 24 --model runs/air
    """
    from hpcast.jobs import backtest_job, new_run_folder

    dataset, column = _load(kwargs)
    config = _run_config(kwargs, _saved_config(model_dir) if model_dir else None)
    chosen = tuple(m.strip() for m in models.split(",") if m.strip())
    folder = new_run_folder("backtest", out)
    result = backtest_job(dataset, config, folder, column=column, models=chosen, quiet=quiet)
    _print_backtest(result)
    click.echo(f"report: {folder / 'report.md'}")


@cli.command()
@_data_options
@_train_options
@click.option("--model", "model_dir", metavar="DIR", help="Use a saved model (a run folder or its model/).")
@click.option("--steps", type=int, help="How many steps to forecast [default: the model's horizon].")
@click.option("--out", metavar="DIR", help="Run folder [default: runs/<timestamp>-forecast].")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@_user_errors
def forecast(model_dir: str | None, steps: int | None, out: str | None, quiet: bool, **kwargs: Any) -> None:
    """Forecast the next steps with 80%/95% prediction intervals (training first unless --model).

    \b
    Example:
        hpcast forecast --dataset sp500 --model runs/my-train --out runs/my-forecast
    """
    from hpcast.jobs import forecast_job, new_run_folder, train_job
    from hpcast.train.forecaster import LSTMForecaster

    dataset, column = _load(kwargs)
    if model_dir:
        given = sorted("--config" if k == "config_path" else f"--{k.replace('_', '-')}"
                       for k, v in kwargs.items() if v is not None)
        if given:
            raise click.UsageError(f"{', '.join(given)} only apply when training; a saved model (--model) "
                                   "keeps its own settings")
        path = Path(model_dir)
        forecaster = LSTMForecaster.load(path / "model" if (path / "model").is_dir() else path)
        if forecaster.freq != dataset.freq:
            raise ConfigError(f"model was trained on {forecaster.freq!r} data, this series is {dataset.freq!r}")
        folder = new_run_folder("forecast", out)
    else:
        config = _run_config(kwargs)
        folder = new_run_folder("forecast", out)
        forecaster = train_job(dataset, config, folder, column=column, quiet=quiet)
    table = forecast_job(dataset, forecaster, folder, column=column, horizon=steps)
    click.echo(table.assign(date=table["date"].dt.date).to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    click.echo(f"forecast: {folder / 'forecast.csv'}\nplot: {folder / 'forecast.png'}")


@cli.command()
@_data_options
@click.option("--run", "run_dir", metavar="DIR", help="Also redraw this run's loss curve, backtest and forecast.")
@click.option("--out", metavar="DIR", help="Folder for the PNGs [default: the --run folder, else "
                                           "runs/<timestamp>-plot].")
@_user_errors
def plot(run_dir: str | None, out: str | None, **kwargs: Any) -> None:
    """Plot a series with its moving averages (MA100/MA200 for daily data), and redraw a run's plots.

    `train`, `backtest` and `forecast` draw their plots when they run; --run redraws them (loss curve,
    backtest predictions against actuals, forecast fan chart) from the run's saved files.

    \b
    Example:
        hpcast plot --dataset sp500 --out runs/plots
        hpcast plot --dataset sp500 --run runs/my-demo
    """
    from hpcast.jobs import new_run_folder, plot_job

    dataset, column = _load(kwargs)
    run = Path(run_dir) if run_dir else None
    if run is not None and not run.is_dir():
        raise click.UsageError(f"--run ({run}) must be an existing run folder")
    folder = new_run_folder("plot", out or run)
    for path in plot_job(dataset, folder, column=column, run=run):
        click.echo(f"plot: {path}")


@cli.group()
def scratch() -> None:
    """The from-scratch LSTM study: NumPy, Numba-parallel, Numba CUDA and torch give the same numbers.

    \b
    Example:
        hpcast scratch train --impl numpy,numba,torch --dataset air_passengers --hidden 50 --epochs 5
    """


@scratch.command("train")
@_data_options
@click.option("--impl", default="numpy", show_default=True,
              help="numpy, numpy-per-sample, numba, numba-cuda or torch; a comma list compares them.")
@click.option("--hidden", default="50", show_default=True, metavar="H1,H2,..", help="Hidden size per layer.")
@click.option("--window", type=int, default=12, show_default=True, help="Input window length.")
@click.option("--task", type=click.Choice(["regression", "classification"]), default="regression",
              show_default=True, help="Next value (MSE) or next change bucketed into --classes (cross-entropy).")
@click.option("--classes", type=int, default=3, show_default=True, help="Classes for --task classification.")
@click.option("--epochs", type=int, default=5, show_default=True, help="Epochs.")
@click.option("--batch-size", type=int, default=32, show_default=True, help="Minibatch size.")
@click.option("--optimizer", type=click.Choice(["adam", "sgd"]), default="adam", show_default=True,
              help="Update rule.")
@click.option("--lr", type=float, default=0.01, show_default=True, help="Learning rate.")
@click.option("--clip-norm", type=float, default=5.0, show_default=True, help="Global gradient-norm clip (0: off).")
@click.option("--dtype", type=click.Choice(["float64", "float32"]), default="float64", show_default=True,
              help="Floating-point type.")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed for weights and batch order.")
@click.option("--threads", type=int, help="Numba threads [default: all cores].")
@_user_errors
def scratch_train(impl: str, hidden: str, threads: int | None, **kwargs: Any) -> None:
    """Train the from-scratch LSTM and print per-epoch train/validation loss.

    Every implementation starts from the same weights and sees the same batches, so the printed losses
    agree to about 12 significant digits (float64). With several --impl values the table compares them.

    \b
    Example:
        hpcast scratch train --impl numba --dataset air_passengers --hidden 50 --epochs 5 --seed 1
        hpcast scratch train --impl numpy,numba,torch --dataset sp500 --window 100 --epochs 1
    """
    from hpcast.models.scratch.train import IMPLEMENTATIONS, ScratchConfig, make_task, train_scratch

    data_keys = ("dataset", "csv_path", "date_col", "value_col", "ticker", "start", "end")
    dataset, column = _load({k: kwargs.pop(k) for k in data_keys})
    names = [name.strip() for name in impl.split(",") if name.strip()]
    unknown = [name for name in names if name not in IMPLEMENTATIONS]
    if unknown or not names:
        raise click.BadParameter(f"{unknown or impl!r} must be among {', '.join(IMPLEMENTATIONS)}", param_hint="--impl")
    if "numba-cuda" in names:
        from numba import cuda

        if not cuda.is_available():
            raise click.UsageError("numba-cuda needs a CUDA GPU; set NUMBA_ENABLE_CUDASIM=1 to simulate it on the "
                                   "CPU (slow: use a tiny problem)")
    if threads is not None:
        import numba

        numba.set_num_threads(threads)
    config = ScratchConfig(hidden=_ints(hidden) or (50,), **kwargs)
    task = make_task(dataset.series(column).to_numpy(), config)
    click.echo(f"{dataset.name}: {len(task.X_train)} training / {len(task.X_val)} validation windows of "
               f"{config.window}, hidden {list(config.hidden)}, {config.task} ({task.loss}), {config.dtype}")
    runs = {}
    for name in names:
        def show(record: dict[str, float], name: str = name) -> None:
            click.echo(f"{name:>16} epoch {record['epoch']:>3}  train {record['train_loss']:.12e}  "
                       f"val {record['val_loss']:.12e}  {record['seconds']:.2f} s")

        runs[name] = train_scratch(name, task, config, on_epoch=show)[1]
    if len(runs) > 1:
        import numpy as np

        losses = np.array([[[r["train_loss"], r["val_loss"]] for r in history] for history in runs.values()])
        spread = np.max(np.abs(losses - losses[0]) / np.abs(losses[0]))
        click.echo(f"largest relative difference from {names[0]} over all epochs: {spread:.1e}")


def _walk(group: click.Group, prefix: str) -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, command in sorted(group.commands.items()):
        full = f"{prefix} {name}"
        found.append((full, command))
        if isinstance(command, click.Group):
            found += _walk(command, full)
    return found


def render_docs() -> str:
    """Markdown reference of every command, from the same help texts the terminal shows."""
    parts = ["# hpcast command reference", "", "Generated from `--help` by `make docs`; do not edit by hand.", ""]
    for full, command in [("hpcast", cli), *_walk(cli, "hpcast")]:
        with click.Context(command, info_name=full, terminal_width=100, max_content_width=100,
                           help_option_names=["-h", "--help"]) as context:
            parts += [f"## `{full}`", "", "```", command.get_help(context), "```", ""]
    return "\n".join(parts)


def main() -> None:
    cli(prog_name="hpcast")
