"""Options and helpers shared by the commands: data flags, training flags, config merging, errors."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from hpcast.config import RunConfig, TrainConfig, from_dict, load_toml, to_dict

USER_ERRORS: tuple[type[Exception], ...] = (ValueError, FileNotFoundError)  # DataError, ConfigError, ...


def user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn rule violations into one-line ``Error: ...`` messages with exit code 1 (no traceback), and take
    back the run folders the command made for input it then refused. Any other failure (a crash, an
    interrupt, torchrun's workers dying) keeps them, with their checkpoints, for ``--resume``."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from hpcast.jobs import discard_new_run_folders, run_folders_made

        mark = run_folders_made()
        try:
            return command(*args, **kwargs)
        except USER_ERRORS as error:
            discard_new_run_folders(mark)
            raise click.ClickException(" ".join(str(error).split())) from error

    return wrapper


DATA_FLAGS = ("dataset", "csv_path", "date_col", "value_col", "date_format", "missing", "ticker", "start", "end",
              "calendar")  # the keyword names of `data_options`' flags


def data_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--dataset", metavar="NAME", help="Bundled dataset (see `hpcast data list`)."),
        click.option("--csv", "csv_path", metavar="PATH", help="Your own CSV file (a date and a value column)."),
        click.option("--date-col", metavar="C", help="CSV date column [default: date]."),
        click.option("--value-col", metavar="C",
                     help="Column to model [default: adj_close for prices, else value/close]."),
        click.option("--date-format", metavar="FMT",
                     help="How CSV dates are written: a strptime format (%d/%m/%Y, %m/%d/%Y %H:%M%z) or dayfirst / "
                          "monthfirst for a/b/yyyy dates [default: ISO as written; a/b/yyyy in the order the "
                          "column proves, else an error]."),
        click.option("--missing", type=click.Choice(["error", "drop", "ffill"]),
                     help="CSV value cells that are blank, NA, N/A, NaN, null, #N/A or '.': stop (error), drop "
                          "their rows, or fill each from the row above (ffill; leading ones are dropped); the "
                          "count is printed and kept in the run's manifest [default: error]."),
        click.option("--ticker", metavar="SYMBOL", help="Yahoo Finance symbol, fetched once then cached."),
        click.option("--start", metavar="DATE", help="With --ticker: first date [default: 2000-01-01]."),
        click.option("--end", metavar="DATE", help="With --ticker: end date, exclusive [default: today]."),
        # the names are hpcast.data.calendars.CALENDARS' (not imported here: it needs pandas; a test compares)
        click.option("--calendar", metavar="NAME",
                     help="Daily data: the calendar the dates follow, for forecast dates and the gap report: NYSE, "
                          "London, weekdays or every-day [default: the bundled dataset's, else weekdays for "
                          "business days and every-day for daily data]."),
    ]
    return functools.reduce(lambda f, option: option(f), reversed(options), command)


def load_dataset(kwargs: dict[str, Any]) -> Any:
    """Pop `data_options`' flags from ``kwargs``, load the dataset and print its notes (to stderr) once."""
    from hpcast.data import load_data

    csv_flags = {key: value for key in ("date_format", "missing") if (value := kwargs.pop(key, None)) is not None}
    dataset = load_data(kwargs.pop("dataset"), csv=kwargs.pop("csv_path"), date_col=kwargs.pop("date_col"),
                        value_col=kwargs["value_col"] if kwargs.get("csv_path") else None,
                        ticker=kwargs.pop("ticker"), start=kwargs.pop("start"), end=kwargs.pop("end"),
                        calendar=kwargs.pop("calendar", None), **csv_flags)
    for note in dataset.notes:
        click.echo(f"{dataset.name}: {note}", err=True)
    column = kwargs.pop("value_col")
    if column is not None and column not in dataset.value_columns:
        column = None  # a CSV's value column is renamed to 'value' on load
    dataset.series(column)  # validate the column now, before anything is written
    return dataset, column


def floats(text: str | None) -> tuple[float, ...] | None:
    return None if text is None else tuple(float(x) for x in text.split(","))


def ints(text: str | None) -> tuple[int, ...] | None:
    return None if text is None else tuple(int(x) for x in text.split(","))


def train_options(command: Callable[..., Any]) -> Callable[..., Any]:
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
        click.option("--lr", type=float, help="Adam learning rate, the peak under one-cycle "
                                              f"[default: {TrainConfig().lr:g}]."),
        click.option("--loss", type=click.Choice(["mse", "mae", "huber"]), help="Training loss [default: mse]."),
        click.option("--patience", type=int, help="Early-stopping patience in epochs [default: 10]."),
        click.option("--val-fraction", type=float, help="Last share of windows held out from training "
                                                        "[default: 0.2]."),
        click.option("--calibration-fraction", type=float,
                     help="Later share of the held-out windows that calibrates the intervals; the earlier ones "
                          "stop early [default: 0.5]."),
        click.option("--seed", type=int, help="Random seed; same seed, same weights [default: 0]."),
        click.option("--kernels", type=click.Choice(["auto", "torch", "triton"]),
                     help="Triton LSTM/MSE kernels: on CUDA (auto), never, or always [default: auto]."),
        click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]),
                     help="Where training runs: the GPU if there is one (auto) [default: auto]."),
        # The training recipe (README "Training engine"); each lever has its off switch.
        click.option("--targets", type=click.Choice(["all", "last"]),
                     help="Recipe: a target at every step of a window after a warm-up (all), or only at its end, "
                          "for every window, as the seed study trained (last) [default: all]."),
        click.option("--warmup", type=float, help="Recipe, --targets all: share of a window's first steps "
                                                  "left out of the loss [default: 0.2]."),
        click.option("--stride", type=int, help="Recipe, --targets all: steps between training windows "
                                                "(0: window/10) [default: 0]."),
        click.option("--precision", type=click.Choice(["auto", "bf16", "fp32"]),
                     help="Recipe: bf16 autocast on a GPU with native bf16 (auto; float32 on CPUs, so that "
                          "AVX2 and AVX-512 machines agree), or always where it can run, or never "
                          "[default: auto]."),
        click.option("--schedule", type=click.Choice(["one-cycle", "constant"]),
                     help="Recipe: lr rises to --lr then anneals (one-cycle), or stays at --lr "
                          "[default: one-cycle]."),
    ]
    return functools.reduce(lambda f, option: option(f), reversed(options), command)


def spectro_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Settings of the spectrogram model (used when spectro-cnn trains)."""
    options = [
        click.option("--spectro-window", type=int, help="spectro-cnn: returns per spectrogram [default: 256]."),
        click.option("--n-fft", type=int, help="spectro-cnn: FFT size per frame [default: 64]."),
        click.option("--hop", type=int, help="spectro-cnn: returns between frames [default: 8]."),
        click.option("--taper", type=click.Choice(["hann", "hamming", "blackman", "rect"]),
                     help="spectro-cnn: window function per frame [default: hann]."),
        click.option("--channels", metavar="C1,C2", help="spectro-cnn: channels of the two convolutions "
                                                         "[default: 16,32]."),
        click.option("--lstm-hidden", type=int, help="spectro-cnn: an LSTM of this size over the frames "
                                                     "(0: mean over frames) [default: 0]."),
    ]
    return functools.reduce(lambda f, option: option(f), reversed(options), command)


def loader_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """DataLoader settings, for samples read from a spectrogram dataset on disk."""
    options = [
        click.option("--loader-workers", type=int, help="Processes reading samples from disk [default: 0]."),
        click.option("--pin-memory/--no-pin-memory", default=None,
                     help="Page-locked batches for faster copies to a GPU [default: off]."),
        click.option("--prefetch", type=int, help="Batches each loader worker reads ahead [default: 2]."),
        click.option("--persistent-workers/--no-persistent-workers", default=None,
                     help="Keep loader workers alive between epochs [default: off]."),
    ]
    return functools.reduce(lambda f, option: option(f), reversed(options), command)


def saved_config(model_dir: str) -> RunConfig:
    """The resolved config stored in a saved model (a run folder or its ``model/``)."""
    from hpcast.train.artifacts import read_artifact

    path = Path(model_dir)
    _, manifest = read_artifact(path / "model" if (path / "model").is_dir() else path)
    return from_dict(RunConfig, manifest["config"])


def run_config(kwargs: dict[str, Any], base_config: RunConfig | None = None) -> RunConfig:
    """Merge a base (saved model's config, else the TOML file, else defaults) and the flags into one config."""
    path = kwargs.pop("config_path")
    if base_config is not None and path:
        raise click.UsageError("give --model or --config, not both")
    base = to_dict(base_config or (load_toml(path) if path else RunConfig()))
    for key in ("window", "horizon", "target"):
        if (value := kwargs.pop(key)) is not None:
            base[key] = value
    layers, dropout = ints(kwargs.pop("layers")), floats(kwargs.pop("dropout"))
    if layers is not None:
        base["model"]["layers"] = list(layers)
        if dropout is None:
            dropout = (base["model"]["dropout"][0],) * len(layers)
    if dropout is not None:
        base["model"]["dropout"] = list(dropout)
    if (init := kwargs.pop("init")) is not None:
        base["model"]["init"] = init
    for key in ("epochs", "batch_size", "lr", "loss", "patience", "val_fraction", "calibration_fraction", "seed",
                "kernels", "device", "loader_workers", "pin_memory", "prefetch", "persistent_workers", "targets",
                "warmup", "stride", "precision", "schedule"):
        if (value := kwargs.pop(key, None)) is not None:
            base["train"][key] = value
    if (architecture := kwargs.pop("architecture", None)) is not None:
        base["architecture"] = architecture
    for flag, key in (("spectro_window", "window"), ("n_fft", "n_fft"), ("hop", "hop"), ("taper", "taper"),
                      ("lstm_hidden", "lstm_hidden")):
        if (value := kwargs.pop(flag, None)) is not None:
            base["spectro"][key] = value
    if (channels := ints(kwargs.pop("channels", None))) is not None:
        base["spectro"]["channels"] = list(channels)
    for key in ("test_size", "step"):
        if key in kwargs and (value := kwargs.pop(key)) is not None:
            base["backtest"][key] = value
    return from_dict(RunConfig, base)


def console() -> Any:
    from rich.console import Console

    return Console()
