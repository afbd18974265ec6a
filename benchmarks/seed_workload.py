"""Seed workload: seconds per epoch of the usual PyTorch loop vs hpcast's trainer, in one run.

Workload (the seed study): bundled S&P 500 adjusted closes, min-max scaled price levels, windows of 100,
next-day target, LSTM 50-60-80-120 with dropout .2/.3/.4/.5, batch 32, Adam 1e-3.

Both loops train the same model (same init, same windows, same split) and validate every epoch; only the
loop differs: hpcast runs with every lever of its recipe off (one target per window, float32, constant lr),
so this is the same-math check (issue #8: within 5% of the plain loop, or faster). The recipe's own gain
is measured as time to accuracy by ``benchmarks/peers.py``. Epochs alternate between the two loops, so
drift of a shared machine hits both alike. The
"usual" loop materialises every window into a TensorDataset, iterates a shuffling DataLoader and calls
``loss.item()`` every step. hpcast keeps the series in one buffer (`prepare_panel`, what
`RecurrentForecaster` trains on), gathers each batch's windows by index, syncs once per epoch and updates
with fused Adam.

The floor: FLOPs per epoch (LSTM gate matmuls, forward + backward ≈ 3× forward) divided by the best
float32 matrix-multiply rate measured here. Run: ``python benchmarks/seed_workload.py [--epochs 5]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from _machine import describe  # benchmarks/_machine.py: python puts this folder on the path
from hpcast.config import RunConfig, TrainConfig
from hpcast.data import load_bundled
from hpcast.data.panel import Panel
from hpcast.forecast.lstm import LSTMConfig
from hpcast.forecast.panel_windows import prepare_panel
from hpcast.models.lstm import LSTMNet
from hpcast.train.trainer import train

LAYERS, DROPOUT, WINDOW, BATCH = (50, 60, 80, 120), (0.2, 0.3, 0.4, 0.5), 100, 32


def usual_loop(model: nn.Module, train_xy, val_xy, epochs: int, seed: int) -> list[float]:
    """The training loop as tutorials write it; returns seconds per epoch."""
    torch.manual_seed(seed)
    X, Y = (t.clone() for t in train_xy)  # materialised windows, as np.array(windows) would be
    loader = DataLoader(TensorDataset(X, Y), batch_size=BATCH, shuffle=True)
    val_loader = DataLoader(TensorDataset(*(t.clone() for t in val_xy)), batch_size=256)
    optimizer, loss_fn = torch.optim.Adam(model.parameters(), lr=1e-3), nn.MSELoss()
    seconds = []
    for _ in range(epochs):
        started = time.perf_counter()  # same epoch content as hpcast's: train steps + a validation pass
        model.train()
        total = 0.0
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            total += loss.item() * len(xb)
        model.eval()
        with torch.no_grad():
            val = sum(loss_fn(model(xb), yb).item() * len(xb) for xb, yb in val_loader)
        del total, val
        seconds.append(time.perf_counter() - started)
    return seconds


def seed_config(epochs: int, device: str = "auto") -> RunConfig:
    """The seed study as a run config, every lever of hpcast's recipe off (`benchmarks/gpu_check.py` too)."""
    return RunConfig(window=WINDOW, horizon=1, target="level", model=LSTMConfig(LAYERS, DROPOUT),
                     train=TrainConfig(epochs=epochs, batch_size=BATCH, lr=1e-3, patience=10**6, seed=0,
                                       targets="last", precision="fp32", schedule="constant", device=device))


def lstm_flops(layers: tuple[int, ...], window: int, windows: int) -> float:
    """Gate-matmul FLOPs of a stacked LSTM (input size 1) over ``windows`` windows of ``window`` steps,
    forward + backward (the backward ≈ 2× the forward); `benchmarks/fleet.py` counts with it too."""
    sizes = (1, *layers)
    per_step = sum(2 * 4 * h * (sizes[k] + h) for k, h in enumerate(layers))  # gate matmuls, one sample
    return 3.0 * windows * window * per_step


def gemm_rate(repeats: int = 10) -> float:
    """Best float32 GEMM rate (FLOP/s) over a few square sizes."""
    best = 0.0
    for n in (256, 512, 1024, 2048):
        a, b = torch.randn(n, n), torch.randn(n, n)
        a @ b
        for _ in range(repeats):
            started = time.perf_counter()
            a @ b
            best = max(best, 2 * n**3 / (time.perf_counter() - started))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="epochs per loop, interleaved (median reported)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    print(describe())
    torch.set_num_threads(args.threads)

    config = seed_config(args.epochs)
    dataset = load_bundled("sp500")
    series = dataset.series()
    windows = prepare_panel(Panel.from_series(series, dataset.freq), config)
    train_starts, val_starts = windows.starts("train"), windows.starts("val")
    n_train = len(train_starts)

    def materialised(starts: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:  # (M, T, 1), (M, 1)
        index = torch.from_numpy(starts)
        return windows.gather(index), windows.targets(index, every_step=False)

    train_xy, val_xy = materialised(train_starts), materialised(val_starts)
    train_data, val_data = windows.batches(train_starts), windows.batches(val_starts)

    def fresh() -> LSTMNet:
        torch.manual_seed(0)
        return LSTMNet(config.model, input_size=1, horizon=1)

    # One epoch of each loop in turn, so drift of this shared machine falls on both alike.
    plain_model, ours_model, plain, ours = fresh(), fresh(), [], []
    one_epoch = dataclasses.replace(config.train, epochs=1)
    for _ in range(args.epochs):
        plain += usual_loop(plain_model, train_xy, val_xy, 1, seed=0)
        ours += [r.seconds for r in train(ours_model, train_data, val_data, one_epoch).history]
    plain_median, ours_median = statistics.median(plain), statistics.median(ours)
    ratios = sorted(p / o for p, o in zip(plain, ours, strict=True))
    flops, rate = lstm_flops(LAYERS, WINDOW, n_train), gemm_rate()

    print(f"seed workload: {len(series)} closes, {n_train} training windows of {WINDOW}, batch {BATCH}, "
          f"LSTM {'-'.join(map(str, LAYERS))}, {args.threads} threads, {args.epochs} epochs each (median)")
    print(f"{'loop':<34}{'s/epoch':>9}{'GFLOP/s':>9}{'vs usual':>10}")
    rows = (("usual (DataLoader, .item()/step)", plain_median), ("hpcast trainer, levers off", ours_median))
    for name, seconds in rows:
        print(f"{name:<34}{seconds:>9.2f}{flops / seconds / 1e9:>9.2f}{plain_median / seconds:>9.2f}×")
    print(f"{'floor at best measured GEMM rate':<34}{flops / rate:>9.2f}{rate / 1e9:>9.2f}"
          f"{plain_median / (flops / rate):>9.2f}×")
    print(f"FLOPs per epoch (gate matmuls, fwd+bwd): {flops / 1e9:.1f} GFLOP; "
          f"hpcast is {ours_median / (flops / rate):.1f}× the floor")
    verdict = "within 5% of or faster than" if ours_median <= plain_median * 1.05 else "MORE THAN 5% SLOWER than"
    print(f"hpcast trainer is {verdict} the usual loop ({plain_median / ours_median:.2f}× its speed; per-pair "
          f"ratios {', '.join(f'{r:.2f}' for r in ratios)})")


if __name__ == "__main__":
    main()
