"""Mean squared error: reference, Triton kernels, launchers, and an autograd Function usable as the loss.

Forward: one fused pass computes ``Σ (p - t)²`` per block into a partials buffer (float64), and one
single-program pass sums the partials in order and scales by 1/N. The result is deterministic (no
atomics) and never read back to the host. Backward: ``∂L/∂p = 2 (p - t) / N · ∂L/∂L`` in one elementwise
pass that reads the upstream gradient from device memory (no sync). ``per_sample_mse`` gives each row's
mean, ``(B, h) -> (B,)``, for evaluation code.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import nn

__all__ = ["TritonMSELoss", "mse", "mse_reference", "per_sample_mse", "per_sample_mse_reference"]


def mse_reference(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return nn.functional.mse_loss(pred, target)


def per_sample_mse_reference(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return ((pred - target) ** 2).mean(dim=1)


@triton.jit
def _partials_kernel(p_ptr, t_ptr, part_ptr, N, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < N
    diff = (tl.load(p_ptr + offs, mask=mask, other=0.0) - tl.load(t_ptr + offs, mask=mask, other=0.0)).to(tl.float64)
    tl.store(part_ptr + tl.program_id(0), tl.sum(diff * diff, axis=0))


@triton.jit
def _finish_kernel(part_ptr, out_ptr, n_parts, inv_n, BLOCK: tl.constexpr):
    acc = tl.zeros((BLOCK,), tl.float64)
    for start in range(0, n_parts, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        acc += tl.load(part_ptr + offs, mask=offs < n_parts, other=0.0)
    tl.store(out_ptr, (tl.sum(acc, axis=0) * inv_n).to(out_ptr.dtype.element_ty))


@triton.jit
def _grad_kernel(p_ptr, t_ptr, upstream_ptr, grad_ptr, N, two_over_n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < N
    upstream = tl.load(upstream_ptr)
    diff = tl.load(p_ptr + offs, mask=mask) - tl.load(t_ptr + offs, mask=mask)
    tl.store(grad_ptr + offs, diff * (two_over_n * upstream), mask=mask)


@triton.jit
def _rows_kernel(p_ptr, t_ptr, out_ptr, B, H, stride_b, inv_h, BLOCK_B: tl.constexpr, BLOCK_H: tl.constexpr):
    rows = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)
    acc = tl.zeros((BLOCK_B,), tl.float64)
    for start in range(0, H, BLOCK_H):
        cols = start + tl.arange(0, BLOCK_H)
        mask = (rows[:, None] < B) & (cols[None, :] < H)
        where = rows[:, None] * stride_b + cols[None, :]
        diff = (tl.load(p_ptr + where, mask=mask, other=0.0) - tl.load(t_ptr + where, mask=mask, other=0.0))
        diff = diff.to(tl.float64)
        acc += tl.sum(diff * diff, axis=1)
    tl.store(out_ptr + rows, (acc * inv_h).to(out_ptr.dtype.element_ty), mask=rows < B)


def _check(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)} and "
                         f"{tuple(target.shape)}")
    if pred.dtype != target.dtype or pred.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"pred and target must share a float32/float64 dtype, got {pred.dtype} and {target.dtype}")
    if pred.numel() == 0:
        raise ValueError("pred must not be empty")


def _forward(pred: torch.Tensor, target: torch.Tensor, block: int) -> torch.Tensor:
    n = pred.numel()
    parts = torch.empty(triton.cdiv(n, block), dtype=torch.float64, device=pred.device)
    out = torch.empty((), dtype=pred.dtype, device=pred.device)
    _partials_kernel[(parts.numel(),)](pred, target, parts, n, BLOCK=block)
    _finish_kernel[(1,)](parts, out, parts.numel(), 1.0 / n, BLOCK=1024)
    return out


class _MSE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pred: torch.Tensor, target: torch.Tensor, block: int) -> torch.Tensor:
        ctx.save_for_backward(pred, target)
        ctx.block = block
        return _forward(pred, target, block)

    @staticmethod
    def backward(ctx, upstream: torch.Tensor):
        pred, target = ctx.saved_tensors
        n = pred.numel()
        grad = torch.empty_like(pred)
        _grad_kernel[(triton.cdiv(n, ctx.block),)](pred, target, upstream.contiguous(), grad, n, 2.0 / n,
                                                  BLOCK=ctx.block)
        return grad, (-grad if ctx.needs_input_grad[1] else None), None


def mse(pred: torch.Tensor, target: torch.Tensor, *, block: int = 4096) -> torch.Tensor:
    """Mean of ``(pred - target)²`` over every element, differentiable with respect to both inputs."""
    _check(pred, target)
    return _MSE.apply(pred.contiguous(), target.contiguous(), block)


def per_sample_mse(pred: torch.Tensor, target: torch.Tensor, *, block_b: int = 32, block_h: int = 64) -> torch.Tensor:
    """Each row's mean squared error, ``(B, h) -> (B,)`` (no gradient: for evaluation)."""
    _check(pred, target)
    if pred.ndim != 2:
        raise ValueError(f"pred must be 2-D (B, h), got shape {tuple(pred.shape)}")
    pred, target = pred.contiguous(), target.contiguous()
    B, H = pred.shape
    out = torch.empty(B, dtype=pred.dtype, device=pred.device)
    _rows_kernel[(triton.cdiv(B, block_b),)](pred, target, out, B, H, H, 1.0 / H, BLOCK_B=block_b, BLOCK_H=block_h)
    return out


class TritonMSELoss(nn.Module):
    """Drop-in for ``nn.MSELoss()`` backed by the Triton kernels."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return mse(pred, target)
