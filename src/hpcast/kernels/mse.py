"""Mean squared error: reference, Triton kernels, and a launcher whose autograd Function is the training loss.

Forward: one fused pass computes ``Σ (p - t)²`` per program into a partials buffer (float64), and one
single-program pass sums the partials in order and scales by 1/N. The result is deterministic (no
atomics) and never read back to the host. Backward: ``∂L/∂p = 2 (p - t) / N · ∂L/∂L`` in one elementwise
pass that reads the upstream gradient from device memory (no sync). The trainer reaches `mse` through
`hpcast.kernels.dispatch.mse_loss`, which runs it on CUDA tensors and ``torch.nn.functional.mse_loss``
otherwise (`hpcast.kernels.dispatch.resolve`).

Sizing for bandwidth (N from 1e6 to 1e8 float32 elements): a subtraction and a multiply-add per element,
so memory-bound. Bytes moved and the ideal time at the 4.3 TB/s device-to-device copy measured on an
H200 (read + write, KINDS.md):

    forward    reads 2·N·4                      1e8: 0.80 GB -> 186 µs     1e6: 1.9 µs (launch-bound)
    backward   reads 2·N·4, writes N·4          1e8: 1.20 GB -> 279 µs     1e6: 2.8 µs (launch-bound)

The forward runs a persistent grid (`hpcast.kernels.minmax.persistent_programs`: 4 programs of 8 warps
per multiprocessor, read off the device at launch): each program strides over tiles of ``block`` (4096)
elements, 16 per thread, so 2 × 4 loads of 16 bytes per thread are in flight per step, and adds the
squares into an elementwise float64 accumulator that it reduces once; P partials (a few hundred, not
N / block) are left for the single-program finish. Full tiles run unmasked and only the program that
owns the partial tail masks it, so every load stays 128 bits wide whatever N is. The backward is
elementwise: a plain grid, one tile per program, unmasked except for the last. The finish sums the
partials in a fixed order, so a result is reproducible on a given device and grid.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import nn

from hpcast.kernels.minmax import check_32bit_offsets, persistent_programs

__all__ = ["mse", "mse_reference"]

_NUM_WARPS = 8


def mse_reference(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return nn.functional.mse_loss(pred, target)


@triton.jit
def _partials_kernel(p_ptr, t_ptr, part_ptr, N, n_full, BLOCK: tl.constexpr):
    pid, programs = tl.program_id(0), tl.num_programs(0)
    acc = tl.zeros((BLOCK,), tl.float64)
    for tile in range(pid, n_full, programs):  # full tiles, unmasked
        offs = tile * BLOCK + tl.arange(0, BLOCK)
        diff = (tl.load(p_ptr + offs) - tl.load(t_ptr + offs)).to(tl.float64)
        acc += diff * diff
    if pid == programs - 1:  # the partial tail, if any
        offs = n_full * BLOCK + tl.arange(0, BLOCK)
        mask = offs < N
        diff = (tl.load(p_ptr + offs, mask=mask, other=0.0) - tl.load(t_ptr + offs, mask=mask, other=0.0))
        acc += diff.to(tl.float64) * diff.to(tl.float64)
    tl.store(part_ptr + pid, tl.sum(acc, axis=0))


@triton.jit
def _finish_kernel(part_ptr, out_ptr, n_parts, inv_n, BLOCK: tl.constexpr):
    acc = tl.zeros((BLOCK,), tl.float64)
    for start in range(0, n_parts, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        acc += tl.load(part_ptr + offs, mask=offs < n_parts, other=0.0)
    tl.store(out_ptr, (tl.sum(acc, axis=0) * inv_n).to(out_ptr.dtype.element_ty))


@triton.jit
def _grad_kernel(p_ptr, t_ptr, upstream_ptr, grad_ptr, N, n_full, two_over_n, BLOCK: tl.constexpr):
    tile = tl.program_id(0)
    offs = tile * BLOCK + tl.arange(0, BLOCK)
    factor = two_over_n * tl.load(upstream_ptr)
    if tile < n_full:
        tl.store(grad_ptr + offs, (tl.load(p_ptr + offs) - tl.load(t_ptr + offs)) * factor)
    else:
        mask = offs < N
        diff = tl.load(p_ptr + offs, mask=mask) - tl.load(t_ptr + offs, mask=mask)
        tl.store(grad_ptr + offs, diff * factor, mask=mask)


def _check(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)} and "
                         f"{tuple(target.shape)}")
    if pred.dtype != target.dtype or pred.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"pred and target must share a float32/float64 dtype, got {pred.dtype} and {target.dtype}")
    if pred.numel() == 0:
        raise ValueError("pred must not be empty")


def _forward(pred: torch.Tensor, target: torch.Tensor, block: int, programs: int | None) -> torch.Tensor:
    n = pred.numel()
    P = min(programs or persistent_programs(pred.device), triton.cdiv(n, block))
    parts = torch.empty(P, dtype=torch.float64, device=pred.device)
    out = torch.empty((), dtype=pred.dtype, device=pred.device)
    _partials_kernel[(P,)](pred, target, parts, n, n // block, BLOCK=block, num_warps=_NUM_WARPS)
    _finish_kernel[(1,)](parts, out, P, 1.0 / n, BLOCK=1024)
    return out


class _MSE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pred: torch.Tensor, target: torch.Tensor, block: int, programs: int | None) -> torch.Tensor:
        ctx.save_for_backward(pred, target)
        ctx.block = block
        return _forward(pred, target, block, programs)

    @staticmethod
    def backward(ctx, upstream: torch.Tensor):
        pred, target = ctx.saved_tensors
        n = pred.numel()
        grad = torch.empty_like(pred)
        _grad_kernel[(triton.cdiv(n, ctx.block),)](pred, target, upstream.contiguous(), grad, n, n // ctx.block,
                                                  2.0 / n, BLOCK=ctx.block, num_warps=_NUM_WARPS)
        return grad, (-grad if ctx.needs_input_grad[1] else None), None, None


def mse(pred: torch.Tensor, target: torch.Tensor, *, block: int = 4096, programs: int | None = None) -> torch.Tensor:
    """Mean of ``(pred - target)²`` over every element, differentiable with respect to both inputs.

    ``block`` (elements a tile) and ``programs`` (the forward's persistent grid; default: sized to the
    device) follow the module docstring's sizing; tests set them small to exercise many tiles and partials.
    """
    _check(pred, target)
    check_32bit_offsets(pred, "pred")
    return _MSE.apply(pred.contiguous(), target.contiguous(), block, programs)

