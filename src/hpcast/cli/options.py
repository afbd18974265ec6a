"""Options and helpers shared by the commands: data flags, training flags, config merging, errors."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from hpcast.config import (
    Device,
    Fleet,
    Kernels,
    Loss,
    Precision,
    RunConfig,
    Schedule,
    SeriesWeights,
    Target,
    Targets,
    from_dict,
    load_toml,
    to_dict,
)
from hpcast.features.spectrogram import Taper
from hpcast.forecast.spec import Calibration, Distribution, Init
from hpcast.inputs.sources import SERIES_OPTIONS, DataRequest, option_flag

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


def data_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The data flags: one per field of `hpcast.inputs.DataRequest`, its help from the field (the data-source
    table says which flags each source takes)."""
    options = [_data_option(f) for f in dataclasses.fields(DataRequest) if f.metadata]
    # a command may declare one of these flags itself (`features spectrogram`: --symbols, --from-store): keep its own
    declared = {param.name for param in getattr(command, "__click_params__", [])}
    options = [option for option in options if _option_name(option) not in declared]
    return functools.reduce(lambda f, option: option(f), reversed(options), command)


def _data_option(f: dataclasses.Field[Any]) -> Callable[..., Any]:
    meta = f.metadata
    if meta["is_flag"]:
        return click.option(option_flag(f.name), is_flag=True, default=None, help=meta["help"])
    kind = click.Choice(meta["choices"]) if meta["choices"] else None
    return click.option(option_flag(f.name), type=kind, metavar=None if kind else meta["metavar"], help=meta["help"])


DATA_FLAGS = tuple(f.name for f in dataclasses.fields(DataRequest) if f.metadata)  # data_options' keys


def _option_name(option: Callable[..., Any]) -> str | None:
    """The keyword name a `click.option` decorator gives its parameter."""
    probe = option(lambda: None)
    return probe.__click_params__[0].name  # type: ignore[attr-defined]


def data_request(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Pop `data_options`' flags from ``kwargs``: the ones given, as `DataRequest`'s keywords. A command's
    ``--store`` (``store_url``) is read, not popped."""
    given = {key: value for key in DATA_FLAGS if (value := kwargs.pop(key, None)) is not None}
    return {**given, **({"store": kwargs["store_url"]} if kwargs.get("store_url") else {})}


def load_dataset(kwargs: dict[str, Any]) -> Any:
    """Pop `data_options`' flags from ``kwargs``, load one series and print its notes (to stderr) once."""
    from hpcast.inputs import load_data

    request = data_request(kwargs)
    panel_only = [option_flag(key) for key in request if key not in SERIES_OPTIONS]
    if panel_only:
        raise click.UsageError(f"{', '.join(panel_only)} read a panel of many series; this command models one "
                               "(give --dataset, --csv or --ticker)")
    column = request.pop("value_col", None)
    dataset = load_data(**request, **({"value_col": column} if request.get("csv") else {}))
    for note in dataset.notes:
        click.echo(f"{dataset.name}: {note}", err=True)
    if column is not None and column not in dataset.value_columns:
        column = None  # a CSV's value column is renamed to 'value' on load
    dataset.series(column)  # validate the column now, before anything is written
    return dataset, column


def load_panel_flags(kwargs: dict[str, Any]) -> Any:
    """Pop `data_options`' flags from ``kwargs``, load them as one `hpcast.data.panel.Panel` (many series, with
    covariates) and print its notes (to stderr) once. A command's ``--store`` (``store_url``) is read, not popped."""
    from hpcast.inputs import load_panel

    panel = load_panel(**data_request(kwargs))
    for note in panel.notes:
        click.echo(f"{panel.name}: {note}", err=True)
    return panel


def choice(literal: Any) -> click.Choice:
    """A flag's choices: the values of the config's ``Literal`` (one list, never restated here)."""
    import typing

    return click.Choice(typing.get_args(literal))


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
        click.option("--levels", metavar="L1,L2,..",
                     help="Central interval levels of the bands, increasing; the lower edge of 0.98 is the 1% "
                          f"quantile, the 99% VaR [default: {default('interval_levels')}]."),
        click.option("--target", type=choice(Target),
                     help=f"What the net predicts; level reproduces the seed study [default: {default('target')}]."),
        click.option("--layers", metavar="H1,H2,..",
                     help=f"{having('layers')}: hidden size per layer [default: {default('model.layers', 'lstm')}]."),
        click.option("--dropout", metavar="P1,P2,..",
                     help=f"Dropout per layer ({having('layers')}) or after the convolutions ({having('channels')}) "
                          f"[default: {default('model.dropout', 'lstm')} each]."),
        click.option("--init", type=choice(Init),
                     help=f"{having('init')}: weight init [default: {default('model.init', 'lstm')}]."),
        click.option("--embedding", type=int,
                     help=f"{having('embedding')} on a panel: a learned vector of this size per symbol (static "
                          f"covariate; 0: none) [default: {default('model.embedding', 'lstm')}]."),
        click.option("--distribution", type=choice(Distribution),
                     help=f"{having('distribution')}: the output head: a point per step trained by --loss (point), "
                          "or a distribution per step trained by its likelihood (normal, student-t) or by the "
                          "pinball loss over --quantiles (quantiles); the bands then scale with its spread "
                          f"[default: {default('model.distribution', 'lstm')}]."),
        click.option("--calibration", type=choice(Calibration),
                     help=f"{having('calibration')}, a point head: bands split-conformal on plain errors (plain) or on "
                          "errors over the series' EWMA volatility at each origin, so they widen in storms (ewma; "
                          f"log-return targets) [default: {default('model.calibration', 'lstm')}]."),
        click.option("--quantiles", metavar="Q1,Q2,..",
                     help=f"{having('quantiles')}, --distribution quantiles: the levels learned, 0.5 among them "
                          f"[default: {default('model.quantiles', 'lstm')}]."),
        click.option("--epochs", type=int, help="Maximum epochs (early stopping usually ends sooner) "
                                                f"[default: {default('train.epochs')}]."),
        click.option("--batch-size", type=int, help=f"Windows per step [default: {default('train.batch_size')}]."),
        click.option("--lr", type=float, help="Adam learning rate, the peak under one-cycle "
                                              f"[default: {default('train.lr')}]."),
        click.option("--loss", type=choice(Loss),
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
        click.option("--kernels", type=choice(Kernels),
                     help=f"Triton LSTM/MSE kernels: on CUDA (auto), never, or always "
                          f"[default: {default('train.kernels')}]."),
        click.option("--device", type=choice(Device),
                     help=f"Where training runs: the GPU if there is one (auto) [default: {default('train.device')}]."),
        click.option("--series-weights", type=choice(SeriesWeights),
                     help="A panel's windows per epoch: each once, so long series weigh more (length), or drawn "
                          "with replacement, each series equally (equal) "
                          f"[default: {default('train.series_weights')}]."),
        click.option("--fleet", type=choice(Fleet),
                     help="Train same-shape LSTMs (folds, ensemble members) K at a time in one fused run: on a "
                          f"GPU (auto), on any device, or never [default: {default('train.fleet')}]."),
        # The training recipe (README "Training engine"); each lever has its off switch.
        click.option("--targets", type=choice(Targets),
                     help="Recipe: a target at every step of a window after a warm-up (all), or only at its end, "
                          f"for every window, as the seed study trained (last) [default: {default('train.targets')}]."),
        click.option("--warmup", type=float, help="Recipe, --targets all: share of a window's first steps "
                                                  f"left out of the loss [default: {default('train.warmup')}]."),
        click.option("--stride", type=int, help="Recipe, --targets all: steps between training windows "
                                                f"(0: window/10) [default: {default('train.stride')}]."),
        click.option("--precision", type=choice(Precision),
                     help="Recipe: bf16 autocast on a GPU with native bf16 (auto; float32 on CPUs, so that "
                          "AVX2 and AVX-512 machines agree), or always where it can run, or never "
                          f"[default: {default('train.precision')}]."),
        click.option("--schedule", type=choice(Schedule),
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
        click.option("--taper", type=choice(Taper),
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
                "distribution": "distribution", "quantiles": "quantiles", "calibration": "calibration",
                "spectro_window": "spectrogram.window", "n_fft": "spectrogram.n_fft", "hop": "spectrogram.hop",
                "taper": "spectrogram.taper", "channels": "channels", "lstm_hidden": "lstm_hidden"}
_TRAIN_FLAGS = ("epochs", "batch_size", "lr", "loss", "patience", "val_fraction", "calibration_fraction", "seed",
                "ensemble", "kernels", "device", "loader_workers", "pin_memory", "prefetch", "persistent_workers",
                "targets", "warmup", "stride", "precision", "schedule", "series_weights", "fleet")
_DISTRIBUTED_FLAGS = ("workers", "strategy", "sync_every", "sync_url", "sync_timeout", "max_restarts")
_BACKTEST_FLAGS = ("test_size", "step", "scope", "refit_every", "adaptive")  # and var, a list (run_config)


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
        elif head == "quantiles":
            value = list(floats(value) or ())
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
    if (levels := kwargs.pop("levels", None)) is not None:
        base["interval_levels"] = list(floats(levels) or ())
    if (var := kwargs.pop("var", None)) is not None:
        base["backtest"]["var"] = list(floats(var) or ())
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
