"""Triton kernels against their torch references, with bandwidth against a measured copy, in one run.

- Min-max scaling (stats + transform) and MSE at 1e6, 1e7, 1e8 float32 elements: ms, GB/s, and the
  fraction of the device-to-device copy bandwidth measured in the same run (the practical ceiling for
  these memory-bound kernels). Bytes: stats read N·4, transform reads and writes N·4 each, MSE reads 2·N·4.
- The fused LSTM layer against ``nn.LSTM`` (cuDNN on GPU) at the seed workload's shapes (batch 32, seq 100,
  hidden 50/60/80/120) and at batch 256/1024: forward and forward+backward ms, and the speed-up.

Without a CUDA GPU it still runs: it times the torch path on the CPU and says that the Triton figures
need a GPU (under TRITON_INTERPRET the kernels are correct but far too slow to time meaningfully).
Run: ``python benchmarks/kernels.py [--max-elements 1e8]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from _machine import describe  # benchmarks/_machine.py: python puts this folder on the path

CUDA = torch.cuda.is_available()
DEVICE = "cuda" if CUDA else "cpu"


def bench(fn: Callable[[], object], repeats: int = 10) -> float:
    """Median milliseconds of ``fn`` (synchronised on GPU)."""
    fn()
    samples = []
    for _ in range(repeats):
        if CUDA:
            torch.cuda.synchronize()
        started = time.perf_counter()
        fn()
        if CUDA:
            torch.cuda.synchronize()
        samples.append(1e3 * (time.perf_counter() - started))
    return statistics.median(samples)


def memory_table(sizes: list[int]) -> None:
    from hpcast.kernels.minmax import minmax_stats_reference, minmax_transform_reference

    if CUDA:
        from hpcast.kernels.minmax import minmax_stats, minmax_transform
        from hpcast.kernels.mse import mse
    print(f"\nmemory-bound kernels, float32, {DEVICE}: ms (GB/s, share of copy bandwidth)")
    columns = ("copy", "scale torch", "scale triton", "mse torch", "mse triton")
    print(f"{'elements':>10} " + " ".join(f"{c:>24}" for c in columns))
    for n in sizes:
        x = torch.rand(n // 8, 8, device=DEVICE)
        y = torch.rand_like(x)
        out = torch.empty_like(x)
        copy_ms = bench(lambda x=x, out=out: out.copy_(x))
        copy_gbs = 2 * n * 4 / copy_ms / 1e6

        def cell(ms: float, nbytes: float, ceiling: float = copy_gbs) -> str:
            gbs = nbytes / ms / 1e6
            return f"{ms:8.3f} ({gbs:6.0f}, {gbs / ceiling:4.0%})"

        def scale_torch(x=x):
            low, scale = minmax_stats_reference(x)
            return minmax_transform_reference(x, low, scale)

        row = [f"{copy_ms:8.3f} ({copy_gbs:6.0f}, 100%)", cell(bench(scale_torch), 3 * n * 4)]
        if CUDA:
            row.append(cell(bench(lambda x=x, out=out: minmax_transform(x, *minmax_stats(x), out=out)), 3 * n * 4))
        else:
            row.append(f"{'— (no GPU)':>24}")
        row.append(cell(bench(lambda x=x, y=y: torch.nn.functional.mse_loss(x, y)), 2 * n * 4))
        row.append(cell(bench(lambda x=x, y=y: mse(x, y)), 2 * n * 4) if CUDA else f"{'— (no GPU)':>24}")
        print(f"{n:>10.0e} " + " ".join(f"{c:>24}" for c in row))


def lstm_table() -> None:
    shapes = [(32, 100, h) for h in (50, 60, 80, 120)] + [(256, 100, 128), (1024, 100, 128)]
    label = "cuDNN" if CUDA else "torch CPU"
    print(f"\nLSTM layer, float32, input size 1, {DEVICE}: ms")
    print(f"{'B, T, H':>15} {label + ' fwd':>14} {'fused fwd':>10} {'speed-up':>9} {label + ' f+b':>14} "
          f"{'fused f+b':>10} {'speed-up':>9}")
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

        ref_fwd, ref_fb = bench(step(reference, False)), bench(step(reference, True))
        if CUDA:
            from hpcast.kernels.lstm import FusedLSTM

            fused = FusedLSTM(1, H, kernels="triton").to(DEVICE)
            fused.load_state_dict(reference.state_dict())
            ours_fwd, ours_fb = bench(step(fused, False)), bench(step(fused, True))
            cells = (f"{ours_fwd:10.3f}", f"{ref_fwd / ours_fwd:8.2f}×", f"{ours_fb:10.3f}",
                     f"{ref_fb / ours_fb:8.2f}×")
        else:
            cells = (f"{'—':>10}", f"{'—':>9}", f"{'—':>10}", f"{'—':>9}")
        print(f"{f'{B}, {T}, {H}':>15} {ref_fwd:14.3f} {cells[0]} {cells[1]} {ref_fb:14.3f} {cells[2]} {cells[3]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-elements", type=float, default=1e8, help="largest size of the memory-bound table")
    args = parser.parse_args()
    print(describe())
    print(f"torch {torch.__version__}; device: {torch.cuda.get_device_name() if CUDA else 'CPU'}")
    if not CUDA:
        print("No CUDA GPU found: timing the torch path only. The Triton kernels are tested on the CPU under "
              "TRITON_INTERPRET=1 (make test); their speed needs a GPU.")
    memory_table([n for n in (10**6, 10**7, 10**8) if n <= args.max_elements])
    lstm_table()


if __name__ == "__main__":
    main()
