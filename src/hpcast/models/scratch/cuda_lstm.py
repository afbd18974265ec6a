"""Numba CUDA version: one GPU thread per sample (as the seed study's fastest version), the same per-sample
core as the CPU twin (`kernels.sample_loss_grad`, compiled as a device function).

Each thread writes its sample's gradient to its own row; the host sums the rows in sample order, so the
result does not depend on scheduling. Runs on a CUDA GPU, or on the CPU under ``NUMBA_ENABLE_CUDASIM=1``
(slow: keep problems tiny).
"""

from __future__ import annotations

import numpy as np
from numba import cuda

from hpcast.models.scratch.kernels import sample_loss_grad, scratch_shapes
from hpcast.models.scratch.numba_lstm import LOSS_KINDS, CompiledLSTM, transposed
from hpcast.models.scratch.params import Layout

__all__ = ["CudaLSTM"]

_THREADS = 64
_core = cuda.jit(device=True)(sample_loss_grad)  # lazy: compiled at the first launch, no device query here


@cuda.jit
def _kernel(theta, thetaT, table, n_layers, head_w, head_b, n_out, X, Y, loss_kind, want_grad,
            gates, hs, cs, d_a, work, grads, losses):
    b = cuda.grid(1)
    if b < X.shape[0]:
        for p in range(grads.shape[1]):
            grads[b, p] = 0.0
        losses[b] = _core(theta, thetaT, table, n_layers, head_w, head_b, n_out, X, Y, b, loss_kind,
                          X.shape[0], want_grad, gates[b], hs[b], cs[b], d_a[b], work[b], grads[b])


class CudaLSTM(CompiledLSTM):
    """``loss_and_grad`` / ``loss`` with one CUDA thread per sample."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    def _run(self, theta: np.ndarray, X: np.ndarray, Y: np.ndarray, loss: str, want_grad: bool):
        if loss not in LOSS_KINDS:
            raise ValueError(f"loss ({loss!r}) must be 'mse' or 'ce'")
        lay, dtype = self.layout, theta.dtype
        B, T, F = X.shape
        shapes = scratch_shapes(lay.layers, T, F, max(lay.hidden), lay.output_size)
        scratch = [cuda.device_array((B, *shape), dtype=dtype) for shape in shapes.values()]
        grads = cuda.device_array((B, theta.size), dtype=dtype)
        losses = cuda.device_array(B, dtype=np.float64)
        to_device = cuda.to_device
        _kernel[(B + _THREADS - 1) // _THREADS, _THREADS](
            to_device(theta), to_device(transposed(theta, lay)), to_device(lay.table), lay.layers, lay.head[0],
            lay.head[1], lay.output_size, to_device(np.ascontiguousarray(X, dtype=dtype)),
            to_device(np.ascontiguousarray(Y, dtype=dtype)), LOSS_KINDS[loss], want_grad, *scratch, grads, losses)
        per_sample_loss = losses.copy_to_host()
        value = 0.0
        for b in range(B):  # fixed order, as on the CPU
            value += per_sample_loss[b]
        if not want_grad:
            return value, None
        rows = grads.copy_to_host()
        grad = np.zeros(theta.size, dtype=dtype)
        for b in range(B):
            grad += rows[b]
        return value, grad
