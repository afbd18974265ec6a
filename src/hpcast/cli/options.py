"""Options and helpers shared by the commands: data flags, training flags, config merging, errors."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from hpcast.config import RunConfig, from_dict, load_toml, to_dict
from hpcast.features.covariate_kinds import covariates_help  # a plain table: no pandas

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
              "calendar", "datasets", "id_col", "symbols", "from_store", "as_of", "covariates")  # data_options' keys
PANEL_FLAGS = ("datasets", "id_col", "symbols", "from_store", "as_of", "covariates")  # read by `load_panel_flags` only


def data_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--dataset", metavar="NAME", help="Bundled dataset (see `hpcast data list`)."),
        click.option("--datasets", metavar="NAMES",
                     help="Several bundled datasets as one panel, each on its own calendar and all of one frequency, "
                          "e.g. sp500,nasdaq,aapl,msft,goog."),
        click.option("--csv", "csv_path", metavar="PATH",
                     help="Your own CSV file: a date and a value column, or a long file of many series (an id column, "
                          "see --id-col)."),
        click.option("--id-col", metavar="C",
                     help="Long CSV: the series id column; a CSV with it is read as long (unique_id, ds, y and "
                          "covariate columns) [default: unique_id when the file has it]."),
        click.option("--symbols", metavar="S1,S2",
                     help="Several series as one panel: bundled names, or with --from-store the feature store's."),
        click.option("--from-store", is_flag=True, default=None,
                     help="Read --symbols from the feature store (--store where the command has it, else "
                          "$HPCAST_STORE)."),
        click.option("--as-of", metavar="TIMESTAMP",
                     help="With --from-store: the store as it was then, rows ingested later left out (UTC, e.g. "
                          "2026-01-05T22:00)."),
        click.option("--covariates", metavar="LIST",
                     help=f"Covariates, comma separated, e.g. volume,ret:nasdaq,ma_ratio:50,calendar. "
                          f"{covariates_help()}."),
        click.option("--date-col", metavar="C", help="CSV date column [default: date; ds with --id-col]."),
        click.option("--value-col", metavar="C",
                     help="Column to model [default: adj_close for prices, else value/close; y with --id-col]."),
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
    # a command may declare one of these flags itself (`features spectrogram`: --symbols, --from-store): keep its own
    declared = {param.name for param in getattr(command, "__click_params__", [])}
    options = [option for option in options if _option_name(option) not in declared]
    return functools.reduce(lambda f, option: option(f), reversed(options), command)


def _option_name(option: Callable[..., Any]) -> str | None:
    """The keyword name a `click.option` decorator gives its parameter."""
    probe = option(lambda: None)
    return probe.__click_params__[0].name  # type: ignore[attr-defined]


def load_dataset(kwargs: dict[str, Any]) -> Any:
    """Pop `data_options`' flags from ``kwargs``, load the dataset and print its notes (to stderr) once."""
    from hpcast.data import load_data

    panel_only = [f"--{key.replace('_', '-')}" for key in PANEL_FLAGS if kwargs.pop(key, None) is not None]
    if panel_only:
        raise click.UsageError(f"{', '.join(panel_only)} read a panel of many series; this command models one "
                               "(give --dataset, --csv or --ticker)")
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


def load_panel_flags(kwargs: dict[str, Any]) -> Any:
    """Pop `data_options`' flags from ``kwargs``, load them as one `hpcast.data.panel.Panel` (many series, with
    covariates) and print its notes (to stderr) once. A command's ``--store`` (``store_url``) is read, not popped."""
    from hpcast.data import load_panel

    flags = {key: kwargs.pop(key, None) for key in DATA_FLAGS}
    panel = load_panel(datasets=flags["datasets"], csv=flags["csv_path"], symbols=flags["symbols"],
                       from_store=bool(flags["from_store"]), store=kwargs.get("store_url"), as_of=flags["as_of"],
                       dataset=flags["dataset"], ticker=flags["ticker"], start=flags["start"], end=flags["end"],
                       id_col=flags["id_col"], date_col=flags["date_col"], value_col=flags["value_col"],
                       covariates=flags["covariates"] or (), missing=flags["missing"] or "error",
                       date_format=flags["date_format"], calendar=flags["calendar"])
    for note in panel.notes:
        click.echo(f"{panel.name}: {note}", err=True)
    return panel


def floats(text: str | None) -> tuple[float, ...] | None:
    return None if text is None else tuple(float(x) for x in text.split(","))


def ints(text: str | None) -> tuple[int, ...] | None:
    return None if text is None else tuple(int(x) for x in text.split(","))


def typed(value: Any) -> str:
    """A default as a user types it: 64,32 for tuples, on/off for flags."""
    if isinstance(value, tuple | list):
        return ",".join(typed(item) for item in value)
    if isinstance(value, bool):
        return "on" if value else "off"
    return "none" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def default(path: str, kind: str | None = None) -> str:
    """The default of setting ``path`` (``train.lr``; ``model.layers`` of model ``kind``), read from the config
    dataclasses: help texts never restate a default by hand."""
    from hpcast.forecast.table import model_spec

    value: Any = RunConfig() if kind is None else model_spec(kind).config()
    for part in (path.removeprefix("model.") if kind else path).split("."):
        value = getattr(value, part)
    return typed(value)


def having(setting: str) -> str:
    """The models whose settings include ``setting``, for help texts that must not list them by hand."""
    import dataclasses

    from hpcast.forecast.table import MODELS

    return ", ".join(name for name, spec in MODELS.items()
                     if setting in {f.name for f in dataclasses.fields(spec.config)})


def _model_names() -> list[str]:
    from hpcast.forecast.table import MODELS

    return list(MODELS)


def train_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--config", "config_path", metavar="TOML", help="Settings file; flags override it."),
        click.option("--window", type=int, help="Input window T [default: 60 daily, 24 monthly, ...]."),
        click.option("--horizon", type=int, help="Steps forecast at once h [default: 30 daily, 12 monthly]."),
        click.option("--target", type=click.Choice(["log_return", "level"]),
                     help=f"What the net predicts; level reproduces the seed study [default: {default('target')}]."),
        click.option("--layers", metavar="H1,H2,..",
                     help=f"{having('layers')}: hidden size per layer [default: {default('model.layers', 'lstm')}]."),
        click.option("--dropout", metavar="P1,P2,..",
                     help=f"Dropout per layer ({having('layers')}) or after the convolutions ({having('channels')}) "
                          f"[default: {default('model.dropout', 'lstm')} each]."),
        click.option("--init", type=click.Choice(["keras", "torch"]),
                     help=f"{having('init')}: weight init [default: {default('model.init', 'lstm')}]."),
        click.option("--embedding", type=int,
                     help=f"{having('embedding')} on a panel: a learned vector of this size per symbol (static "
                          f"covariate; 0: none) [default: {default('model.embedding', 'lstm')}]."),
        click.option("--epochs", type=int, help="Maximum epochs (early stopping usually ends sooner) "
                                                f"[default: {default('train.epochs')}]."),
        click.option("--batch-size", type=int, help=f"Windows per step [default: {default('train.batch_size')}]."),
        click.option("--lr", type=float, help="Adam learning rate, the peak under one-cycle "
                                              f"[default: {default('train.lr')}]."),
        click.option("--loss", type=click.Choice(["mse", "mae", "huber"]),
                     help=f"Training loss [default: {default('train.loss')}]."),
        click.option("--patience", type=int, help="Early-stopping patience in epochs "
                                                  f"[default: {default('train.patience')}]."),
        click.option("--val-fraction", type=float, help="Last share of each series' windows held out from training "
                                                        f"[default: {default('train.val_fraction')}]."),
        click.option("--calibration-fraction", type=float,
                     help="Later share of the held-out windows that calibrates the intervals; the earlier ones "
                          f"stop early [default: {default('train.calibration_fraction')}]."),
        click.option("--seed", type=int,
                     help=f"Random seed; same seed, same weights [default: {default('train.seed')}]."),
        click.option("--ensemble", type=int, metavar="K",
                     help="Seed ensemble of a recurrent model: K networks from seeds --seed .. --seed+K-1, their "
                          "mean the forecast, their spread a column of its own "
                          f"[default: {default('train.ensemble')}]."),
        click.option("--kernels", type=click.Choice(["auto", "torch", "triton"]),
                     help=f"Triton LSTM/MSE kernels: on CUDA (auto), never, or always "
                          f"[default: {default('train.kernels')}]."),
        click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]),
                     help=f"Where training runs: the GPU if there is one (auto) [default: {default('train.device')}]."),
        click.option("--series-weights", type=click.Choice(["length", "equal"]),
                     help="A panel's windows per epoch: each once, so long series weigh more (length), or drawn "
                          "with replacement, each series equally (equal) "
                          f"[default: {default('train.series_weights')}]."),
        click.option("--fleet", type=click.Choice(["auto", "on", "off"]),
                     help="Train same-shape LSTMs (folds, ensemble members) K at a time in one fused run: on a "
                          f"GPU (auto), on any device, or never [default: {default('train.fleet')}]."),
        # The training recipe (README "Training engine"); each lever has its off switch.
        click.option("--targets", type=click.Choice(["all", "last"]),
                     help="Recipe: a target at every step of a window after a warm-up (all), or only at its end, "
                          f"for every window, as the seed study trained (last) [default: {default('train.targets')}]."),
        click.option("--warmup", type=float, help="Recipe, --targets all: share of a window's first steps "
                                                  f"left out of the loss [default: {default('train.warmup')}]."),
        click.option("--stride", type=int, help="Recipe, --targets all: steps between training windows "
                                                f"(0: window/10) [default: {default('train.stride')}]."),
        click.option("--precision", type=click.Choice(["auto", "bf16", "fp32"]),
                     help="Recipe: bf16 autocast on a GPU with native bf16 (auto; float32 on CPUs, so that "
                          "AVX2 and AVX-512 machines agree), or always where it can run, or never "
                          f"[default: {default('train.precision')}]."),
        click.option("--schedule", type=click.Choice(["one-cycle", "constant"]),
                     help="Recipe: lr rises to --lr then anneals (one-cycle), or stays at --lr "
                          f"[default: {default('train.schedule')}]."),
    ]
    return functools.reduce(lambda f, option: option(f), reversed(options), command)


def spectro_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Settings of the spectrogram model (used when spectro-cnn trains)."""
    kind = "spectro-cnn"
    options = [
        click.option("--spectro-window", type=int, help="spectro-cnn: returns per spectrogram "
                                                        f"[default: {default('spectrogram.window', kind)}]."),
        click.option("--n-fft", type=int, help=f"spectro-cnn: FFT size per frame "
                                               f"[default: {default('spectrogram.n_fft', kind)}]."),
        click.option("--hop", type=int, help=f"spectro-cnn: returns between frames "
                                             f"[default: {default('spectrogram.hop', kind)}]."),
        click.option("--taper", type=click.Choice(["hann", "hamming", "blackman", "rect"]),
                     help=f"spectro-cnn: window function per frame [default: {default('spectrogram.taper', kind)}]."),
        click.option("--channels", metavar="C1,C2", help="spectro-cnn: channels of the two convolutions "
                                                         f"[default: {default('channels', kind)}]."),
        click.option("--lstm-hidden", type=int, help="spectro-cnn: an LSTM of this size over the frames "
                                                     "(0: mean over frames) "
                                                     f"[default: {default('lstm_hidden', kind)}]."),
    ]
    return functools.reduce(lambda f, option: option(f), reversed(options), command)


def loader_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """DataLoader settings, for samples read from a spectrogram dataset on disk."""
    options = [
        click.option("--loader-workers", type=int,
                     help=f"Processes reading samples from disk [default: {default('train.loader_workers')}]."),
        click.option("--pin-memory/--no-pin-memory", default=None,
                     help=f"Page-locked batches for faster copies to a GPU [default: {default('train.pin_memory')}]."),
        click.option("--prefetch", type=int,
                     help=f"Batches each loader worker reads ahead [default: {default('train.prefetch')}]."),
        click.option("--persistent-workers/--no-persistent-workers", default=None,
                     help="Keep loader workers alive between epochs "
                          f"[default: {default('train.persistent_workers')}]."),
    ]
    return functools.reduce(lambda f, option: option(f), reversed(options), command)


def saved_config(model_dir: str) -> RunConfig:
    """The resolved config stored in a saved model (a run folder or its ``model/``)."""
    from hpcast.forecast.artifacts import read_artifact

    path = Path(model_dir)
    _, manifest = read_artifact(path / "model" if (path / "model").is_dir() else path)
    return from_dict(RunConfig, manifest["config"])


# flag keyword -> where it lands in the model's settings (each model has only some of them)
_MODEL_FLAGS = {"layers": "layers", "dropout": "dropout", "init": "init", "embedding": "embedding",
                "spectro_window": "spectrogram.window", "n_fft": "spectrogram.n_fft", "hop": "spectrogram.hop",
                "taper": "spectrogram.taper", "channels": "channels", "lstm_hidden": "lstm_hidden"}
_TRAIN_FLAGS = ("epochs", "batch_size", "lr", "loss", "patience", "val_fraction", "calibration_fraction", "seed",
                "ensemble", "kernels", "device", "loader_workers", "pin_memory", "prefetch", "persistent_workers",
                "targets", "warmup", "stride", "precision", "schedule", "series_weights", "fleet")
_DISTRIBUTED_FLAGS = ("workers", "strategy", "sync_every", "sync_url", "sync_timeout", "max_restarts")
_BACKTEST_FLAGS = ("test_size", "step", "scope")


def _model_settings(kwargs: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """Pop the model flags from ``kwargs`` into ``settings`` (a model table); a flag the model lacks is an
    error naming the models that have it. ``--layers`` alone repeats the first dropout rate for every layer."""
    import typing

    from hpcast.forecast.table import model_spec

    spec = model_spec(settings["kind"])
    hints = typing.get_type_hints(spec.config)
    given = {flag: value for flag in _MODEL_FLAGS if (value := kwargs.pop(flag, None)) is not None}
    for flag, value in given.items():
        head, _, tail = _MODEL_FLAGS[flag].partition(".")
        if head not in hints:
            users = [name for name in _model_names() if head in typing.get_type_hints(model_spec(name).config)]
            raise click.UsageError(f"--{flag.replace('_', '-')} is a setting of {', '.join(users)}, not of "
                                   f"{spec.name}")
        if head in ("layers", "channels"):
            value = list(ints(value) or ())
        elif head == "dropout":
            rates = list(floats(value) or ())
            value = rates if typing.get_origin(hints[head]) is tuple or len(rates) != 1 else rates[0]
        if tail:
            settings.setdefault(head, {})[tail] = value
        else:
            settings[head] = value
    if "layers" in given and "dropout" not in given:
        first = (settings.get("dropout") or list(spec.config().dropout))[0]
        settings["dropout"] = [first] * len(settings["layers"])
    return settings


def run_config(kwargs: dict[str, Any], base_config: RunConfig | None = None) -> RunConfig:
    """Merge a base (saved model's config, else the TOML file, else defaults) and the flags into one config.

    ``kind`` (``--model NAME`` of ``hpcast train``) picks the model; its settings start from the base's when
    the base is the same model, else from that model's defaults.
    """
    path = kwargs.pop("config_path")
    if base_config is not None and path:
        raise click.UsageError("give --model or --config, not both")
    base = to_dict(base_config or (load_toml(path) if path else RunConfig()))
    for key in ("window", "horizon", "target"):
        if (value := kwargs.pop(key, None)) is not None:
            base[key] = value
    if (kind := kwargs.pop("kind", None)) is not None and kind != base["model"]["kind"]:
        base["model"] = {"kind": kind}
    base["model"] = _model_settings(kwargs, base["model"])
    for table, keys in (("train", _TRAIN_FLAGS), ("distributed", _DISTRIBUTED_FLAGS), ("backtest", _BACKTEST_FLAGS)):
        for key in keys:
            if (value := kwargs.pop(key, None)) is not None:
                base[table][key] = value
    return from_dict(RunConfig, base)


def console() -> Any:
    from rich.console import Console

    return Console()


def model_choice() -> click.Choice:
    """``--model NAME``'s choices: the rows of `hpcast.forecast.MODELS`."""
    return click.Choice(_model_names())
