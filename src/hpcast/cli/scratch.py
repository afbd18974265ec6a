"""``hpcast scratch train``: the from-scratch LSTM study (NumPy, Numba, Numba CUDA, torch)."""

from __future__ import annotations

from typing import Any

import click

from hpcast.cli import cli
from hpcast.cli.options import (
    choice,
    data_options,
    ints,
    load_dataset,
    user_errors,
)
from hpcast.models.scratch.train import Dtype, Optimizer, TaskKind


@cli.group()
def scratch() -> None:
    """The from-scratch LSTM study: NumPy, Numba-parallel, Numba CUDA and torch give the same numbers.

    \b
    Example:
        hpcast scratch train --impl numpy,numba,torch --dataset air_passengers --hidden 50 --epochs 5
    """


@scratch.command("train")
@data_options
@click.option("--impl", default="numpy", show_default=True,
              help="numpy, numpy-per-sample, numba, numba-cuda or torch; a comma list compares them.")
@click.option("--hidden", default="50", show_default=True, metavar="H1,H2,..", help="Hidden size per layer.")
@click.option("--window", type=int, default=12, show_default=True, help="Input window length.")
@click.option("--task", type=choice(TaskKind), default="regression",
              show_default=True, help="Next value (MSE) or next change bucketed into --classes (cross-entropy).")
@click.option("--classes", type=int, default=3, show_default=True, help="Classes for --task classification.")
@click.option("--epochs", type=int, default=5, show_default=True, help="Epochs.")
@click.option("--batch-size", type=int, default=32, show_default=True, help="Minibatch size.")
@click.option("--optimizer", type=choice(Optimizer), default="adam", show_default=True,
              help="Update rule.")
@click.option("--lr", type=float, default=0.01, show_default=True, help="Learning rate.")
@click.option("--clip-norm", type=float, default=5.0, show_default=True, help="Global gradient-norm clip (0: off).")
@click.option("--dtype", type=choice(Dtype), default="float64", show_default=True,
              help="Floating-point type.")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed for weights and batch order.")
@click.option("--threads", type=int, help="Numba threads [default: all cores].")
@user_errors
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

    dataset, column = load_dataset(kwargs)  # pops every data flag, so the rest is ScratchConfig's
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
    config = ScratchConfig(hidden=ints(hidden) or (50,), **kwargs)
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
