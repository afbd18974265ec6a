r"""K models at once: K one-layer LSTMs in one launch, and Adam over their stacked parameters.

Training many small models (one per asset, or one per trial of a search) one after another leaves a GPU
mostly idle: a batch of 32 rows fills 2 of its 132 SMs. Stacking the K models' weights along a leading
axis and running them as one launch fills the chip (see `hpcast.kernels.lstm` for the grid and the
budget per shape). This module is the facade: it validates, picks the implementation with
`hpcast.kernels.dispatch.resolve`, and keeps the torch paths; the Triton kernels are imported only when
they run, so the torch paths work where Triton is not installed.

Adam follows ``torch.optim.Adam`` (no weight decay, no AMSGrad) per model:

    m = β₁ m + (1 − β₁) g;  v = β₂ v + (1 − β₂) g²;  p = p − lr / (1 − β₁ˢ) · m / (√v / √(1 − β₂ˢ) + ε)

with s the model's own 1-based step count, lr and β₁ per model (a one-cycle schedule moves both).

Legend: K models, B batch, T time steps, I input size, H hidden size, N elements of one model's tensor.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch

from hpcast.kernels.dispatch import Kernels, resolve

__all__ = ["adam_fleet_", "lstm_fleet"]

_FLOATS = (torch.float32, torch.float64)


def _check_fleet(x: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor, b_ih: torch.Tensor,
                 b_hh: torch.Tensor) -> None:
    if x.ndim != 4:
        raise ValueError(f"x must be (K, B, T, I), got shape {tuple(x.shape)}")
    K, _, _, I = x.shape
    H = w_hh.shape[-1]
    expected = {"w_ih": (K, 4 * H, I), "w_hh": (K, 4 * H, H), "b_ih": (K, 4 * H), "b_hh": (K, 4 * H)}
    for name, tensor in zip(expected, (w_ih, w_hh, b_ih, b_hh), strict=True):
        if tuple(tensor.shape) != expected[name]:
            raise ValueError(f"{name} must be {expected[name]} for x {tuple(x.shape)} and hidden size {H}, "
                             f"got {tuple(tensor.shape)}")
        if tensor.dtype != x.dtype:
            raise ValueError(f"{name} dtype ({tensor.dtype}) must match x's ({x.dtype})")


def lstm_fleet(x: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor, b_ih: torch.Tensor, b_hh: torch.Tensor,
               kernels: Kernels = "auto", variant: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    """K one-layer LSTMs from zero state, each with its own weights and inputs.

    Gate order i, f, g, o and the weight layout are those of ``torch.nn.LSTM`` (``weight_ih_l0`` etc.),
    so model k computes exactly ``nn.LSTM(I, H, batch_first=True)`` with ``w_ih[k]``, ... on ``x[k]``.

    Args:
        x: inputs (K, B, T, I).
        w_ih: input weights (K, 4H, I).
        w_hh: recurrent weights (K, 4H, H).
        b_ih: input biases (K, 4H).
        b_hh: recurrent biases (K, 4H).
        kernels: resolved by `hpcast.kernels.dispatch.resolve` on ``x``: ``triton`` runs all K models in
            one launch (forward, and one for backward); ``torch`` runs them one after another through
            ``nn.LSTM``'s own kernel (oneDNN on CPU, cuDNN on GPU). Under ``"auto"`` a shape the Triton
            launcher refuses (see `hpcast.kernels.lstm.lstm_refusal`) runs on torch; ``"triton"`` raises.
        variant: the Triton variant, ``"auto"``, ``"resident"`` or ``"tiled"`` (see `hpcast.kernels.lstm`).

    Returns:
        out (K, B, T, H), the hidden states of every step, and c_last (K, B, H), the last cell states;
        differentiable w.r.t. x and all weights.

    Example:
        >>> K, B, T, I, H = 3, 5, 7, 2, 6
        >>> x = torch.randn(K, B, T, I)
        >>> w_ih, w_hh, b = torch.randn(K, 4 * H, I), torch.randn(K, 4 * H, H), torch.zeros(K, 4 * H)
        >>> out, c_last = lstm_fleet(x, w_ih, w_hh, b, b, kernels="torch")
        >>> out.shape, c_last.shape
        (torch.Size([3, 5, 7, 6]), torch.Size([3, 5, 6]))
    """
    _check_fleet(x, w_ih, w_hh, b_ih, b_hh)
    if resolve(kernels, x) == "triton":
        from hpcast.kernels.lstm import lstm_refusal, lstm_stack, pick_lstm_kernels

        _, B, T, _ = x.shape
        if pick_lstm_kernels(kernels, "triton", lstm_refusal(B, T, w_hh.shape[-1], x.dtype)) == "triton":
            return lstm_stack(x, w_ih, w_hh, b_ih, b_hh, variant=variant)
    outs, cells = [], []
    for k in range(x.shape[0]):
        zeros = x.new_zeros(1, x.shape[1], w_hh.shape[-1])  # (1, B, H)
        out, _, c_n = torch._VF.lstm(x[k], (zeros, zeros), [w_ih[k], w_hh[k], b_ih[k], b_hh[k]],
                                     True, 1, 0.0, False, False, True)  # (B, T, H), (1, B, H)
        outs.append(out.transpose(0, 1))  # (T, B, H): nn.LSTM's own storage order
        cells.append(c_n[0])
    # (K, T, B, H) storage seen as (K, B, T, H), like the Triton path, so dropout draws the same masks on both
    return torch.stack(outs).transpose(1, 2), torch.stack(cells)  # (K, B, T, H), (K, B, H)


def _check_adam(params: Sequence[torch.Tensor], grads: Sequence[torch.Tensor], exp_avgs: Sequence[torch.Tensor],
                exp_avg_sqs: Sequence[torch.Tensor], per_model: dict[str, torch.Tensor]) -> int:
    if not params:
        raise ValueError("params must hold at least one tensor, got none")
    lists = {"grads": grads, "exp_avgs": exp_avgs, "exp_avg_sqs": exp_avg_sqs}
    for name, tensors in lists.items():
        if len(tensors) != len(params):
            raise ValueError(f"{name} must hold one tensor per parameter ({len(params)}), got {len(tensors)}")
    K = params[0].shape[0] if params[0].ndim else 0
    for index, p in enumerate(params):
        if p.ndim == 0 or p.shape[0] != K:
            raise ValueError(f"params[{index}] must have the leading model axis K={K}, got shape {tuple(p.shape)}")
        if p.dtype not in _FLOATS:
            raise ValueError(f"params[{index}] dtype ({p.dtype}) must be float32 or float64")
        for name, tensors in lists.items():
            if tensors[index].shape != p.shape or tensors[index].dtype != p.dtype:
                raise ValueError(f"{name}[{index}] must match params[{index}] {tuple(p.shape)} {p.dtype}, got "
                                 f"{tuple(tensors[index].shape)} {tensors[index].dtype}")
    for name, tensor in per_model.items():
        if tuple(tensor.shape) != (K,):
            raise ValueError(f"{name} must be a (K,) = ({K},) tensor, got shape {tuple(tensor.shape)}")
    if per_model["active"].dtype != torch.bool:
        raise ValueError(f"active dtype ({per_model['active'].dtype}) must be torch.bool")
    return K


def _adam_coefficients(lr: torch.Tensor, beta1: torch.Tensor, steps: torch.Tensor, beta2: float,
                       dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-model β₁, step size lr / (1 − β₁ˢ) and √(1 − β₂ˢ), in ``dtype``: (K,) each.

    A step below 1 (an inactive model the caller has not started) is clamped to 1 so that no division
    by zero appears in values that are then discarded.
    """
    beta1 = beta1.to(dtype)
    s = steps.to(dtype).clamp(min=1.0)
    step_size = lr.to(dtype) / (1.0 - beta1**s)
    bias_correction2_sqrt = (1.0 - torch.full_like(s, beta2) ** s).sqrt()
    return beta1, step_size, bias_correction2_sqrt


@torch.no_grad()
def adam_fleet_(params: Sequence[torch.Tensor], grads: Sequence[torch.Tensor], exp_avgs: Sequence[torch.Tensor],
                exp_avg_sqs: Sequence[torch.Tensor], *, lr: torch.Tensor, beta1: torch.Tensor, beta2: float,
                eps: float, steps: torch.Tensor, active: torch.Tensor, kernels: Kernels = "auto") -> None:
    """In-place Adam (no weight decay, ``torch.optim.Adam``'s formula) on stacked parameters.

    Args:
        params: parameters, each with the leading model axis: (K, ...).
        grads, exp_avgs, exp_avg_sqs: one tensor per parameter, of its shape and dtype; the moments are
            updated in place.
        lr, beta1: (K,) per-model learning rate and first-moment decay.
        beta2, eps: shared second-moment decay and denominator guard.
        steps: (K,) the 1-based step number of this update per model, for the bias correction; the
            caller keeps it (and does not advance it for an inactive model).
        active: (K,) bool; a model with active False is left untouched (parameters and moments).
        kernels: resolved by `hpcast.kernels.dispatch.resolve` on ``params[0]``. ``triton`` launches one
            fused kernel per parameter tensor, each over all K models (grid (N blocks, K)); the tensors are
            separate allocations (each a leaf with its own gradient), and gathering them into one buffer
            would copy every parameter, gradient and both moments in and back out, twice the memory traffic
            of the update itself. A caller that keeps its parameters as views of one (K, N) buffer passes
            that buffer and gets one launch. ``torch`` runs vectorised torch ops per tensor.

    Example:
        >>> p, g = [torch.ones(2, 3)], [torch.ones(2, 3)]
        >>> m, v = [torch.zeros(2, 3)], [torch.zeros(2, 3)]
        >>> adam_fleet_(p, g, m, v, lr=torch.tensor([0.1, 0.2]), beta1=torch.tensor([0.9, 0.9]), beta2=0.999,
        ...             eps=1e-8, steps=torch.tensor([1, 1]), active=torch.tensor([True, False]), kernels="torch")
        >>> p[0][:, 0]
        tensor([0.9000, 1.0000])
    """
    K = _check_adam(params, grads, exp_avgs, exp_avg_sqs, {"lr": lr, "beta1": beta1, "steps": steps,
                                                            "active": active})
    coefficients = {dtype: _adam_coefficients(lr, beta1, steps, beta2, dtype) for dtype in {p.dtype for p in params}}
    if resolve(kernels, params[0]) == "triton":
        for p, g, m, v in zip(params, grads, exp_avgs, exp_avg_sqs, strict=True):
            _adam_triton_(p, g, m, v, *coefficients[p.dtype], active, beta2=beta2, eps=eps)
        return
    for p, g, m, v in zip(params, grads, exp_avgs, exp_avg_sqs, strict=True):
        b1, step_size, bias_correction2_sqrt = (c.view(K, *(1,) * (p.ndim - 1)) for c in coefficients[p.dtype])
        keep = active.view(K, *(1,) * (p.ndim - 1))  # (K, 1, ...)
        new_m = b1 * m + (1.0 - b1) * g
        new_v = beta2 * v + (1.0 - beta2) * g * g
        new_p = p - step_size * new_m / (new_v.sqrt() / bias_correction2_sqrt + eps)
        m.copy_(torch.where(keep, new_m, m))
        v.copy_(torch.where(keep, new_v, v))
        p.copy_(torch.where(keep, new_p, p))


@functools.cache
def _adam_kernel():
    """The Triton Adam kernel, built on first use so that importing this module needs no Triton.

    Program (n, k) updates elements [n·BLOCK, (n+1)·BLOCK) of model k's (N,) slice; an inactive model's
    programs mask every load and store off, so its memory is not touched at all.
    """
    import triton
    import triton.language as tl

    @triton.jit
    def adam_kernel(p_ptr, g_ptr, m_ptr, v_ptr, coefficients_ptr, scalars_ptr, N, BLOCK: tl.constexpr):
        k = tl.program_id(1)
        beta1 = tl.load(coefficients_ptr + 4 * k)
        step_size = tl.load(coefficients_ptr + 4 * k + 1)
        bias_correction2_sqrt = tl.load(coefficients_ptr + 4 * k + 2)
        live = tl.where(tl.load(coefficients_ptr + 4 * k + 3) != 0.0, N, 0)  # elements to update: N, or 0
        beta2 = tl.load(scalars_ptr)
        eps = tl.load(scalars_ptr + 1)
        offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)  # (BLOCK,)
        mask = offsets < live
        at = k.to(tl.int64) * N + offsets
        g = tl.load(g_ptr + at, mask=mask, other=0.0)
        m = beta1 * tl.load(m_ptr + at, mask=mask, other=0.0) + (1.0 - beta1) * g
        v = beta2 * tl.load(v_ptr + at, mask=mask, other=0.0) + (1.0 - beta2) * g * g
        p = tl.load(p_ptr + at, mask=mask, other=0.0) - step_size * m / (tl.sqrt(v) / bias_correction2_sqrt + eps)
        tl.store(m_ptr + at, m, mask=mask)
        tl.store(v_ptr + at, v, mask=mask)
        tl.store(p_ptr + at, p, mask=mask)

    return adam_kernel


def _adam_triton_(p: torch.Tensor, g: torch.Tensor, m: torch.Tensor, v: torch.Tensor, beta1: torch.Tensor,
                  step_size: torch.Tensor, bias_correction2_sqrt: torch.Tensor, active: torch.Tensor, *,
                  beta2: float, eps: float) -> None:
    """One launch over all K models of one stacked tensor; the scalars travel as tensors of the parameter's
    dtype because Triton passes Python floats as float32, which would cost a float64 update its precision."""
    import triton

    for name, tensor in (("param", p), ("grad", g), ("exp_avg", m), ("exp_avg_sq", v)):
        if not tensor.is_contiguous():
            raise ValueError(f"{name} of shape {tuple(tensor.shape)} must be contiguous for the Triton update "
                             "(a copy would lose the in-place result)")
    K = p.shape[0]
    N = p[0].numel()
    coefficients = torch.stack([beta1, step_size, bias_correction2_sqrt, active.to(p.dtype)], 1)  # (K, 4)
    scalars = torch.tensor([beta2, eps], dtype=p.dtype, device=p.device)
    block = min(1024, max(16, triton.next_power_of_2(N)))
    _adam_kernel()[(triton.cdiv(N, block), K)](p, g, m, v, coefficients, scalars, N, BLOCK=block)
