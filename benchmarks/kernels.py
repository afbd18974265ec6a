"""Triton kernels against their torch references, with bandwidth against a measured copy, in one run.

- Min-max scaling (statistics, transform, and both: "scale") and MSE (forward, forward + backward) at
  1e6, 1e7, 1e8 float32 elements: ms, GB/s, and the share of the device-to-device copy bandwidth measured
  in the same run at the same size (bytes read + written: the practical ceiling of these memory-bound
  kernels). Bytes counted, each input read once and each output written once: copy 2·N·4, statistics
  N·4, transform 2·N·4, scale 3·N·4, MSE forward 2·N·4, MSE forward + backward 5·N·4 (the backward reads
  both inputs again and writes the gradient). At 1e6 elements (8 MB) the kernels are launch-bound: a few
  microseconds of launch against ~2 µs of ideal transfer, so read the shares from 1e7 up.
- The fused LSTM layer against ``nn.LSTM`` (cuDNN on GPU) at the seed workload's shapes (batch 32, seq 100,
  hidden 50/60/80/120) and at batch 256/1024: forward and forward+backward ms, and the speed-up.

On CUDA every time is the median of ``triton.testing.do_bench`` (CUDA events, L2 flushed between runs).
Without a CUDA GPU it still runs: it times the torch path on the CPU (median of host-clock repeats) and
says that the Triton figures need a GPU (under TRITON_INTERPRET the kernels are correct but far too slow
to time meaningfully). ``--json PATH`` writes every figure (``benchmarks/gpu_check.py`` reads it).
Run: ``python benchmarks/kernels.py [--max-elements 1e8] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from _machine import describe  # benchmarks/_machine.py: python puts this folder on the path

CUDA = torch.cuda.is_available()
DEVICE = "cuda" if CUDA else "cpu"
SIZES = (10**6, 10**7, 10**8)
SEED_LSTM_SHAPES = [(32, 100, h) for h in (50, 60, 80, 120)]


def bench(fn: Callable[[], object], repeats: int = 10) -> float:
    """Median milliseconds of ``fn``: CUDA events through ``do_bench`` on GPU, the host clock on CPU."""
    if CUDA:
        import triton.testing

        return float(triton.testing.do_bench(fn, warmup=25, rep=100, return_mode="median"))
    fn()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append(1e3 * (time.perf_counter() - started))
    return statistics.median(samples)


def _memory_cases(x: torch.Tensor, y: torch.Tensor, out: torch.Tensor) -> dict[str, tuple[Callable[[], object], int]]:
    """Each case's callable and bytes per element moved (see the module docstring)."""
    from hpcast.kernels.minmax import minmax_stats_reference, minmax_transform_reference

    low, scale = minmax_stats_reference(x)
    p = y.clone().requires_grad_(True)
    cases = {
        "copy": (lambda: out.copy_(x), 8),
        "scale torch": (lambda: minmax_transform_reference(x, *minmax_stats_reference(x)), 12),
        "mse torch": (lambda: torch.nn.functional.mse_loss(x, y), 8),
        "mse torch f+b": (lambda: torch.autograd.grad(torch.nn.functional.mse_loss(p, x), [p]), 20),
    }
    if CUDA:
        from hpcast.kernels.minmax import minmax_stats, minmax_transform
        from hpcast.kernels.mse import mse

        cases |= {
            "stats triton": (lambda: minmax_stats(x), 4),
            "transform triton": (lambda: minmax_transform(x, low, scale, out=out), 8),
            "scale triton": (lambda: minmax_transform(x, *minmax_stats(x), out=out), 12),
            "mse triton": (lambda: mse(x, y), 8),
            "mse triton f+b": (lambda: torch.autograd.grad(mse(p, x), [p]), 20),
        }
    return cases


def memory_table(sizes: list[int]) -> list[dict[str, object]]:
    """One row per (kernel, size): ms, GB/s, share of the copy measured at that size."""
    print(f"\nmemory-bound kernels, float32, (N/8, 8) tensors, {DEVICE}: ms, GB/s, share of copy bandwidth")
    print(f"{'kernel':<18}{'elements':>10}{'ms':>10}{'GB/s':>9}{'of copy':>9}")
    rows = []
    for n in sizes:
        torch.manual_seed(0)
        x = torch.rand(n // 8, 8, device=DEVICE)  # (T, F)
        y, out = torch.rand_like(x), torch.empty_like(x)
        copy_gbs = None
        for name, (fn, per_element) in _memory_cases(x, y, out).items():
            ms = bench(fn)
            gbs = per_element * n / ms / 1e6
            copy_gbs = copy_gbs or gbs  # "copy" comes first
            rows.append({"kernel": name, "elements": n, "ms": ms, "gb_per_s": gbs, "share_of_copy": gbs / copy_gbs})
            print(f"{name:<18}{n:>10.0e}{ms:>10.4f}{gbs:>9.0f}{gbs / copy_gbs:>9.0%}")
        del x, y, out
    if not CUDA:
        print("triton rows: — (no GPU)")
    return rows


def lstm_table() -> list[dict[str, object]]:
    shapes = [*SEED_LSTM_SHAPES, (256, 100, 128), (1024, 100, 128)]
    label = "cuDNN" if CUDA else "torch CPU"
    print(f"\nLSTM layer, float32, input size 1, {DEVICE}: ms")
    print(f"{'B, T, H':>15} {label + ' fwd':>14} {'fused fwd':>10} {'speed-up':>9} {label + ' f+b':>14} "
          f"{'fused f+b':>10} {'speed-up':>9}")
    rows = []
    for B, T, H in shapes:
        torch.manual_seed(0)
        reference = torch.nn.LSTM(1, H, batch_first=True).to(DEVICE)
        x = torch.randn(B, T, 1, device=DEVICE, requires_grad=True)

        def step(layer, backward: bool, x=x):
            def run():
                out, _ = layer(x)
                if backward:
                    out.sum().backward()
            return run

        row: dict[str, object] = {"B": B, "T": T, "H": H, "reference": label, "reference_fwd_ms": bench(
            step(reference, False)), "reference_fb_ms": bench(step(reference, True))}
        if CUDA:
            from hpcast.kernels.lstm import FusedLSTM

            fused = FusedLSTM(1, H, kernels="triton").to(DEVICE)
            fused.load_state_dict(reference.state_dict())
            row |= {"fused_fwd_ms": bench(step(fused, False)), "fused_fb_ms": bench(step(fused, True))}
            row |= {"fwd_speedup": row["reference_fwd_ms"] / row["fused_fwd_ms"],
                    "fb_speedup": row["reference_fb_ms"] / row["fused_fb_ms"]}
            cells = (f"{row['fused_fwd_ms']:10.3f}", f"{row['fwd_speedup']:8.2f}×", f"{row['fused_fb_ms']:10.3f}",
                     f"{row['fb_speedup']:8.2f}×")
        else:
            cells = (f"{'—':>10}", f"{'—':>9}", f"{'—':>10}", f"{'—':>9}")
        rows.append(row)
        print(f"{f'{B}, {T}, {H}':>15} {row['reference_fwd_ms']:14.3f} {cells[0]} {cells[1]} "
              f"{row['reference_fb_ms']:14.3f} {cells[2]} {cells[3]}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-elements", type=float, default=1e8, help="largest size of the memory-bound table")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    args = parser.parse_args()
    machine = describe()
    device = torch.cuda.get_device_name() if CUDA else "CPU"
    print(machine)
    print(f"torch {torch.__version__}; device: {device}")
    if not CUDA:
        print("No CUDA GPU found: timing the torch path only. The Triton kernels are tested on the CPU under "
              "TRITON_INTERPRET=1 (make test); their speed needs a GPU.")
    memory = memory_table([n for n in SIZES if n <= args.max_elements])
    lstm = lstm_table()
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "device": device, "memory": memory, "lstm": lstm},
                                        indent=1) + "\n")


if __name__ == "__main__":
    main()
