"""``hpcast train``: one process, or N workers through torchrun (ddp, local-sgd, store-avg)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from hpcast._uris import redact
from hpcast.cli import cli
from hpcast.cli.options import (
    DATA_FLAGS,
    choice,
    console,
    data_options,
    default,
    load_panel_flags,
    loader_options,
    model_choice,
    run_config,
    spectro_options,
    train_options,
    user_errors,
)
from hpcast.config import Strategy


def _print_training(forecaster: Any, folder: Path, profile: bool = False) -> None:
    result = forecaster.result
    if result is None:  # a baseline: nothing to train
        click.echo(f"model: {folder / 'model'} (a baseline: no training)\nreport: {folder / 'report.md'}")
        return
    if profile:
        from rich.table import Table

        table = Table("epoch", "wall s", "compute s", "data s", "sync s", "samples/s", title="per-epoch profile")
        for r in result.history:
            table.add_row(str(r.epoch), f"{r.seconds:.2f}", f"{r.compute_seconds:.2f}", f"{r.data_seconds:.3f}",
                          f"{r.sync_seconds:.3f}", f"{r.samples / r.seconds:,.0f}")
        console().print(table)
        click.echo(f"traces: {folder / 'profile'} (open in https://ui.perfetto.dev or chrome://tracing)")
    click.echo(f"trained {len(result.history)} epochs (best {result.best_epoch}, validation loss "
               f"{result.best_val_loss:.4g}) at {result.seconds_per_epoch:.2f} s/epoch")
    click.echo(f"model: {folder / 'model'}\nreport: {folder / 'report.md'}")


@cli.command()
@data_options
@train_options
@click.option("--model", "kind", type=model_choice(),
              help="The model, by its name in the model table (`hpcast models`) [default: "
                   f"{default('model.kind')}].")
@spectro_options
@click.option("--spectrograms", metavar="DIR", help="spectro-cnn: train on every symbol of a spectrogram dataset "
                                                    "(`hpcast features spectrogram --out DIR`) instead of one series.")
@loader_options
@click.option("--out", metavar="DIR", help="Run folder [default: runs/<timestamp>-train].")
@click.option("--resume", is_flag=True, help="Continue an interrupted run in --out from its last checkpoint.")
@click.option("--workers", type=click.IntRange(min=1),
              help="Worker processes on this machine, launched through torchrun "
                   f"[default: {default('distributed.workers')}].")
@click.option("--strategy", type=choice(Strategy),
              help="ddp: gradients averaged every step; local-sgd: parameters averaged every --sync-every steps; "
                   "store-avg: checkpoints averaged through --sync-url every --sync-every epochs "
                   f"[default: {default('distributed.strategy')}].")
@click.option("--sync-every", type=int, help="Steps (local-sgd) or epochs (store-avg) between averaging "
                                             "[default: 8 steps, 5 epochs].")
@click.option("--sync-url", metavar="URL", help="store-avg: where workers meet (file:///dir, s3://bucket/prefix); "
                                                "credentials from the environment / AWS chain.")
@click.option("--sync-timeout", type=float, help="store-avg: seconds to wait for the other workers' checkpoints "
                                                 f"[default: {default('distributed.sync_timeout')}].")
@click.option("--max-restarts", type=int, help="Restarts torchrun may make after a worker dies; the group resumes "
                                               "from the last checkpoint "
                                               f"[default: {default('distributed.max_restarts')}].")
@click.option("--profile", is_flag=True, help="Write torch.profiler traces (profile/, open in Perfetto) and print "
                                               "a per-epoch table of compute, data and sync time.")
@click.option("--register", metavar="ASSET", help="Log the run to MLflow and register the model as a new version "
                                                 "of hpcast-ASSET (alias challenger; champion if it is the first), "
                                                 "tagged with a walk-forward backtest of the same configuration "
                                                 "against naive (default folds). A model of several series is "
                                                 "registered once, as global-<name>, and serves each of them.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@user_errors
def train(out: str | None, resume: bool, profile: bool, register: str | None, quiet: bool,
          spectrograms: str | None, **kwargs: Any) -> None:
    """Train a model (the LSTM unless --model says otherwise) and save it.

    On several series (--datasets, a long CSV with --id-col, --symbols --from-store) one global model
    learns from all of them, each with its own scalers; --covariates adds past-observed inputs and the
    calendar of the forecast dates. Each series' last --val-fraction of windows validates (early stopping)
    and calibrates the intervals; the scalers see the training span only. Prints seconds per epoch;
    per-epoch timings go to metrics.json. With --workers N it runs N processes through torchrun (gloo on
    CPU, NCCL on GPU); only rank 0 writes.

    \b
    Example:
        hpcast train --dataset air_passengers --epochs 100 --out runs/air
        hpcast train --dataset sp500 --model gru --layers 32,32
        hpcast train --datasets sp500,nasdaq,aapl,msft,goog --covariates volume,ret:nasdaq,calendar --embedding 4
        hpcast train --dataset sp500 --target level --window 100 \\
            --layers 50,60,80,120 --dropout 0.2,0.3,0.4,0.5 --batch-size 32 --epochs 2
        hpcast train --dataset sp500 --workers 2 --strategy ddp --out runs/ddp
        hpcast train --dataset sp500 --workers 2 --strategy store-avg --sync-url s3://bucket/hpcast
        hpcast train --dataset gold --register gold
        hpcast train --dataset sp500 --model spectro-cnn --n-fft 64 --hop 8 --epochs 20
        hpcast train --model spectro-cnn --spectrograms runs/spec --loader-workers 2 --profile
    """
    import os

    from hpcast.jobs import new_run_folder, train_job
    from hpcast.train.distributed import Distributed, in_worker

    if spectrograms:
        given = [f"--{key.removesuffix('_path').replace('_', '-')}" for key in DATA_FLAGS
                 if kwargs.pop(key, None) not in (None, False)]
        config = run_config({**kwargs, "kind": "spectro-cnn"})
        if given or config.distributed.workers > 1 or resume:
            raise click.UsageError(f"--spectrograms trains from the dataset on disk: no data flags "
                                   f"({', '.join(given) or 'none given'}), --workers or --resume with it")
        folder = new_run_folder("train", out)
        forecaster = train_job(Path(spectrograms), config, folder, quiet=quiet, profile=profile)
        _print_training(forecaster, folder, profile)
        if register:
            click.echo("no backtest recorded: a spectrogram dataset has no single series to backtest "
                       "(`hpcast pipeline retrain` records the model's live error)")
            _register(folder, register, {})
        return
    panel = load_panel_flags(kwargs)
    config = run_config(kwargs)
    distributed = config.distributed
    if register and panel.n_series > 1 and register in panel.symbols:
        raise click.UsageError(f"--register {register}: a model of {panel.n_series} series is registered once, under a "
                               f"name of its own (e.g. global-{panel.name}), not under one of its symbols")
    if resume and out is None:
        raise click.UsageError("--resume needs --out, the folder of the interrupted run")
    if in_worker():  # one of torchrun's processes: join the group and train
        dist = Distributed.from_env(distributed.strategy, distributed.sync_every, distributed.sync_url,
                                    distributed.sync_timeout)
        restarted = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) > 0
        try:
            folder = Path(out) if out else new_run_folder("train")
            forecaster = train_job(panel, config, folder, resume=resume or restarted, quiet=quiet, dist=dist,
                                   profile=profile)
        finally:
            dist.close()
        if dist.is_main:
            _print_training(forecaster, folder, profile)
        return
    if distributed.strategy == "store-avg" and not distributed.sync_url:
        raise click.UsageError("--strategy store-avg needs --sync-url (file:///shared/dir or s3://bucket/prefix)")
    folder = new_run_folder("train", out)
    if distributed.workers > 1:
        _launch_workers(click.get_current_context(), folder, distributed.workers, distributed.max_restarts)
    else:
        forecaster = train_job(panel, config, folder, resume=resume, quiet=quiet, profile=profile)
        _print_training(forecaster, folder, profile)
    if register:
        _register(folder, register, _backtest_tags(panel, config, quiet))


def _backtest_tags(panel: Any, config: Any, quiet: bool) -> dict[str, str]:
    """The walk-forward backtest a registered version carries as tags, so its skill is never unknown."""
    from hpcast.pipelines.retrain import backtest_tags
    from hpcast.train.progress import FoldProgress

    tags = backtest_tags(panel, panel.freq, config, progress=None if quiet else FoldProgress())
    click.echo(f"backtest: MASE {float(tags['backtest_mase']):.3f} against {float(tags['naive_mase']):.3f} for naive "
               f"on {len(tags['folds'].split(','))} folds")
    return tags


def _register(folder: Path, asset: str, tags: dict[str, str]) -> None:
    from hpcast.registry import Registry, model_name

    registry = Registry()
    version = registry.register(registry.log_training(folder, asset), asset, tags=tags)
    aliases = next(v.aliases for v in registry.versions(asset) if v.version == version)
    click.echo(f"registered {model_name(asset)} version {version} (aliases: {', '.join(aliases)}) in "
               f"{redact(registry.uri)}")


def _launch_workers(context: click.Context, folder: Path, workers: int, max_restarts: int) -> None:
    """Re-run this very command in ``workers`` torchrun processes, writing into ``folder``."""
    import subprocess

    from hpcast.train.distributed import torchrun_command

    argv = [context.info_name or "train"]
    for param in context.command.params:
        value = context.params.get(param.name or "")
        if not isinstance(param, click.Option) or param.name in ("out", "register") or value is None or value is False:
            continue
        flag = max(param.opts, key=len)
        argv += [flag] if param.is_flag else [flag, str(value)]
    argv += ["--out", str(folder)]
    done = subprocess.run(torchrun_command(workers, argv, max_restarts), check=False)
    if done.returncode != 0:
        raise click.ClickException(f"torchrun exited with code {done.returncode}; see the messages above")
