"""Multi-worker throughput: 1 worker vs N workers for each strategy, through the real CLI and torchrun.

Workload: the seed configuration (S&P 500, window 100, LSTM 50-60-80-120, dropout .2-.5, batch 32 global).
Every worker runs one thread (torchrun sets OMP_NUM_THREADS=1; the 1-worker reference gets the same).
Reported per strategy: samples/s (training windows of all workers per second of training, median over
epochs after the first; epoch time includes validation), speed-up and scaling efficiency against 1
worker, and the share of epoch time
spent in explicit synchronisation (local-sgd averaging, store-avg rounds; DDP's all-reduce runs inside
backward and shows in `--profile` traces as gloo:all_reduce).

On a GPU node: ``python benchmarks/scaling.py --workers 8`` runs the same script with NCCL (torchrun picks one
GPU per worker through LOCAL_RANK). Run: ``python benchmarks/scaling.py [--workers 2] [--epochs 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _machine import describe  # benchmarks/_machine.py: python puts this folder on the path

SEED = ["--dataset", "sp500", "--target", "level", "--window", "100", "--layers", "50,60,80,120",
        "--dropout", "0.2,0.3,0.4,0.5", "--batch-size", "32", "--patience", "1000", "--quiet"]


def run(workers: int, strategy: str, epochs: int, folder: Path, extra: list[str]) -> list[dict]:
    out = folder / f"{strategy}-{workers}"
    command = [sys.executable, "-m", "hpcast", "train", *SEED, "--epochs", str(epochs), "--workers", str(workers),
               "--strategy", strategy, "--out", str(out), *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return json.loads((out / "metrics.json").read_text())["training"]["epochs"]


def throughput(epochs: list[dict]) -> tuple[float, float]:
    """Median samples/s over epochs after the first (warm-up), and the sync share of their time."""
    steady = epochs[1:] or epochs
    rate = statistics.median(e["samples"] / e["seconds"] for e in steady)
    share = sum(e["sync_seconds"] for e in steady) / sum(e["seconds"] for e in steady)
    return rate, share


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run (store-avg runs 6, to sync at 5)")
    parser.add_argument("--strategies", default="ddp,local-sgd,store-avg", help="comma-separated strategies")
    args = parser.parse_args()
    print(describe())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        reference_epochs = run(1, "ddp", args.epochs, folder, [])
        reference, _ = throughput(reference_epochs)
        print(f"seed workload, 1 thread per worker; reference: 1 worker, {reference:,.0f} samples/s "
              f"({statistics.median(e['seconds'] for e in reference_epochs[1:]):.2f} s/epoch)")
        print(f"{'strategy':<12}{'workers':>8}{'samples/s':>12}{'speed-up':>10}{'efficiency':>12}{'sync share':>12}")
        for strategy, extra, epochs in (
                ("ddp", [], args.epochs),
                ("local-sgd", ["--sync-every", "8"], args.epochs),
                ("store-avg", ["--sync-every", "5", "--sync-url", f"file://{folder}/store"], max(args.epochs, 6))):
            if strategy not in args.strategies.split(","):
                continue
            rate, share = throughput(run(args.workers, strategy, epochs, folder, extra))
            if strategy == "store-avg":  # only rank 0 records; its workers share nothing between rounds
                print(f"{strategy:<12}{args.workers:>8}{rate:>12,.0f}{'—':>10}{'—':>12}{share:>11.1%}"
                      "   (rank 0's own windows/s; the others are not measured, so no speed-up is claimed)")
                continue
            speedup = rate / reference
            print(f"{strategy:<12}{args.workers:>8}{rate:>12,.0f}{speedup:>9.2f}×{speedup / args.workers:>11.0%}"
                  f"{share:>11.1%}")


if __name__ == "__main__":
    main()
