r"""One-layer LSTMs over whole sequences, K models per launch: torch reference, Triton kernels, autograd, module.

Forward: the input projection for every time step is one batched matrix product up front,
``P = x W_ihᵀ + b_ih + b_hh``, shape (K, B, T, 4H). A persistent kernel then runs the recurrence; program
(n, k) owns batch rows [n·BLOCK_B, (n+1)·BLOCK_B) of model k and does per step

    a = P[:, t] + h W_hhᵀ;  i, f, o = σ(a_i, a_f, a_o);  g = tanh(a_g);  c = f c + i g;  h = o tanh(c)

storing h, c and the gate activations for the backward pass. h and c are stored (K, T, B, H) and returned as
a (K, B, T, H) view: for K = 1 the very layout ``nn.LSTM(batch_first=True)`` returns. Backward runs the
recurrence in reverse (δh_{t-1} = Σ_q δa_q W_q); the weight gradients ``δaᵀ x``, ``δaᵀ h_{t-1}`` and
``δa W_ih`` are then batched matrix products. Gate order i, f, g, o and the parameter names are those of
``torch.nn.LSTM``: `FusedLSTM` *is* an ``nn.LSTM`` (one layer, batch_first), runs as K = 1 of the same
kernels, and falls back to ``nn.LSTM``'s own kernel on the torch path.

Two variants, chosen per shape by `plan_lstm`:

- *resident*: each program loads the four (HP, HP) gate blocks of W_hh once and holds them in registers
  for all T steps (forward and backward), when they fit without spilling;
- *tiled*: per step, W_hh streams in (BLOCK_K, BLOCK_J) tiles from global memory (L2 for the second program
  of a model), h_{t-1} from the h output buffer the kernel writes, c_{t-1} from the c buffer, with a
  ``tl.debug_barrier()`` between one step's stores and the next step's loads because other threads of the
  program wrote them. Backward likewise completes δh_{t-1} in the δh buffer and carries δc in a (K, B, H)
  buffer. Accumulation is in the input dtype (float32 or float64).

`lstm_refusal` states what the launcher cannot run (H > 1024, a dtype other than float32/float64, B, T or H
of 0, 32-bit offsets overflowing); the launcher raises it as a ValueError before any compile, and
`FusedLSTM` / `hpcast.kernels.fleet.lstm_fleet` with ``kernels="auto"`` run ``nn.LSTM``'s kernel instead.

Budget on Hopper (H100 / H200: 132 SMs, 65,536 32-bit registers and 228 KiB shared memory per SM, 255
registers per thread and 227 KiB shared memory per block at most), float32, B = 32. BLOCK_B = 16 and the
grid is (cdiv(B, 16), K) with the model index K on the second axis, so B = 32 is 2 programs per model and
K = 64 models are 128 programs on 132 SMs: one wave, every program on an SM of its own. "W_hh regs" is
W_hh's share of each thread's registers, 4·BLOCK_K·BLOCK_J words over num_warps·32 threads (resident: the
whole (HP, HP) blocks, held all sequence; tiled: one (32, 32) tile per gate, in flight for one inner
step). "regs", "spill" (bytes) and "smem" are what Triton 3.9 and ptxas report compiling the forward and
backward kernels for sm_90 (Triton keeps part of a resident W_hh in shared memory as the dot operand);
"prog/SM" is how many programs one SM holds by registers, shared memory and warps (f/b: forward / backward).
A CPU machine can compile for a GPU it lacks: `tests/kernels/test_lstm.py` recompiles the planned kernels
and checks that nothing spills. These are compile and paper figures, not measured on a GPU.

| H    | variant  | HP   | warps | W_hh regs | regs f/b  | spill | smem KiB f/b | W_hh/model | prog/SM f/b |
|------|----------|------|-------|-----------|-----------|-------|--------------|------------|-------------|
|   32 | resident |   32 |     8 |        16 |   70 / 52 |     0 |      18 / 46 |     16 KiB |       3 / 4 |
|   50 | resident |   64 |    16 |        32 |   60 / 50 |     0 |     68 / 124 |     39 KiB |       2 / 1 |
|   64 | resident |   64 |    16 |        32 |   60 / 50 |     0 |     68 / 124 |     64 KiB |       2 / 1 |
|  100 | tiled    |  128 |     8 |        16 | 160 / 192 |     0 |      36 / 48 |    156 KiB |       1 / 1 |
|  120 | tiled    |  128 |     8 |        16 | 160 / 192 |     0 |      36 / 48 |    225 KiB |       1 / 1 |
|  128 | tiled    |  128 |     8 |        16 | 160 / 192 |     0 |      36 / 48 |    256 KiB |       1 / 1 |
|  256 | tiled    |  256 |     8 |        16 | 160 / 192 |     0 |      36 / 48 |      1 MiB |       1 / 1 |
|  512 | tiled    |  512 |     8 |        16 | 160 / 192 |     0 |      36 / 48 |      4 MiB |       1 / 1 |
| 1024 | tiled    | 1024 |     8 |        16 | 160 / 192 |     0 |      36 / 48 |     16 MiB |       1 / 1 |

Resident at HP = 128 cannot fit: W_hh alone is 256 KiB, the whole register file of an SM (ptxas spills
7.7 KB per thread at 16 warps and asks for 264 KiB of shared memory). Tiled, one step of one program streams
4H² weights (the W_hh/model column) through L2: K = 64 models' W_hh stay in the 50–60 MB L2 up to H = 128
(16 MiB in all) and come from HBM above. Float64 (tests, checks): resident up to HP = 32 (8 warps: 128 / 116
registers, 36 / 92 KiB), tiled above with (32, 16) tiles (128 / 128 registers, 40 / 48 KiB), no spills.

Past H = 1024 one program's step (4H² multiply-adds for each of 16 rows on one SM, 16 MiB of W_hh streamed)
is well over 0.1 ms, and cuDNN, which spreads one step over many SMs, is the better use of the chip.

Legend: K models, B batch, T time steps, I input size, H hidden size, HP = H padded to a power of two
(>= 16), q a gate (i, f, g, o), j a unit a step computes, k a unit of h_{t-1} it reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import triton
import triton.language as tl
from torch import nn

from hpcast.kernels.dispatch import Kernels, resolve

__all__ = ["FusedLSTM", "LSTMPlan", "lstm_layer", "lstm_refusal", "lstm_stack",
           "pick_lstm_kernels", "plan_lstm"]

BLOCK_B = 16
MAX_HIDDEN = 1024
# The largest HP whose W_hh a resident program holds on-chip without spilling (ptxas, sm_90: module docstring).
RESIDENT_MAX_HP = {torch.float32: 64, torch.float64: 32}
_RESIDENT_WARPS = {16: 4, 32: 8, 64: 16}  # HP=64 at 8 warps spills (255 registers); at 16 it needs 60
_TILES = {torch.float32: (32, 32), torch.float64: (32, 16)}  # (BLOCK_K, BLOCK_J); (32, 64) spills in float32
_TILED_WARPS = 8


@triton.jit
def _tanh(x):
    return 2.0 * tl.sigmoid(2.0 * x) - 1.0


@triton.jit
def _gate_block(w_ptr, q, H, hk, hj, TRANSPOSE: tl.constexpr):
    """Gate q's block of W_hh (4H, H) at units hj × hk: W_q[j, k] = W_hh[q·H + j, k]; [k, j] if TRANSPOSE."""
    if TRANSPOSE:  # [k, j], for h W_qᵀ
        ptrs = w_ptr + (q * H + hj[None, :]) * H + hk[:, None]
        mask = (hk[:, None] < H) & (hj[None, :] < H)
    else:  # [j, k], for δa_q W_q
        ptrs = w_ptr + (q * H + hj[:, None]) * H + hk[None, :]
        mask = (hj[:, None] < H) & (hk[None, :] < H)
    return tl.load(ptrs, mask=mask, other=0.0)


@triton.jit
def _store_step(h_ptr, c_ptr, gates_ptr, state, rows, units, mask, T, H, t, h, c, i, f, g, o):
    """Step t's h and c at ``state`` of (T, B, H), and its gate activations into gates (B, T, 4H), for the
    backward pass."""
    tl.store(h_ptr + state, h, mask=mask)
    tl.store(c_ptr + state, c, mask=mask)
    g_row = gates_ptr + rows[:, None] * (T * 4 * H) + t * 4 * H + units[None, :]
    tl.store(g_row, i, mask=mask)
    tl.store(g_row + H, f, mask=mask)
    tl.store(g_row + 2 * H, g, mask=mask)
    tl.store(g_row + 3 * H, o, mask=mask)


@triton.jit
def _forward_resident_kernel(p_ptr, whh_ptr, h_ptr, c_ptr, gates_ptr, B, T, H,
                             BLOCK_B: tl.constexpr, HP: tl.constexpr, PRECISION: tl.constexpr):
    model = tl.program_id(1).to(tl.int64)  # model k's slices: P, gates (B, T, 4H); W_hh (4H, H); h, c (T, B, H)
    p_ptr += model * B * T * 4 * H
    gates_ptr += model * B * T * 4 * H
    whh_ptr += model * 4 * H * H
    h_ptr += model * T * B * H
    c_ptr += model * T * B * H
    rows = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)  # (BLOCK_B,)
    cols = tl.arange(0, HP)  # hidden units j (and k)
    mask = (rows[:, None] < B) & (cols[None, :] < H)  # (BLOCK_B, HP)
    w_i = _gate_block(whh_ptr, 0, H, cols, cols, True)  # (HP, HP), in registers for the whole sequence
    w_f = _gate_block(whh_ptr, 1, H, cols, cols, True)
    w_g = _gate_block(whh_ptr, 2, H, cols, cols, True)
    w_o = _gate_block(whh_ptr, 3, H, cols, cols, True)
    h = tl.zeros((BLOCK_B, HP), p_ptr.dtype.element_ty)
    c = tl.zeros((BLOCK_B, HP), p_ptr.dtype.element_ty)
    for t in range(T):
        p_row = p_ptr + rows[:, None] * (T * 4 * H) + t * 4 * H + cols[None, :]  # (BLOCK_B, HP) into (B, T, 4H)
        i = tl.sigmoid(tl.load(p_row, mask=mask, other=0.0) + tl.dot(h, w_i, input_precision=PRECISION))
        f = tl.sigmoid(tl.load(p_row + H, mask=mask, other=0.0) + tl.dot(h, w_f, input_precision=PRECISION))
        g = _tanh(tl.load(p_row + 2 * H, mask=mask, other=0.0) + tl.dot(h, w_g, input_precision=PRECISION))
        o = tl.sigmoid(tl.load(p_row + 3 * H, mask=mask, other=0.0) + tl.dot(h, w_o, input_precision=PRECISION))
        c = f * c + i * g  # padded lanes stay 0: their inputs and weights are 0
        h = tl.where(mask, o * _tanh(c), 0.0)
        state = t * (B * H) + rows[:, None] * H + cols[None, :]  # h and c are (T, B, H), as nn.LSTM stores them
        _store_step(h_ptr, c_ptr, gates_ptr, state, rows, cols, mask, T, H, t, h, c, i, f, g, o)


@triton.jit
def _forward_tiled_kernel(p_ptr, whh_ptr, h_ptr, c_ptr, gates_ptr, B, T, H, BLOCK_B: tl.constexpr,
                          BLOCK_K: tl.constexpr, BLOCK_J: tl.constexpr, PRECISION: tl.constexpr):
    model = tl.program_id(1).to(tl.int64)
    p_ptr += model * B * T * 4 * H
    gates_ptr += model * B * T * 4 * H
    whh_ptr += model * 4 * H * H
    h_ptr += model * T * B * H
    c_ptr += model * T * B * H
    rows = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)  # (BLOCK_B,)
    row_ok = rows[:, None] < B  # (BLOCK_B, 1)
    for t in range(T):
        has_prev = (tl.arange(0, BLOCK_K)[None, :] * 0 + t) > 0  # (1, BLOCK_K): the state before t=0 is zero
        for j0 in range(0, H, BLOCK_J):
            j = j0 + tl.arange(0, BLOCK_J)  # the units this tile computes
            mask = row_ok & (j[None, :] < H)  # (BLOCK_B, BLOCK_J)
            p_row = p_ptr + rows[:, None] * (T * 4 * H) + t * 4 * H + j[None, :]
            a_i = tl.load(p_row, mask=mask, other=0.0)
            a_f = tl.load(p_row + H, mask=mask, other=0.0)
            a_g = tl.load(p_row + 2 * H, mask=mask, other=0.0)
            a_o = tl.load(p_row + 3 * H, mask=mask, other=0.0)
            for k0 in range(0, H, BLOCK_K):
                k = k0 + tl.arange(0, BLOCK_K)  # the units of h_{t-1} this tile reads
                h_prev = tl.load(h_ptr + (t - 1) * (B * H) + rows[:, None] * H + k[None, :],
                                 mask=row_ok & (k[None, :] < H) & has_prev, other=0.0)  # (BLOCK_B, BLOCK_K)
                a_i += tl.dot(h_prev, _gate_block(whh_ptr, 0, H, k, j, True), input_precision=PRECISION)
                a_f += tl.dot(h_prev, _gate_block(whh_ptr, 1, H, k, j, True), input_precision=PRECISION)
                a_g += tl.dot(h_prev, _gate_block(whh_ptr, 2, H, k, j, True), input_precision=PRECISION)
                a_o += tl.dot(h_prev, _gate_block(whh_ptr, 3, H, k, j, True), input_precision=PRECISION)
            i = tl.sigmoid(a_i)
            f = tl.sigmoid(a_f)
            g = _tanh(a_g)
            o = tl.sigmoid(a_o)
            state = t * (B * H) + rows[:, None] * H + j[None, :]  # (T, B, H) layout
            c_prev = tl.load(c_ptr + state - B * H, mask=mask & ((j[None, :] * 0 + t) > 0), other=0.0)
            c = f * c_prev + i * g
            _store_step(h_ptr, c_ptr, gates_ptr, state, rows, j, mask, T, H, t, o * _tanh(c), c, i, f, g, o)
        tl.debug_barrier()  # step t's h and c, stored by all threads, are read by all threads at t + 1


@triton.jit
def _backward_resident_kernel(dh_ptr, dc_last_ptr, gates_ptr, c_ptr, whh_ptr, da_ptr, B, T, H,
                              BLOCK_B: tl.constexpr, HP: tl.constexpr, PRECISION: tl.constexpr):
    model = tl.program_id(1).to(tl.int64)  # model k's slices: gates, da (B, T, 4H); dh, c (T, B, H); dc (B, H)
    gates_ptr += model * B * T * 4 * H
    da_ptr += model * B * T * 4 * H
    whh_ptr += model * 4 * H * H
    dh_ptr += model * T * B * H
    c_ptr += model * T * B * H
    dc_last_ptr += model * B * H
    rows = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)
    cols = tl.arange(0, HP)
    mask = (rows[:, None] < B) & (cols[None, :] < H)
    w_i = _gate_block(whh_ptr, 0, H, cols, cols, False)  # (HP, HP), in registers for the whole sequence
    w_f = _gate_block(whh_ptr, 1, H, cols, cols, False)
    w_g = _gate_block(whh_ptr, 2, H, cols, cols, False)
    w_o = _gate_block(whh_ptr, 3, H, cols, cols, False)
    dh_next = tl.zeros((BLOCK_B, HP), dh_ptr.dtype.element_ty)
    dc_next = tl.load(dc_last_ptr + rows[:, None] * H + cols[None, :], mask=mask, other=0.0)
    for s in range(T):
        t = T - 1 - s
        state = t * (B * H) + rows[:, None] * H + cols[None, :]  # (T, B, H) layout
        dh = tl.load(dh_ptr + state, mask=mask, other=0.0) + dh_next
        da_i, da_f, da_g, da_o, dc_next = _cell_backward(gates_ptr, c_ptr, da_ptr, state, rows, cols, mask, dh,
                                                         dc_next, B, T, H, t)
        dh_next = (tl.dot(da_i, w_i, input_precision=PRECISION) + tl.dot(da_f, w_f, input_precision=PRECISION)
                   + tl.dot(da_g, w_g, input_precision=PRECISION) + tl.dot(da_o, w_o, input_precision=PRECISION))


@triton.jit
def _cell_backward(gates_ptr, c_ptr, da_ptr, state, rows, cols, mask, dh, dc_next, B, T, H, t):
    """One step of the cell's backward at units ``cols``: stores δa (the gate pre-activation gradients)
    and returns them with δc_{t-1} = δc f."""
    g_row = gates_ptr + rows[:, None] * (T * 4 * H) + t * 4 * H + cols[None, :]
    i = tl.load(g_row, mask=mask, other=0.0)
    f = tl.load(g_row + H, mask=mask, other=0.0)
    g = tl.load(g_row + 2 * H, mask=mask, other=0.0)
    o = tl.load(g_row + 3 * H, mask=mask, other=0.0)
    c = tl.load(c_ptr + state, mask=mask, other=0.0)
    has_prev = (cols[None, :] * 0 + t) > 0  # (1, units): the state before t=0 is zero
    c_prev = tl.load(c_ptr + state - B * H, mask=mask & has_prev, other=0.0)
    tanh_c = _tanh(c)
    dc = dh * o * (1.0 - tanh_c * tanh_c) + dc_next
    da_i = dc * g * i * (1.0 - i)
    da_f = dc * c_prev * f * (1.0 - f)
    da_g = dc * i * (1.0 - g * g)
    da_o = dh * tanh_c * o * (1.0 - o)
    d_row = da_ptr + rows[:, None] * (T * 4 * H) + t * 4 * H + cols[None, :]
    tl.store(d_row, da_i, mask=mask)
    tl.store(d_row + H, da_f, mask=mask)
    tl.store(d_row + 2 * H, da_g, mask=mask)
    tl.store(d_row + 3 * H, da_o, mask=mask)
    return da_i, da_f, da_g, da_o, dc * f


@triton.jit
def _backward_tiled_kernel(dh_ptr, dc_ptr, gates_ptr, c_ptr, whh_ptr, da_ptr, B, T, H, BLOCK_B: tl.constexpr,
                           BLOCK_K: tl.constexpr, BLOCK_J: tl.constexpr, PRECISION: tl.constexpr):
    """``dh`` (T, B, H) enters as ∂L/∂h_t from the outputs and leaves holding the full δh_t (the recurrent
    term δa_{t+1} W_hh added); ``dc`` (B, H) enters as ∂L/∂c_T and carries δc between steps."""
    model = tl.program_id(1).to(tl.int64)
    gates_ptr += model * B * T * 4 * H
    da_ptr += model * B * T * 4 * H
    whh_ptr += model * 4 * H * H
    dh_ptr += model * T * B * H
    c_ptr += model * T * B * H
    dc_ptr += model * B * H
    rows = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)
    row_ok = rows[:, None] < B  # (BLOCK_B, 1)
    for s in range(T):
        t = T - 1 - s
        for j0 in range(0, H, BLOCK_J):
            j = j0 + tl.arange(0, BLOCK_J)
            mask = row_ok & (j[None, :] < H)  # (BLOCK_B, BLOCK_J)
            state = t * (B * H) + rows[:, None] * H + j[None, :]
            carry = dc_ptr + rows[:, None] * H + j[None, :]
            dh = tl.load(dh_ptr + state, mask=mask, other=0.0)
            dc_next = tl.load(carry, mask=mask, other=0.0)
            _, _, _, _, dc_next = _cell_backward(gates_ptr, c_ptr, da_ptr, state, rows, j, mask, dh, dc_next,
                                                 B, T, H, t)
            tl.store(carry, dc_next, mask=mask)
        tl.debug_barrier()  # step t's δa, stored by all threads, is read by all threads below
        if t > 0:
            for k0 in range(0, H, BLOCK_K):
                k = k0 + tl.arange(0, BLOCK_K)  # the units of δh_{t-1} this tile completes
                prev = dh_ptr + (t - 1) * (B * H) + rows[:, None] * H + k[None, :]
                prev_mask = row_ok & (k[None, :] < H)  # (BLOCK_B, BLOCK_K)
                dh_prev = tl.load(prev, mask=prev_mask, other=0.0)
                for j0 in range(0, H, BLOCK_J):
                    j = j0 + tl.arange(0, BLOCK_J)
                    d_row = da_ptr + rows[:, None] * (T * 4 * H) + t * 4 * H + j[None, :]  # (BLOCK_B, BLOCK_J)
                    d_mask = row_ok & (j[None, :] < H)
                    for q in tl.static_range(4):
                        da_q = tl.load(d_row + q * H, mask=d_mask, other=0.0)
                        dh_prev += tl.dot(da_q, _gate_block(whh_ptr, q, H, k, j, False), input_precision=PRECISION)
                tl.store(prev, dh_prev, mask=prev_mask)
            tl.debug_barrier()  # δh_{t-1} and δc_{t-1}, stored by all threads, are read by all threads at t - 1


@dataclass(frozen=True)
class LSTMPlan:
    """How the launcher runs one hidden size: variant, padded size, W_hh tile and warps per program.

    For the resident variant the tile is the whole (HP, HP) gate block.
    """

    variant: Literal["resident", "tiled"]
    hp: int
    block_k: int
    block_j: int
    num_warps: int

    def weight_registers(self, dtype: torch.dtype) -> int:
        """32-bit registers per thread that W_hh (resident) or one step's four W_hh tiles (tiled) occupy."""
        words = torch.finfo(dtype).bits // 32
        return 4 * self.block_k * self.block_j * words // (32 * self.num_warps)


def plan_lstm(H: int, dtype: torch.dtype, variant: str = "auto",
              tiles: tuple[int, int] | None = None) -> LSTMPlan:
    """The variant and tiles for hidden size ``H``: resident where W_hh fits in registers, tiled above.

    Args:
        H: hidden size.
        dtype: float32 or float64.
        variant: ``"auto"``, or ``"resident"`` / ``"tiled"`` to force one (tests check the tiled variant
            at small H this way).
        tiles: (BLOCK_K, BLOCK_J) of the tiled variant, powers of two >= 16 (the smallest ``tl.dot``
            operand); by default (32, 32) for float32 and (32, 16) for float64, each capped at HP.
    """
    if variant not in ("auto", "resident", "tiled"):
        raise ValueError(f"variant ({variant!r}) must be 'auto', 'resident' or 'tiled'")
    hp = max(16, triton.next_power_of_2(H))
    fits = hp <= RESIDENT_MAX_HP[dtype]
    if variant == "resident" and not fits:
        raise ValueError(f"variant 'resident' needs H padded to a power of two ({hp}) <= {RESIDENT_MAX_HP[dtype]} "
                         f"for {dtype}: above that W_hh does not fit in registers")
    if variant == "resident" or (variant == "auto" and fits and tiles is None):
        return LSTMPlan("resident", hp, hp, hp, _RESIDENT_WARPS[hp])
    block_k, block_j = tiles if tiles is not None else (min(hp, t) for t in _TILES[dtype])
    for name, size in (("BLOCK_K", block_k), ("BLOCK_J", block_j)):
        if size < 16 or size & (size - 1):
            raise ValueError(f"tiles {name} ({size}) must be a power of two >= 16")
    return LSTMPlan("tiled", hp, block_k, block_j, _TILED_WARPS)


def lstm_refusal(B: int, T: int, H: int, dtype: torch.dtype) -> str | None:
    """Why the Triton launcher cannot run this shape (the argument, its value and the rule), or None."""
    if dtype not in RESIDENT_MAX_HP:
        return f"dtype ({dtype}) must be torch.float32 or torch.float64 for the Triton LSTM"
    for name, size in (("batch size B", B), ("time steps T", T), ("hidden size H", H)):
        if size < 1:
            return f"{name} ({size}) must be >= 1 for the Triton LSTM"
    if H > MAX_HIDDEN:
        return (f"hidden size H ({H}) must be <= {MAX_HIDDEN} for the Triton LSTM (one program per 16 rows "
                "streams all of W_hh every step; cuDNN spreads larger layers over the chip)")
    if B * T * 4 * H >= 2**31:
        return f"B·T·4H ({B * T * 4 * H}) must be < 2^31 for the kernels' 32-bit offsets within one model"
    return None


def pick_lstm_kernels(kernels: Kernels, resolved: Literal["torch", "triton"],
                      refusal: str | None) -> Literal["torch", "triton"]:
    """Where `resolve` chose Triton but the launcher refuses the shape: ``"auto"`` runs ``nn.LSTM``'s own
    kernel (cuDNN), ``"triton"`` goes on to the launcher, which raises the refusal."""
    if resolved == "triton" and refusal is not None and kernels == "auto":
        return "torch"
    return resolved


class _LSTMStack(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh, plan):
        K, B, T, I = x.shape
        H = w_hh.shape[2]
        projected = torch.baddbmm((b_ih + b_hh).unsqueeze(1), x.reshape(K, B * T, I), w_ih.transpose(1, 2))
        projected = projected.view(K, B, T, 4 * H)  # (K, B, T, 4H): one batched GEMM for every step
        # (K, T, B, H) storage returned as a (K, B, T, H) view: for K = 1 exactly nn.LSTM's batch_first layout,
        # which matters beyond the values (dropout, for one, draws its mask in memory order).
        h = torch.empty(K, T, B, H, dtype=x.dtype, device=x.device)
        c = torch.empty_like(h)
        gates = torch.empty(K, B, T, 4 * H, dtype=x.dtype, device=x.device)
        whh = w_hh.contiguous()
        grid = (triton.cdiv(B, BLOCK_B), K)
        if plan.variant == "resident":
            _forward_resident_kernel[grid](projected, whh, h, c, gates, B, T, H, BLOCK_B=BLOCK_B, HP=plan.hp,
                                           PRECISION="ieee", num_warps=plan.num_warps)
        else:
            _forward_tiled_kernel[grid](projected, whh, h, c, gates, B, T, H, BLOCK_B=BLOCK_B,
                                        BLOCK_K=plan.block_k, BLOCK_J=plan.block_j, PRECISION="ieee",
                                        num_warps=plan.num_warps)
        ctx.plan = plan
        ctx.save_for_backward(x, w_ih, whh, h, c, gates)
        return h.transpose(1, 2), c[:, -1]

    @staticmethod
    def backward(ctx, grad_h, grad_c_last):
        x, w_ih, w_hh, h, c, gates = ctx.saved_tensors  # h, c: (K, T, B, H)
        K, T, B, H = h.shape
        plan = ctx.plan
        # The tiled kernel completes δh in place and carries δc in place: it gets its own copies.
        dense = torch.contiguous_format
        dh = torch.zeros_like(h) if grad_h is None else grad_h.transpose(1, 2).clone(memory_format=dense)
        dc = torch.zeros_like(h[:, 0]) if grad_c_last is None else grad_c_last.clone(memory_format=dense)
        da = torch.empty_like(gates)  # (K, B, T, 4H): ∂L/∂(pre-activations)
        grid = (triton.cdiv(B, BLOCK_B), K)
        if plan.variant == "resident":
            _backward_resident_kernel[grid](dh, dc, gates, c, w_hh, da, B, T, H, BLOCK_B=BLOCK_B, HP=plan.hp,
                                            PRECISION="ieee", num_warps=plan.num_warps)
        else:
            _backward_tiled_kernel[grid](dh, dc, gates, c, w_hh, da, B, T, H, BLOCK_B=BLOCK_B,
                                         BLOCK_K=plan.block_k, BLOCK_J=plan.block_j, PRECISION="ieee",
                                         num_warps=plan.num_warps)
        flat = da.view(K, B * T, 4 * H)
        h_prev = torch.cat([h.new_zeros(K, B, 1, H), h.transpose(1, 2)[:, :, :-1]], dim=2).reshape(K, B * T, H)
        d_bias = flat.sum(dim=1)  # (K, 4H)
        d_x = torch.bmm(flat, w_ih).view(K, B, T, -1)
        d_w_ih = torch.bmm(flat.transpose(1, 2), x.reshape(K, B * T, -1))
        # Two tensors, not one twice: each bias gradient may be adopted as that parameter's .grad and then
        # scaled in place (gradient clipping), which would scale a shared tensor twice.
        return d_x, d_w_ih, torch.bmm(flat.transpose(1, 2), h_prev), d_bias, d_bias.clone(), None


def lstm_stack(x: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor, b_ih: torch.Tensor, b_hh: torch.Tensor,
               variant: str = "auto", tiles: tuple[int, int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """K Triton LSTM layers from zero state in one launch: x (K, B, T, I), w_ih (K, 4H, I), w_hh (K, 4H, H),
    b_ih, b_hh (K, 4H) -> outputs (K, B, T, H) and last cell states (K, B, H).

    Raises `lstm_refusal`'s message as a ValueError before any compile; ``variant`` and ``tiles`` go to
    `plan_lstm`. `hpcast.kernels.fleet.lstm_fleet` is the checked, dispatching entry point.
    """
    _, B, T, _ = x.shape
    H = w_hh.shape[2]
    refusal = lstm_refusal(B, T, H, x.dtype)
    if refusal is not None:
        raise ValueError(refusal)
    plan = plan_lstm(H, x.dtype, variant, tiles)
    return _LSTMStack.apply(x.contiguous(), w_ih, w_hh, b_ih, b_hh, plan)


def lstm_layer(x: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor, b_ih: torch.Tensor, b_hh: torch.Tensor,
               variant: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    """Triton LSTM layer from zero state: outputs ``(B, T, H)`` and the last cell state ``(B, H)``; K = 1
    of `lstm_stack`."""
    if x.ndim != 3:
        raise ValueError(f"x must be (B, T, I), got shape {tuple(x.shape)}")
    H = w_hh.shape[1]
    if w_hh.shape != (4 * H, H) or w_ih.shape != (4 * H, x.shape[2]):
        raise ValueError(f"weights must be W_ih (4H, I) and W_hh (4H, H); got {tuple(w_ih.shape)} and "
                         f"{tuple(w_hh.shape)} for input size {x.shape[2]}")
    out, c_last = lstm_stack(x[None], w_ih[None], w_hh[None], b_ih[None], b_hh[None], variant)
    return out[0], c_last[0]


class FusedLSTM(nn.LSTM):
    """A one-layer, batch-first ``nn.LSTM`` whose forward runs the Triton kernels where `resolve` says so.

    Same parameters, initialisation and state dict as ``nn.LSTM(I, H, batch_first=True)``, so it drops in
    for any layer of `hpcast.models.lstm.LSTMNet` and checkpoints move freely between the two. With
    ``kernels="auto"`` a shape the launcher refuses (`lstm_refusal`) runs ``nn.LSTM``'s own kernel;
    ``"triton"`` raises the refusal.

    Example:
        >>> layer = FusedLSTM(1, 50, kernels="auto")
        >>> out, (h_n, c_n) = layer(torch.zeros(32, 100, 1))  # torch on CPU, Triton on a CUDA tensor
    """

    def __init__(self, input_size: int, hidden_size: int, kernels: Kernels = "auto") -> None:
        super().__init__(input_size, hidden_size, batch_first=True)
        self.kernels = kernels

    def forward(self, x: torch.Tensor, hx: tuple[torch.Tensor, torch.Tensor] | None = None):  # type: ignore[override]
        if hx is not None:
            return super().forward(x, hx)
        refusal = (lstm_refusal(x.shape[0], x.shape[1], self.hidden_size, x.dtype) if x.ndim == 3
                   else f"x must be (B, T, I), got shape {tuple(x.shape)}")
        if pick_lstm_kernels(self.kernels, resolve(self.kernels, x), refusal) == "torch":
            return super().forward(x, hx)
        out, c_last = lstm_layer(x, self.weight_ih_l0, self.weight_hh_l0, self.bias_ih_l0, self.bias_hh_l0)
        return out, (out[:, -1].unsqueeze(0), c_last.unsqueeze(0))  # (B, T, H), ((1, B, H), (1, B, H))
