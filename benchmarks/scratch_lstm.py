"""From-scratch LSTM: one training epoch per implementation, measured in one run, as in the original study.

(a) NumPy one sample at a time (the original's sequential version), (b) NumPy batched, (c) Numba-parallel
with 1 and 2 threads, (d) torch on CPU for reference. All train the same float64 model from the same
weights on the same batches (the last column shows they reach the same loss). Reported: wall seconds for
the training steps of one epoch (median of --repeats; (a) once, it is slow), speed-up against (a) and (b),
and parallel efficiency t(c, 1 thread) / (2 · t(c, 2 threads)).

Workloads: AirPassengers (tiny: overheads dominate) and seed-like (windows of 100 from the bundled S&P 500
closes, hidden 50, batch 256). A batch-size sweep then shows where Numba starts to beat batched NumPy.

Run: ``python benchmarks/scratch_lstm.py [--repeats 3] [--skip-per-sample]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numba
import numpy as np
import torch

from _machine import describe  # benchmarks/_machine.py: python puts this folder on the path
from hpcast.data import load_bundled
from hpcast.models.scratch.params import init_params, make_layout
from hpcast.models.scratch.train import ScratchConfig, implementation, make_task, train_scratch

WORKLOADS = {
    "tiny (AirPassengers)": ("air_passengers", ScratchConfig(hidden=(50,), window=12, batch_size=32, epochs=1)),
    "seed-like (S&P 500)": ("sp500", ScratchConfig(hidden=(50,), window=100, batch_size=256, epochs=1)),
}
ROWS = [("(a) numpy, one sample at a time", "numpy-per-sample", None), ("(b) numpy, batched", "numpy", None),
        ("(c1) numba-parallel, 1 thread", "numba", 1), ("(c2) numba-parallel, 2 threads", "numba", 2),
        ("(d) torch cpu, 2 threads", "torch", None)]


def epoch_seconds(name: str, task, config: ScratchConfig, threads: int | None, repeats: int) -> tuple[float, float]:
    if threads is not None:
        numba.set_num_threads(threads)
    runs = [train_scratch(name, task, config)[1][0] for _ in range(repeats)]
    return statistics.median(r["seconds"] for r in runs), runs[0]["train_loss"]


def warm_up(task, config: ScratchConfig) -> None:
    """Compile Numba (cached on disk after the first run) and start torch before anything is timed."""
    layout = make_layout(1, config.hidden, task.Y_train.shape[1])
    theta = init_params(layout, 0)
    for name in ("numba", "torch"):
        implementation(name, layout).loss_and_grad(theta, task.X_train[:4], task.Y_train[:4], task.loss)


def table(label: str, dataset: str, config: ScratchConfig, repeats: int, skip_per_sample: bool) -> None:
    task = make_task(load_bundled(dataset).series().to_numpy(), config)
    warm_up(task, config)
    print(f"\n{label}: {len(task.X_train)} training windows of {config.window}, hidden {config.hidden[0]}, "
          f"batch {config.batch_size}, float64, one epoch")
    results = {}
    for row, name, threads in ROWS:
        if name == "numpy-per-sample" and skip_per_sample:
            continue
        results[row] = epoch_seconds(name, task, config, threads, 1 if name == "numpy-per-sample" else repeats)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    a = results.get(ROWS[0][0], (float("nan"),))[0]
    b = results[ROWS[1][0]][0]
    print(f"{'implementation':<34}{'seconds':>9}{'vs (a)':>9}{'vs (b)':>9}   epoch train loss")
    for row, (seconds, loss) in results.items():
        print(f"{row:<34}{seconds:>9.3f}{a / seconds:>8.1f}×{b / seconds:>8.2f}×   {loss:.12e}")
    c1, c2 = results[ROWS[2][0]][0], results[ROWS[3][0]][0]
    print(f"parallel efficiency on 2 cores: {c1 / (2 * c2):.0%}   numba 2 threads vs batched numpy: {b / c2:.2f}×")


def crossover(repeats: int) -> None:
    """One loss_and_grad call at seed-like shapes for growing batches: where does Numba pay?"""
    config = ScratchConfig(hidden=(50,), window=100)
    task = make_task(load_bundled("sp500").series().to_numpy(), config)
    layout = make_layout(1, (50,), 1)
    theta = init_params(layout, 0)
    impls = {name: implementation(name, layout) for name in ("numpy", "numba")}
    numba.set_num_threads(2)
    print("\nbatch-size sweep (window 100, hidden 50, one loss_and_grad call, numba on 2 threads):")
    print(f"{'batch':>6}{'numpy ms':>10}{'numba ms':>10}{'numba speed-up':>16}")
    for batch in (1, 4, 16, 64, 256, 1024):
        X, Y = task.X_train[:batch], task.Y_train[:batch]
        times = {}
        for name, impl in impls.items():
            samples = []
            for _ in range(max(repeats, 3)):
                started = time.perf_counter()
                impl.loss_and_grad(theta, X, Y, "mse")
                samples.append(time.perf_counter() - started)
            times[name] = statistics.median(samples)
        print(f"{batch:>6}{1e3 * times['numpy']:>10.2f}{1e3 * times['numba']:>10.2f}"
              f"{times['numpy'] / times['numba']:>15.2f}×")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per implementation (median)")
    parser.add_argument("--skip-per-sample", action="store_true", help="leave out (a), which is slow")
    args = parser.parse_args()
    print(describe())
    torch.set_num_threads(2)
    print(f"numba {numba.__version__}, threading layer {numba.config.THREADING_LAYER}, "
          f"{numba.config.NUMBA_NUM_THREADS} cores; numpy {np.__version__}; torch {torch.__version__}")
    for label, (dataset, config) in WORKLOADS.items():
        table(label, dataset, config, args.repeats, args.skip_per_sample)
    crossover(args.repeats)


if __name__ == "__main__":
    main()
