"""bf16 autocast against float32: milliseconds per training step of the seed model, in one run.

The step is what the trainer does per batch (forward under autocast when bf16, MSE in float32, backward,
clipping, fused Adam) on the seed model (LSTM 50-60-80-120, dropout .2-.5, window 100, batch 32).
Rounds alternate between the two precisions so that drift of a shared machine hits both alike; the
table gives the median of ``--rounds`` rounds of ``--steps`` steps each, and the ratio. Where the device
cannot train an LSTM in bf16 (`hpcast.train.trainer.bf16_unavailable`: oneDNN on AVX2-only CPUs), the
script says so and measures float32 only. This is the measurement behind ``--precision auto`` choosing
float32 on CPUs. Run: ``python benchmarks/precision.py [--rounds 5 --steps 20 --device cpu]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from _machine import describe  # benchmarks/_machine.py: python puts this folder on the path
from hpcast.forecast.lstm import LSTMConfig
from hpcast.models.lstm import LSTMNet
from hpcast.train.trainer import bf16_unavailable

LAYERS, DROPOUT, WINDOW, BATCH = (50, 60, 80, 120), (0.2, 0.3, 0.4, 0.5), 100, 32


def step_ms(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, steps: int,
            bf16: bool) -> float:
    """Mean milliseconds of one training step over ``steps`` steps (synchronised on a GPU)."""
    loss_fn = nn.MSELoss()

    def sync() -> None:
        if x.is_cuda:
            torch.cuda.synchronize()

    sync()
    started = time.perf_counter()
    for _ in range(steps):
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
            pred = model(x)  # (B, 1)
        loss = loss_fn(pred.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    sync()
    return 1e3 * (time.perf_counter() - started) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    print(describe())
    device = torch.device(args.device)
    why = bf16_unavailable(device)
    precisions = ["fp32"] + (["bf16"] if why is None else [])
    if why is not None:
        print(f"bf16 cannot train an LSTM on {device} here: {why}; float32 only")
    torch.manual_seed(0)
    x = torch.randn(BATCH, WINDOW, 1, device=device)  # (B, T, F)
    y = torch.randn(BATCH, 1, device=device)  # (B, h)
    models = {}
    for precision in precisions:
        torch.manual_seed(0)
        model = LSTMNet(LSTMConfig(layers=LAYERS, dropout=DROPOUT), input_size=1, horizon=1,
                        kernels="torch").to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
        step_ms(model, optimizer, x, y, 3, precision == "bf16")  # warm-up: kernels chosen, caches filled
        models[precision] = (model, optimizer)
    samples: dict[str, list[float]] = {p: [] for p in precisions}
    for _ in range(args.rounds):
        for precision in precisions:
            model, optimizer = models[precision]
            samples[precision].append(step_ms(model, optimizer, x, y, args.steps, precision == "bf16"))
    print(f"seed model, batch {BATCH}, window {WINDOW}; median of {args.rounds} rounds × {args.steps} steps")
    print(f"{'precision':<10}{'ms/step':>10}{'vs fp32':>10}")
    base = statistics.median(samples["fp32"])
    for precision in precisions:
        median = statistics.median(samples[precision])
        print(f"{precision:<10}{median:>10.1f}{median / base:>9.2f}×")


if __name__ == "__main__":
    main()
