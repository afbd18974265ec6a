r"""One LSTM layer over a whole sequence: torch reference, persistent Triton kernels, autograd, module.

Forward: the input projection for every time step is one large matrix product up front,
``P = x W_ihᵀ + b_ih + b_hh``, shape (B, T, 4H). A persistent kernel then runs the recurrence. Each
program owns BLOCK_B batch rows, loads the four recurrent gate blocks of ``W_hh`` once, keeps them
on-chip for all T steps, and does per step

    a = P[:, t] + h W_hhᵀ;  i, f, o = σ(a_i, a_f, a_o);  g = tanh(a_g);  c = f c + i g;  h = o tanh(c)

storing h, c and the gate activations for the backward pass. h and c are stored (T, B, H) and returned as
a (B, T, H) view, the very layout ``nn.LSTM(batch_first=True)`` returns. Backward runs the recurrence in reverse
(δh_{t-1} = Σ_q δa_q W_q, again with W_hh on-chip); the weight gradients ``δaᵀ x``, ``δaᵀ h_{t-1}`` and
``δa W_ih`` are then large matrix products. Gate order i, f, g, o and the parameter names are those of
``torch.nn.LSTM``: `FusedLSTM` *is* an ``nn.LSTM`` (one layer, batch_first) and falls back to it on the
torch path.

Legend: B batch, T time steps, I input size, H hidden size, HP = H padded to a power of two (>= 16).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import nn

from hpcast.kernels.dispatch import Kernels, resolve

__all__ = ["FusedLSTM", "lstm_layer", "lstm_layer_reference"]


def lstm_layer_reference(x: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor, b_ih: torch.Tensor,
                         b_hh: torch.Tensor) -> torch.Tensor:
    """The torch reference: ``nn.LSTM``'s own kernel (cuDNN on GPU) with these weights; returns (B, T, H)."""
    out, _ = torch._VF.lstm(x, (x.new_zeros(1, x.shape[0], w_hh.shape[1]),) * 2, [w_ih, w_hh, b_ih, b_hh],
                            True, 1, 0.0, False, False, True)
    return out


@triton.jit
def _tanh(x):
    return 2.0 * tl.sigmoid(2.0 * x) - 1.0


@triton.jit
def _gate_block(w_ptr, q, H, hk, hj, TRANSPOSE: tl.constexpr):
    """Gate q's (HP, HP) block of W_hh (4H, H): W_q[j, k] = W_hh[q·H + j, k]; transposed if asked."""
    if TRANSPOSE:  # [k, j], for h W_qᵀ
        ptrs = w_ptr + (q * H + hj[None, :]) * H + hk[:, None]
        mask = (hk[:, None] < H) & (hj[None, :] < H)
    else:  # [j, k], for δa_q W_q
        ptrs = w_ptr + (q * H + hj[:, None]) * H + hk[None, :]
        mask = (hj[:, None] < H) & (hk[None, :] < H)
    return tl.load(ptrs, mask=mask, other=0.0)


@triton.jit
def _forward_kernel(p_ptr, whh_ptr, h_ptr, c_ptr, gates_ptr, B, T, H,
                    BLOCK_B: tl.constexpr, HP: tl.constexpr, PRECISION: tl.constexpr):
    rows = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)  # (BLOCK_B,)
    cols = tl.arange(0, HP)  # hidden units j (and k)
    mask = (rows[:, None] < B) & (cols[None, :] < H)  # (BLOCK_B, HP)
    w_i = _gate_block(whh_ptr, 0, H, cols, cols, True)  # (HP, HP), on-chip for the whole sequence
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
        tl.store(h_ptr + state, h, mask=mask)
        tl.store(c_ptr + state, c, mask=mask)
        g_row = gates_ptr + rows[:, None] * (T * 4 * H) + t * 4 * H + cols[None, :]
        tl.store(g_row, i, mask=mask)
        tl.store(g_row + H, f, mask=mask)
        tl.store(g_row + 2 * H, g, mask=mask)
        tl.store(g_row + 3 * H, o, mask=mask)


@triton.jit
def _backward_kernel(dh_ptr, dc_last_ptr, gates_ptr, c_ptr, whh_ptr, da_ptr, B, T, H,
                     BLOCK_B: tl.constexpr, HP: tl.constexpr, PRECISION: tl.constexpr):
    rows = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)
    cols = tl.arange(0, HP)
    mask = (rows[:, None] < B) & (cols[None, :] < H)
    w_i = _gate_block(whh_ptr, 0, H, cols, cols, False)  # (HP, HP), on-chip for the whole sequence
    w_f = _gate_block(whh_ptr, 1, H, cols, cols, False)
    w_g = _gate_block(whh_ptr, 2, H, cols, cols, False)
    w_o = _gate_block(whh_ptr, 3, H, cols, cols, False)
    dh_next = tl.zeros((BLOCK_B, HP), dh_ptr.dtype.element_ty)
    dc_next = tl.load(dc_last_ptr + rows[:, None] * H + cols[None, :], mask=mask, other=0.0)
    for s in range(T):
        t = T - 1 - s
        state = t * (B * H) + rows[:, None] * H + cols[None, :]  # (T, B, H) layout
        g_row = gates_ptr + rows[:, None] * (T * 4 * H) + t * 4 * H + cols[None, :]
        i = tl.load(g_row, mask=mask, other=0.0)
        f = tl.load(g_row + H, mask=mask, other=0.0)
        g = tl.load(g_row + 2 * H, mask=mask, other=0.0)
        o = tl.load(g_row + 3 * H, mask=mask, other=0.0)
        c = tl.load(c_ptr + state, mask=mask, other=0.0)
        has_prev = (cols[None, :] * 0 + t) > 0  # (1, HP): the state before t=0 is zero
        c_prev = tl.load(c_ptr + state - B * H, mask=mask & has_prev, other=0.0)
        dh = tl.load(dh_ptr + state, mask=mask, other=0.0) + dh_next
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
        dc_next = dc * f
        dh_next = (tl.dot(da_i, w_i, input_precision=PRECISION) + tl.dot(da_f, w_f, input_precision=PRECISION)
                   + tl.dot(da_g, w_g, input_precision=PRECISION) + tl.dot(da_o, w_o, input_precision=PRECISION))


def _launch_config(B: int, H: int) -> tuple[int, int]:
    HP = max(16, triton.next_power_of_2(H))
    return (16 if B <= 256 else 32), HP


class _LSTMLayer(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh):
        B, T, _ = x.shape
        H = w_hh.shape[1]
        projected = (x @ w_ih.T + (b_ih + b_hh)).contiguous()  # (B, T, 4H): one GEMM for every step
        # (T, B, H) storage returned as a (B, T, H) view: exactly nn.LSTM's batch_first layout, which matters
        # beyond the values (dropout, for one, draws its mask in memory order).
        h = torch.empty(T, B, H, dtype=x.dtype, device=x.device)
        c = torch.empty_like(h)
        gates = torch.empty(B, T, 4 * H, dtype=x.dtype, device=x.device)
        block_b, hp = _launch_config(B, H)
        _forward_kernel[(triton.cdiv(B, block_b),)](projected, w_hh.contiguous(), h, c, gates, B, T, H,
                                                    BLOCK_B=block_b, HP=hp, PRECISION="ieee")
        ctx.save_for_backward(x, w_ih, w_hh, h, c, gates)
        return h.transpose(0, 1), c[-1]

    @staticmethod
    def backward(ctx, grad_h, grad_c_last):
        x, w_ih, w_hh, h, c, gates = ctx.saved_tensors  # h, c: (T, B, H)
        T, B, H = h.shape
        grad_h = grad_h.transpose(0, 1).contiguous() if grad_h is not None else torch.zeros_like(h)  # (T, B, H)
        grad_c_last = grad_c_last.contiguous() if grad_c_last is not None else torch.zeros_like(h[0])
        da = torch.empty_like(gates)  # (B, T, 4H): ∂L/∂(pre-activations)
        block_b, hp = _launch_config(B, H)
        _backward_kernel[(triton.cdiv(B, block_b),)](grad_h, grad_c_last, gates, c, w_hh.contiguous(), da, B, T, H,
                                                     BLOCK_B=block_b, HP=hp, PRECISION="ieee")
        flat = da.reshape(B * T, 4 * H)
        h_prev = torch.cat([h.new_zeros(B, 1, H), h.transpose(0, 1)[:, :-1]], dim=1).reshape(B * T, H)
        d_bias = flat.sum(dim=0)
        return da @ w_ih, flat.T @ x.reshape(B * T, -1), flat.T @ h_prev, d_bias, d_bias


def lstm_layer(x: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor, b_ih: torch.Tensor,
               b_hh: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Triton LSTM layer from zero state: outputs ``(B, T, H)`` and the last cell state ``(B, H)``."""
    if x.ndim != 3:
        raise ValueError(f"x must be (B, T, I), got shape {tuple(x.shape)}")
    H = w_hh.shape[1]
    if w_hh.shape != (4 * H, H) or w_ih.shape != (4 * H, x.shape[2]):
        raise ValueError(f"weights must be W_ih (4H, I) and W_hh (4H, H); got {tuple(w_ih.shape)} and "
                         f"{tuple(w_hh.shape)} for input size {x.shape[2]}")
    if H > 256:
        raise ValueError(f"hidden size ({H}) must be <= 256 for the on-chip recurrent weights")
    return _LSTMLayer.apply(x.contiguous(), w_ih, w_hh, b_ih, b_hh)


class FusedLSTM(nn.LSTM):
    """A one-layer, batch-first ``nn.LSTM`` whose forward runs the Triton kernels where `resolve` says so.

    Same parameters, initialisation and state dict as ``nn.LSTM(I, H, batch_first=True)``, so it drops in
    for any layer of `hpcast.models.lstm.LSTMNet` and checkpoints move freely between the two.

    Example:
        >>> layer = FusedLSTM(1, 50, kernels="auto")
        >>> out, (h_n, c_n) = layer(torch.zeros(32, 100, 1))  # torch on CPU, Triton on a CUDA tensor
    """

    def __init__(self, input_size: int, hidden_size: int, kernels: Kernels = "auto") -> None:
        super().__init__(input_size, hidden_size, batch_first=True)
        self.kernels = kernels

    def forward(self, x: torch.Tensor, hx: tuple[torch.Tensor, torch.Tensor] | None = None):  # type: ignore[override]
        if hx is not None or resolve(self.kernels, x) == "torch":
            return super().forward(x, hx)
        out, c_last = lstm_layer(x, self.weight_ih_l0, self.weight_hh_l0, self.bias_ih_l0, self.bias_hh_l0)
        return out, (out[:, -1].unsqueeze(0), c_last.unsqueeze(0))  # (B, T, H), ((1, B, H), (1, B, H))
