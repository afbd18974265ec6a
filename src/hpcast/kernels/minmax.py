"""Min-max scaling on ``(T, F)`` tensors: reference, Triton kernels, launchers.

Statistics: one pass over the rows computes each column's min, max and NaN count (the fit span only:
callers pass the training rows). Transform ``z = (x - min) / scale`` and inverse ``x = z · scale + min``
run in one elementwise pass, in place or into ``out``.

Rules, shared by both implementations and tested:
- constant column (max == min): scale is 1, so the column maps to 0 (as `hpcast.features.scalers`);
- NaN: fitting refuses it (the error names the column and the count); transforms propagate NaN.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

__all__ = ["minmax_stats", "minmax_stats_reference", "minmax_transform", "minmax_transform_reference"]


def minmax_stats_reference(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    _check(x)
    _refuse_nan(torch.isnan(x).sum(dim=0))
    low, high = x.amin(dim=0), x.amax(dim=0)
    return low, torch.where(high > low, high - low, torch.ones_like(high))


def minmax_transform_reference(x: torch.Tensor, low: torch.Tensor, scale: torch.Tensor,
                               inverse: bool = False) -> torch.Tensor:
    return x * scale + low if inverse else (x - low) / scale


@triton.jit
def _stats_kernel(x_ptr, low_ptr, scale_ptr, nan_ptr, T, F, stride_t,
                  BLOCK_T: tl.constexpr, BLOCK_F: tl.constexpr):
    cols = tl.program_id(0) * BLOCK_F + tl.arange(0, BLOCK_F)  # (BLOCK_F,)
    col_mask = cols < F
    low = tl.full((BLOCK_F,), float("inf"), tl.float64)
    high = tl.full((BLOCK_F,), float("-inf"), tl.float64)
    nans = tl.zeros((BLOCK_F,), tl.int32)
    for start in range(0, T, BLOCK_T):
        rows = start + tl.arange(0, BLOCK_T)  # (BLOCK_T,)
        mask = (rows[:, None] < T) & col_mask[None, :]
        x = tl.load(x_ptr + rows[:, None] * stride_t + cols[None, :], mask=mask, other=0.0).to(tl.float64)
        is_nan = (x != x) & mask
        nans += tl.sum(is_nan.to(tl.int32), axis=0)
        low = tl.minimum(low, tl.min(tl.where(mask & ~is_nan, x, float("inf")), axis=0))
        high = tl.maximum(high, tl.max(tl.where(mask & ~is_nan, x, float("-inf")), axis=0))
    span = high - low
    tl.store(low_ptr + cols, low, mask=col_mask)
    tl.store(scale_ptr + cols, tl.where(span > 0, span, 1.0), mask=col_mask)
    tl.store(nan_ptr + cols, nans, mask=col_mask)


@triton.jit
def _transform_kernel(x_ptr, out_ptr, low_ptr, scale_ptr, T, F, stride_t, out_stride_t,
                      INVERSE: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_F: tl.constexpr):
    rows = tl.program_id(0) * BLOCK_T + tl.arange(0, BLOCK_T)
    cols = tl.program_id(1) * BLOCK_F + tl.arange(0, BLOCK_F)
    mask = (rows[:, None] < T) & (cols[None, :] < F)
    x = tl.load(x_ptr + rows[:, None] * stride_t + cols[None, :], mask=mask)
    low = tl.load(low_ptr + cols, mask=cols < F, other=0.0)[None, :]
    scale = tl.load(scale_ptr + cols, mask=cols < F, other=1.0)[None, :]
    y = x * scale + low if INVERSE else (x - low) / scale
    tl.store(out_ptr + rows[:, None] * out_stride_t + cols[None, :], y, mask=mask)


def _check(x: torch.Tensor) -> None:
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D (T, F), got shape {tuple(x.shape)}")
    if x.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"x must be float32 or float64, got {x.dtype}")
    if x.shape[0] < 1:
        raise ValueError("x must have at least one row")


def _refuse_nan(counts: torch.Tensor) -> None:
    if bool((counts > 0).any()):
        column = int(torch.nonzero(counts)[0])
        raise ValueError(f"cannot fit min-max scaling on NaN: column {column} has {int(counts[column])} NaN "
                         "value(s) in the fit span")


def minmax_stats(x: torch.Tensor, *, block_t: int = 64, block_f: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-column (min, scale) of ``x (T, F)`` in one pass; float64 statistics whatever the input dtype."""
    _check(x)
    x = x if x.stride(1) == 1 else x.contiguous()
    T, F = x.shape
    low = torch.empty(F, dtype=torch.float64, device=x.device)
    scale = torch.empty(F, dtype=torch.float64, device=x.device)
    nans = torch.empty(F, dtype=torch.int32, device=x.device)
    _stats_kernel[(triton.cdiv(F, block_f),)](x, low, scale, nans, T, F, x.stride(0), BLOCK_T=block_t,
                                              BLOCK_F=block_f)
    _refuse_nan(nans)
    return low.to(x.dtype), scale.to(x.dtype)


def minmax_transform(x: torch.Tensor, low: torch.Tensor, scale: torch.Tensor, *, inverse: bool = False,
                     out: torch.Tensor | None = None, block_t: int = 64, block_f: int = 16) -> torch.Tensor:
    """``(x - low) / scale`` (or the inverse) into ``out`` (``out=x`` works in place); returns ``out``."""
    _check(x)
    if low.shape != (x.shape[1],) or scale.shape != (x.shape[1],):
        raise ValueError(f"low and scale must have shape ({x.shape[1]},), got {tuple(low.shape)} and "
                         f"{tuple(scale.shape)}")
    x = x if x.stride(1) == 1 else x.contiguous()
    out = torch.empty_like(x) if out is None else out
    if out.shape != x.shape or out.stride(1) != 1:
        raise ValueError(f"out must have shape {tuple(x.shape)} with contiguous rows")
    T, F = x.shape
    grid = (triton.cdiv(T, block_t), triton.cdiv(F, block_f))
    _transform_kernel[grid](x, out, low.to(x.dtype).contiguous(), scale.to(x.dtype).contiguous(), T, F,
                            x.stride(0), out.stride(0), INVERSE=inverse, BLOCK_T=block_t, BLOCK_F=block_f)
    return out
