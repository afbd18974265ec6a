"""Data loading for spectro-cnn: in-memory tensors vs memory-mapped files read by 0, 1 and 2 DataLoader workers.

Part 1 (issue #9): the bundled stocks and indices (sp500, nasdaq, aapl, msft, goog) as one spectrogram
dataset (window 256, n_fft 64, hop 8). One training epoch of the default spectro-cnn per setting, batch
256: samples/s, and the share of step time spent waiting on data. The reference, measured in the same
run, is the same samples as in-memory tensors (gathered per batch, no DataLoader).

Part 2 (``--scale``): a synthetic panel (default 500 symbols x 20 years of business days) written as
spectrogram files larger than 4 GB, then training steps over samples drawn at random from all of them
(2 loader workers) in a fresh process. Reports the bytes on disk and the training process's peak resident
memory, its loader workers included. Goal: the files exceed 4 GB while training stays under 2 GB.

Run: ``python benchmarks/data_loading.py [--scale] [--symbols 500] [--years 20] [--root DIR]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from _machine import describe  # benchmarks/_machine.py: python puts this folder on the path
from hpcast.config import TrainConfig
from hpcast.data import load_bundled
from hpcast.features.spectrogram import SpectrogramConfig
from hpcast.features.spectrogram_dataset import (
    SpectrogramDataset,
    build_spectrograms,
    dataset_bytes,
    in_memory_spectrograms,
    load_index,
)
from hpcast.models.spectro_cnn import SpectroCNN
from hpcast.train.batches import LoaderBatches, TensorBatches
from hpcast.train.trainer import train

STFT = SpectrogramConfig(window=256, n_fft=64, hop=8)
BUNDLED = ("sp500", "nasdaq", "aapl", "msft", "goog")
BATCH = 256


def one_epoch(train_data, val_data, workers: int) -> dict:
    torch.manual_seed(0)
    net = SpectroCNN(STFT.frequencies, STFT.frames)
    config = TrainConfig(epochs=1, batch_size=BATCH, loader_workers=workers, seed=0)
    record = train(net, train_data, val_data, config).history[0]
    waited = record.data_seconds / (record.data_seconds + record.compute_seconds)
    return {"samples_per_s": record.samples / (record.data_seconds + record.compute_seconds), "data_share": waited,
            "epoch_s": record.seconds}


def part_one(root: Path) -> None:
    prices = {name: load_bundled(name).series() for name in BUNDLED}
    started = time.perf_counter()
    index = build_spectrograms(root, prices, STFT, "2010-12-31")
    built = time.perf_counter() - started
    total = sum(e["samples"] for e in index["symbols"].values())
    print(f"dataset: {len(prices)} series, {total:,} samples, {dataset_bytes(root) / 1e6:,.0f} MB, "
          f"built in {built:.1f} s")
    X, Y, scaling = in_memory_spectrograms(prices, STFT, "2010-12-31", "train")
    X_val, Y_val, _ = in_memory_spectrograms(prices, STFT, "2010-12-31", "val", *scaling)
    rows = {"in-memory tensors (reference)": one_epoch(TensorBatches(X, Y), TensorBatches(X_val, Y_val), 0)}
    train_set, val_set = SpectrogramDataset(root, "train"), SpectrogramDataset(root, "val")
    for workers in (0, 1, 2):
        config = TrainConfig(loader_workers=workers, prefetch=4)
        rows[f"memory-mapped, {workers} workers"] = one_epoch(LoaderBatches(train_set, config),
                                                              LoaderBatches(val_set, config), workers)
    reference = rows["in-memory tensors (reference)"]["samples_per_s"]
    print(f"{'setting':34s} {'samples/s':>10s} {'x ref':>6s} {'waiting on data':>16s}")
    for name, row in rows.items():
        print(f"{name:34s} {row['samples_per_s']:10,.0f} {row['samples_per_s'] / reference:6.2f} "
              f"{row['data_share']:15.1%}")


def synthetic(root: Path, symbols: int, years: int) -> None:
    rng = np.random.default_rng(0)
    dates = pd.bdate_range(end="2025-12-31", periods=years * 252)
    cutoff = dates[int(len(dates) * 0.8)].date().isoformat()
    started = time.perf_counter()
    for start in range(0, symbols, 50):  # 50 symbols in memory at a time
        batch = {f"SYM{i:04d}": pd.Series(50 * np.exp(np.cumsum(rng.normal(0.0002, 0.015, len(dates)))), index=dates)
                 for i in range(start, min(start + 50, symbols))}
        build_spectrograms(root, batch, STFT, cutoff)
        print(f"  built {min(start + 50, symbols)}/{symbols} symbols, {dataset_bytes(root) / 1e9:.2f} GB, "
              f"{time.perf_counter() - started:.0f} s", flush=True)


def scale_training(root: str, steps: int) -> None:
    """Runs in its own process: training steps over random samples of every file; prints peak RSS as JSON."""
    dataset = SpectrogramDataset(root, "train")
    picks = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(0))[:steps * BATCH]
    subset = torch.utils.data.Subset(dataset, picks.tolist())
    val = torch.utils.data.Subset(SpectrogramDataset(root, "val"), list(range(2048)))
    config = TrainConfig(epochs=1, batch_size=BATCH, loader_workers=2, prefetch=4)
    torch.manual_seed(0)
    net = SpectroCNN(STFT.frequencies, STFT.frames)
    record = train(net, LoaderBatches(subset, config), LoaderBatches(val, config), config).history[0]
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    workers_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"samples": record.samples, "seconds": record.seconds, "data_seconds": record.data_seconds,
                      "peak_rss_main_mb": self_kb / 1024, "peak_rss_worker_mb": workers_kb / 1024}))


def part_two(root: Path, symbols: int, years: int, steps: int) -> None:
    print(f"scale: {symbols} synthetic symbols x {years} years, window {STFT.window}, n_fft {STFT.n_fft}, "
          f"hop {STFT.hop}")
    synthetic(root, symbols, years)
    index = load_index(root)
    total = sum(e["samples"] for e in index["symbols"].values())
    size = dataset_bytes(root)
    done = subprocess.run([sys.executable, __file__, "--train-scale", str(root), "--steps", str(steps)],
                          capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    peak = result["peak_rss_main_mb"] + 2 * result["peak_rss_worker_mb"]  # main + its two loader workers
    print(f"files on disk: {size / 1e9:.2f} GB ({total:,} samples); trained {result['samples']:,} random samples "
          f"in {result['seconds']:.0f} s ({result['data_seconds'] / result['seconds']:.0%} waiting on data)")
    print(f"peak RSS: main {result['peak_rss_main_mb']:,.0f} MB, largest worker "
          f"{result['peak_rss_worker_mb']:,.0f} MB, main + 2 workers <= {peak:,.0f} MB")
    print(f"goal files > 4 GB: {'met' if size > 4e9 else 'NOT met'}; goal peak < 2 GB: "
          f"{'met' if peak < 2048 else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", action="store_true", help="also run part 2 (writes > 4 GB)")
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--years", type=int, default=20)
    parser.add_argument("--steps", type=int, default=200, help="part 2: training steps of 256 samples")
    parser.add_argument("--root", help="folder for the datasets [default: a temporary one, removed after]")
    parser.add_argument("--train-scale", help=argparse.SUPPRESS)
    args = parser.parse_args()
    print(describe())
    if args.train_scale:
        scale_training(args.train_scale, args.steps)
        return
    torch.set_num_threads(2)
    root = Path(args.root or tempfile.mkdtemp(prefix="hpcast-loading-"))
    try:
        part_one(root / "bundled")
        if args.scale:
            part_two(root / "scale", args.symbols, args.years, args.steps)
    finally:
        if not args.root:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
