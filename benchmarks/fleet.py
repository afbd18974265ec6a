"""K small LSTMs, one after another through ``nn.LSTM`` against all K at once as one fleet, in one run.

Per shape and K (1, 4, 16, 64 models): wall seconds for one epoch of ``--windows`` windows per model
(batch 32) of forward + MSE + backward + Adam,
- sequential: K runs, each an `hpcast.models.lstm.LSTMNet` on ``nn.LSTM`` (cuDNN on a GPU) with
  ``torch.optim.Adam`` (fused on CUDA), one model after the other, as a search or a per-asset loop does;
- fused (CUDA only): the same K models stacked into one `hpcast.models.fleet.FleetLSTMNet` (each layer
  one `hpcast.kernels.fleet.lstm_fleet` launch for all K) updated by `hpcast.kernels.fleet.adam_fleet_`,
and the speed-up. Shapes: the seed study's stack 50-60-80-120 (`seed_workload.py`'s LAYERS, window and
batch) and single layers of 50 and 120 at the same window, and the default model (`LSTMConfig()`'s layers
and dropout, the default window and horizon of business-daily data in `hpcast.config`). Inputs are
random, one input feature; dropout as each config says, the same for both paths.

FLOPs counted: the LSTM gate matrix products only, 2·4H(I + H) per step per window per layer forward, and
3× that for forward + backward (the backward's two products per forward one); the head, the elementwise
gate math and Adam are left out, so the TFLOP/s shown are a lower bound. The matrix ceilings are measured
in the same run: a large float32 and bf16 ``torch.matmul`` (8192³ on CUDA, median of
``triton.testing.do_bench``; 1024³ on the CPU). The fleets run in float32, so their share is of the
float32 ceiling.

Without a CUDA GPU only the sequential path runs (the fused path is for CUDA: on the CPU its Triton
kernels would run in the interpreter), with 64 windows per model, so the whole run takes about a minute.
``--quick``: 320 windows on CUDA (K = 64 still measured), one batch and K = 1, 2 on the CPU.
Run: ``python benchmarks/fleet.py [--quick] [--windows 1000] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import torch

from _machine import describe  # benchmarks/_machine.py: python puts this folder on the path
from hpcast.config import default_horizon, default_window
from hpcast.forecast.lstm import LSTMConfig
from hpcast.models.lstm import LSTMNet
from seed_workload import BATCH, DROPOUT, LAYERS, WINDOW, lstm_flops

CUDA = torch.cuda.is_available()
DEVICE = torch.device("cuda" if CUDA else "cpu")
_DEFAULT = LSTMConfig()
SHAPES: dict[str, tuple[LSTMConfig, int, int]] = {  # name: (layers and dropout, window, horizon)
    f"seed {'-'.join(map(str, LAYERS))}": (LSTMConfig(LAYERS, DROPOUT), WINDOW, 1),
    "hidden 50": (LSTMConfig((50,), (0.0,)), WINDOW, 1),
    "hidden 120": (LSTMConfig((120,), (0.0,)), WINDOW, 1),
    f"default {'-'.join(map(str, _DEFAULT.layers))}": (_DEFAULT, default_window("B"), default_horizon("B")),
}


def _synchronize() -> None:
    if CUDA:
        torch.cuda.synchronize()


def _seconds(fn: Callable[[], object]) -> float:
    _synchronize()
    started = time.perf_counter()
    fn()
    _synchronize()
    return time.perf_counter() - started


def matmul_peaks() -> dict[str, float]:
    """Measured FLOP/s of one large float32 and bf16 ``torch.matmul`` on random data."""
    n = 8192 if CUDA else 1024
    peaks = {}
    for dtype in (torch.float32, torch.bfloat16):
        a, b = (torch.randn(n, n, device=DEVICE).to(dtype) for _ in range(2))
        if CUDA:
            import triton.testing

            ms = triton.testing.do_bench(lambda a=a, b=b: a @ b, warmup=25, rep=200, return_mode="median")
        else:
            a @ b
            ms = 1e3 * min(_seconds(lambda a=a, b=b: a @ b) for _ in range(3))
        peaks[str(dtype).removeprefix("torch.")] = 2 * n**3 / (ms / 1e3)
    return peaks


def sequential_epoch(models: list[LSTMNet], X: torch.Tensor, Y: torch.Tensor, steps: int) -> float:
    """Seconds for every model's epoch in turn: ``X (K, W, T, 1)``, ``Y (K, W, h)``, ``steps`` batches each."""
    optimizers = [torch.optim.Adam(m.parameters(), lr=1e-3, fused=CUDA) for m in models]

    def run() -> None:
        for k, (model, optimizer) in enumerate(zip(models, optimizers, strict=True)):
            model.train()
            for i in range(steps):
                rows = slice(i * BATCH, (i + 1) * BATCH)
                loss = torch.nn.functional.mse_loss(model(X[k, rows]), Y[k, rows])  # (B, T, 1) -> (B, h)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()

    return _seconds(run)


def fused_epoch(models: list[LSTMNet], X: torch.Tensor, Y: torch.Tensor, steps: int) -> float:
    """Seconds for the same epochs as one fleet: one forward, backward and Adam update per batch for all K."""
    from hpcast.kernels.fleet import adam_fleet_
    from hpcast.models.fleet import FleetLSTMNet

    fleet = FleetLSTMNet.from_models(models, kernels="auto")
    params = list(fleet.parameters())
    exp_avgs, exp_avg_sqs = [torch.zeros_like(p) for p in params], [torch.zeros_like(p) for p in params]
    K = len(models)
    lr, beta1 = torch.full((K,), 1e-3, device=DEVICE), torch.full((K,), 0.9, device=DEVICE)
    adam_steps, active = torch.zeros(K, dtype=torch.int64, device=DEVICE), torch.ones(K, dtype=torch.bool,
                                                                                         device=DEVICE)

    def run() -> None:
        fleet.train()
        for i in range(steps):
            rows = slice(i * BATCH, (i + 1) * BATCH)
            pred = fleet(X[:, rows])  # (K, B, T, 1) -> (K, B, h)
            loss = ((pred - Y[:, rows]) ** 2).mean(dim=(1, 2)).sum()  # each model's own mean: its own gradient
            grads = torch.autograd.grad(loss, params)
            adam_steps.add_(1)
            adam_fleet_(params, list(grads), exp_avgs, exp_avg_sqs, lr=lr, beta1=beta1, beta2=0.999, eps=1e-8,
                        steps=adam_steps, active=active, kernels="auto")

    return _seconds(run)


def measure(name: str, K: int, windows: int, fp32_peak: float) -> dict[str, object]:
    """One row: both paths for K fresh models of shape ``name`` (each path warmed up on a short epoch first)."""
    config, window, horizon = SHAPES[name]
    steps = max(1, windows // BATCH)
    torch.manual_seed(0)
    models = [LSTMNet(config, input_size=1, horizon=horizon, kernels="torch").to(DEVICE) for _ in range(K)]
    X = torch.randn(K, steps * BATCH, window, 1, device=DEVICE)  # (K, W, T, 1)
    Y = torch.randn(K, steps * BATCH, horizon, device=DEVICE)  # (K, W, h)
    flops = K * lstm_flops(tuple(config.layers), window, steps * BATCH)
    row: dict[str, object] = {"shape": name, "layers": list(config.layers), "window": window, "horizon": horizon,
                              "batch": BATCH, "K": K, "windows": steps * BATCH, "flops": flops}
    sequential_epoch(models[:1], X[:1], Y[:1], min(steps, 2))
    row["sequential_s"] = seconds = sequential_epoch(models, X, Y, steps)
    row["sequential_tflops"] = flops / seconds / 1e12
    if CUDA:
        try:
            fused_epoch(models, X, Y, min(steps, 2))  # compiles the Triton kernels for this shape
            row["fused_s"] = fused = fused_epoch(models, X, Y, steps)
        except Exception as error:  # a failed shape is reported in its row; the other rows still run
            row["fused_error"] = f"{type(error).__name__}: {error}"
        else:
            row |= {"speedup": seconds / fused, "fused_tflops": flops / fused / 1e12,
                    "fused_share_of_fp32_peak": flops / fused / fp32_peak}
    return row


def _print_row(row: dict[str, object]) -> None:
    fused = (f"{row['fused_s']:>10.3f}{row['speedup']:>9.1f}×{row['fused_tflops']:>9.3f}"
             f"{row['fused_share_of_fp32_peak']:>9.1%}") if "fused_s" in row else f"{'— (CUDA only)':>38}"
    print(f"{row['shape']:<22}{row['K']:>4}{row['sequential_s']:>10.3f}{row['sequential_tflops']:>9.3f}{fused}")
    if "fused_error" in row:
        print(f"  fused path failed: {row['fused_error']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, help="windows per model per epoch (default 1000 on CUDA, 64 on CPU)")
    parser.add_argument("--ks", default="1,4,16,64", help="comma-separated numbers of models")
    parser.add_argument("--quick", action="store_true", help="320 windows on CUDA; one batch and K = 1, 2 on CPU")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    args = parser.parse_args()
    windows = args.windows or ((320 if CUDA else BATCH) if args.quick else (1000 if CUDA else 64))
    ks = [1, 2] if args.quick and not CUDA else [int(k) for k in args.ks.split(",")]
    machine = describe()
    print(machine)
    if not CUDA:
        print("No CUDA GPU: the sequential path only (the fused path runs its Triton kernels on CUDA).")
    peaks = matmul_peaks()
    print(f"matmul ceilings measured here: float32 {peaks['float32'] / 1e12:.2f} TFLOP/s, bf16 "
          f"{peaks['bfloat16'] / 1e12:.2f} TFLOP/s; batch {BATCH}, {windows} windows per model per epoch")
    print(f"{'shape':<22}{'K':>4}{'seq s':>10}{'TFLOP/s':>9}{'fused s':>10}{'speed-up':>10}{'TFLOP/s':>9}"
          f"{'of fp32':>9}")
    rows = []
    for name in SHAPES:
        for K in ks:
            rows.append(measure(name, K, windows, peaks["float32"]))
            _print_row(rows[-1])
    print("FLOPs: LSTM gate matmuls only, forward 2·4H(I+H) per step per window per layer, ×3 for fwd+bwd")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "device": str(DEVICE), "matmul_flops": peaks,
                                         "rows": rows}, indent=1) + "\n")
    return 1 if any("fused_error" in row for row in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
