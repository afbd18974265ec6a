"""Min-max scaling on ``(T, F)`` tensors: reference, Triton kernels, launchers.

Statistics: one pass over the rows computes each column's min, max and NaN count (the fit span only:
callers pass the training rows). Transform ``z = (x - min) / scale`` and inverse ``x = z · scale + min``
run in one elementwise pass, in place or into ``out``.

Rules, shared by both implementations and tested:
- constant column (max == min): scale is 1, so the column maps to 0 (as `hpcast.features.scalers`);
- NaN: fitting refuses it (the error names the column and the count); transforms propagate NaN.

Sizing for bandwidth (T·F = N from 1e6 to 1e8 elements, float32). Both passes are memory-bound: a few
operations per 4-byte element against about 200 FLOP per byte the H200 could afford. Bytes moved and the
ideal time at the 4.3 TB/s device-to-device copy measured on an H200 (read + write, KINDS.md):

    stats      reads N·4                   1e8: 0.40 GB -> 93 µs      1e6: 0.9 µs (launch-bound)
    transform  reads N·4, writes N·4       1e8: 0.80 GB -> 186 µs     1e6: 1.9 µs (launch-bound)

so at 1e6 elements the few microseconds of launch and the host sync of the NaN check dominate, and the
share of copy bandwidth is only meaningful from 1e7 up. Choices that make the passes stream:
- Tiles of about 4096 elements (``_TILE``) per step, 8 warps: 16 elements per thread, so each thread has
  four 16-byte loads in flight per step when the rows are dense.
- Dense rows (``x`` contiguous and F a power of two up to `_MAX_BLOCK_F`, F = 1 included): flat tiles of
  whole rows, each element's column its flat index mod F, so the loads are one contiguous run and compile
  to 128-bit loads (read off the PTX for sm_90 with F = 1, 2, 8, 64: benchmarks/results/gpu-notes.md);
  a (BLOCK_T, F) tile of F = 1 or 2 columns would not. Other layouts (a row stride, F = 7) take a 2-D
  masked path: correct, with narrower loads.
- Full tiles run unmasked; only the last, partial tile is masked (a mask that is not constant over a
  vector of four would split every load into scalar ones).
- Statistics use a persistent grid: `_PROGRAMS_PER_SM` programs per multiprocessor (read off the
  tensor's device at launch, never at import), each striding over the row tiles and keeping an
  elementwise running min / max / NaN count in registers, reduced once at its end into one partial row;
  a second, tiny launch folds the (P, F) partials. Min and max are exact in the input dtype, so only the
  final span is formed in float64. Four programs of 8 warps per SM keep 32 warps resident, about 64 KB of
  loads in flight per SM, well above the ~20 KB per SM that 4.3 TB/s at ~600 ns latency needs.
- The transform is elementwise, so a plain grid of one tile per program is enough.

Legend: T rows (time), F columns (features), P programs of the persistent grid.
"""

from __future__ import annotations

import functools

import torch
import triton
import triton.language as tl

__all__ = ["check_32bit_offsets", "minmax_stats", "minmax_stats_reference", "minmax_transform",
           "minmax_transform_reference", "persistent_programs"]

_TILE = 4096  # elements per program step
_MAX_BLOCK_F = 256  # wider inputs get a second grid axis over column blocks
_PROGRAMS_PER_SM = 4
_NUM_WARPS = 8
_INTERPRETER_PROGRAMS = 4  # on the CPU (TRITON_INTERPRET=1) each program runs in turn: few, so tests stay fast


def minmax_stats_reference(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    _check(x)
    _refuse_nan(torch.isnan(x).sum(dim=0))
    low, high = x.amin(dim=0), x.amax(dim=0)
    return low, torch.where(high > low, high - low, torch.ones_like(high))


def minmax_transform_reference(x: torch.Tensor, low: torch.Tensor, scale: torch.Tensor,
                               inverse: bool = False) -> torch.Tensor:
    return x * scale + low if inverse else (x - low) / scale


@functools.cache
def _multiprocessors(index: int) -> int:
    return torch.cuda.get_device_properties(index).multi_processor_count


def persistent_programs(device: torch.device, per_sm: int = _PROGRAMS_PER_SM) -> int:
    """Programs of a persistent grid on ``device``: ``per_sm`` per multiprocessor on CUDA (queried once per
    device, at the first launch), a handful under the CPU interpreter."""
    if device.type != "cuda":
        return _INTERPRETER_PROGRAMS
    return per_sm * _multiprocessors(device.index if device.index is not None else torch.cuda.current_device())


def check_32bit_offsets(t: torch.Tensor, name: str) -> None:
    """The kernels index with 32-bit offsets: refuse a tensor that spans 2**31 elements or more."""
    span = 1 + sum((size - 1) * stride for size, stride in zip(t.shape, t.stride(), strict=True))
    if t.numel() >= 2**31 or span >= 2**31:
        raise ValueError(f"{name} spans {max(t.numel(), span)} elements; the kernels index with 32-bit offsets "
                         "(< 2**31)")


@triton.jit
def _fold(low, high, nans, x, valid):
    """Fold a tile into the running elementwise min, max and NaN count; ``valid`` masks padding."""
    keep = valid & (x == x)
    low = tl.minimum(low, tl.where(keep, x, float("inf")))
    high = tl.maximum(high, tl.where(keep, x, float("-inf")))
    return low, high, nans + (valid & (x != x)).to(tl.int32)


@triton.jit
def _stats_dense_kernel(x_ptr, low_ptr, high_ptr, nan_ptr, N, n_full, BLOCK_T: tl.constexpr, BLOCK_F: tl.constexpr):
    """Contiguous rows, F = BLOCK_F: flat tiles of BLOCK_T rows; flat index mod F is the column."""
    BLOCK: tl.constexpr = BLOCK_T * BLOCK_F
    pid, programs = tl.program_id(0), tl.num_programs(0)
    low = tl.full((BLOCK,), float("inf"), x_ptr.dtype.element_ty)
    high = tl.full((BLOCK,), float("-inf"), x_ptr.dtype.element_ty)
    nans = tl.zeros((BLOCK,), tl.int32)
    for tile in range(pid, n_full, programs):  # full tiles, unmasked loads
        offs = tile * BLOCK + tl.arange(0, BLOCK)  # (BLOCK,)
        low, high, nans = _fold(low, high, nans, tl.load(x_ptr + offs), offs < N)
    if pid == programs - 1:  # the partial tile, if any
        offs = n_full * BLOCK + tl.arange(0, BLOCK)
        low, high, nans = _fold(low, high, nans, tl.load(x_ptr + offs, mask=offs < N, other=0.0), offs < N)
    out = pid * BLOCK_F + tl.arange(0, BLOCK_F)  # row `pid` of the (P, F) partials
    tl.store(low_ptr + out, tl.min(tl.reshape(low, (BLOCK_T, BLOCK_F)), axis=0))
    tl.store(high_ptr + out, tl.max(tl.reshape(high, (BLOCK_T, BLOCK_F)), axis=0))
    tl.store(nan_ptr + out, tl.sum(tl.reshape(nans, (BLOCK_T, BLOCK_F)), axis=0))


@triton.jit
def _stats_strided_kernel(x_ptr, low_ptr, high_ptr, nan_ptr, T, F, stride_t,
                          BLOCK_T: tl.constexpr, BLOCK_F: tl.constexpr):
    """Any row stride, any F: (BLOCK_T, BLOCK_F) tiles, masked; grid axis 1 runs over column blocks."""
    pid, programs = tl.program_id(0), tl.num_programs(0)
    cols = tl.program_id(1) * BLOCK_F + tl.arange(0, BLOCK_F)  # (BLOCK_F,)
    low = tl.full((BLOCK_T, BLOCK_F), float("inf"), x_ptr.dtype.element_ty)
    high = tl.full((BLOCK_T, BLOCK_F), float("-inf"), x_ptr.dtype.element_ty)
    nans = tl.zeros((BLOCK_T, BLOCK_F), tl.int32)
    for tile in range(pid, tl.cdiv(T, BLOCK_T), programs):
        rows = tile * BLOCK_T + tl.arange(0, BLOCK_T)  # (BLOCK_T,)
        mask = (rows[:, None] < T) & (cols[None, :] < F)  # (BLOCK_T, BLOCK_F)
        x = tl.load(x_ptr + rows[:, None] * stride_t + cols[None, :], mask=mask, other=0.0)
        low, high, nans = _fold(low, high, nans, x, mask)
    out = pid * F + cols
    tl.store(low_ptr + out, tl.min(low, axis=0), mask=cols < F)
    tl.store(high_ptr + out, tl.max(high, axis=0), mask=cols < F)
    tl.store(nan_ptr + out, tl.sum(nans, axis=0), mask=cols < F)


@triton.jit
def _stats_finish_kernel(low_part_ptr, high_part_ptr, nan_part_ptr, low_ptr, scale_ptr, nan_ptr, P, F,
                         BLOCK_P: tl.constexpr, BLOCK_F: tl.constexpr):
    cols = tl.program_id(0) * BLOCK_F + tl.arange(0, BLOCK_F)  # (BLOCK_F,)
    low = tl.full((BLOCK_F,), float("inf"), tl.float64)
    high = tl.full((BLOCK_F,), float("-inf"), tl.float64)
    nans = tl.zeros((BLOCK_F,), tl.int32)
    for start in range(0, P, BLOCK_P):
        parts = start + tl.arange(0, BLOCK_P)  # (BLOCK_P,)
        mask = (parts[:, None] < P) & (cols[None, :] < F)
        where = parts[:, None] * F + cols[None, :]  # (BLOCK_P, BLOCK_F)
        part_low = tl.load(low_part_ptr + where, mask=mask, other=float("inf")).to(tl.float64)
        part_high = tl.load(high_part_ptr + where, mask=mask, other=float("-inf")).to(tl.float64)
        low = tl.minimum(low, tl.min(part_low, axis=0))
        high = tl.maximum(high, tl.max(part_high, axis=0))
        nans += tl.sum(tl.load(nan_part_ptr + where, mask=mask, other=0), axis=0)
    span = high - low
    tl.store(low_ptr + cols, low, mask=cols < F)
    tl.store(scale_ptr + cols, tl.where(span > 0, span, 1.0), mask=cols < F)
    tl.store(nan_ptr + cols, nans, mask=cols < F)


@triton.jit
def _transform_dense_kernel(x_ptr, out_ptr, low_ptr, scale_ptr, N, n_full, INVERSE: tl.constexpr,
                            BLOCK_T: tl.constexpr, BLOCK_F: tl.constexpr):
    """Contiguous ``x`` and ``out``, F = BLOCK_F: one flat tile a program; unmasked unless it is the last."""
    BLOCK: tl.constexpr = BLOCK_T * BLOCK_F
    tile = tl.program_id(0)
    offs = tile * BLOCK + tl.arange(0, BLOCK)  # (BLOCK,)
    cols = tl.arange(0, BLOCK) % BLOCK_F  # each element's column (tiles start on a row)
    low, scale = tl.load(low_ptr + cols), tl.load(scale_ptr + cols)  # (BLOCK,), from cache after the first
    if tile < n_full:
        x = tl.load(x_ptr + offs)
        tl.store(out_ptr + offs, x * scale + low if INVERSE else (x - low) / scale)
    else:
        x = tl.load(x_ptr + offs, mask=offs < N)
        tl.store(out_ptr + offs, x * scale + low if INVERSE else (x - low) / scale, mask=offs < N)


@triton.jit
def _transform_strided_kernel(x_ptr, out_ptr, low_ptr, scale_ptr, T, F, stride_t, out_stride_t,
                              INVERSE: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_F: tl.constexpr):
    rows = tl.program_id(0) * BLOCK_T + tl.arange(0, BLOCK_T)  # (BLOCK_T,)
    cols = tl.program_id(1) * BLOCK_F + tl.arange(0, BLOCK_F)  # (BLOCK_F,)
    mask = (rows[:, None] < T) & (cols[None, :] < F)  # (BLOCK_T, BLOCK_F)
    x = tl.load(x_ptr + rows[:, None] * stride_t + cols[None, :], mask=mask)
    low = tl.load(low_ptr + cols, mask=cols < F, other=0.0)[None, :]  # (1, BLOCK_F)
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


def _blocks(x: torch.Tensor, block_t: int | None) -> tuple[int, int, bool]:
    """(BLOCK_T, BLOCK_F, dense) for ``x``: about `_TILE` elements a tile unless ``block_t`` is given."""
    F = x.shape[1]
    block_f = min(triton.next_power_of_2(F), _MAX_BLOCK_F)
    block_t = block_t or max(1, _TILE // block_f)
    return block_t, block_f, x.stride(0) == F == block_f


def minmax_stats(x: torch.Tensor, *, block_t: int | None = None,
                 programs: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-column (min, scale) of ``x (T, F)`` in one pass; float64 statistics whatever the input dtype.

    ``block_t`` (rows a tile) and ``programs`` (the persistent grid) default to the bandwidth sizing of the
    module docstring; tests set them small to exercise many tiles and partials.
    """
    _check(x)
    check_32bit_offsets(x, "x")
    x = x if x.stride(1) == 1 else x.contiguous()
    T, F = x.shape
    block_t, block_f, dense = _blocks(x, block_t)
    P = min(programs or persistent_programs(x.device), triton.cdiv(T, block_t))
    low_part, high_part = (torch.empty(P, F, dtype=x.dtype, device=x.device) for _ in range(2))  # (P, F)
    nan_part = torch.empty(P, F, dtype=torch.int32, device=x.device)
    if dense:
        _stats_dense_kernel[(P,)](x, low_part, high_part, nan_part, T * F, T // block_t, BLOCK_T=block_t,
                                  BLOCK_F=block_f, num_warps=_NUM_WARPS)
    else:
        _stats_strided_kernel[(P, triton.cdiv(F, block_f))](x, low_part, high_part, nan_part, T, F, x.stride(0),
                                                            BLOCK_T=block_t, BLOCK_F=block_f, num_warps=_NUM_WARPS)
    low, scale = (torch.empty(F, dtype=torch.float64, device=x.device) for _ in range(2))
    nans = torch.empty(F, dtype=torch.int32, device=x.device)
    finish_f = min(block_f, 64)
    _stats_finish_kernel[(triton.cdiv(F, finish_f),)](low_part, high_part, nan_part, low, scale, nans, P, F,
                                                      BLOCK_P=64, BLOCK_F=finish_f)
    _refuse_nan(nans)
    return low.to(x.dtype), scale.to(x.dtype)


def minmax_transform(x: torch.Tensor, low: torch.Tensor, scale: torch.Tensor, *, inverse: bool = False,
                     out: torch.Tensor | None = None, block_t: int | None = None) -> torch.Tensor:
    """``(x - low) / scale`` (or the inverse) into ``out`` (``out=x`` works in place); returns ``out``."""
    _check(x)
    if low.shape != (x.shape[1],) or scale.shape != (x.shape[1],):
        raise ValueError(f"low and scale must have shape ({x.shape[1]},), got {tuple(low.shape)} and "
                         f"{tuple(scale.shape)}")
    x = x if x.stride(1) == 1 else x.contiguous()
    out = torch.empty_like(x) if out is None else out
    if out.shape != x.shape or out.stride(1) != 1:
        raise ValueError(f"out must have shape {tuple(x.shape)} with contiguous rows")
    check_32bit_offsets(x, "x")
    check_32bit_offsets(out, "out")
    T, F = x.shape
    block_t, block_f, dense = _blocks(x, block_t)
    low, scale = low.to(x.dtype).contiguous(), scale.to(x.dtype).contiguous()
    if dense and out.stride(0) == F:
        _transform_dense_kernel[(triton.cdiv(T, block_t),)](x, out, low, scale, T * F, T // block_t,
                                                            INVERSE=inverse, BLOCK_T=block_t, BLOCK_F=block_f,
                                                            num_warps=_NUM_WARPS)
    else:
        _transform_strided_kernel[(triton.cdiv(T, block_t), triton.cdiv(F, block_f))](
            x, out, low, scale, T, F, x.stride(0), out.stride(0), INVERSE=inverse, BLOCK_T=block_t, BLOCK_F=block_f,
            num_warps=_NUM_WARPS)
    return out
