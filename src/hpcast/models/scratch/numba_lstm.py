"""Numba-parallel CPU twin of the NumPy LSTM: samples of a minibatch spread over threads.

Work is cut into fixed chunks of ``chunk`` samples (not one chunk per thread). Each chunk accumulates its
samples' gradients into its own buffer, and the buffers are summed in chunk order afterwards. The order
of every floating-point addition is fixed by the batch alone, so results are identical for 1, 2 or 64
threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from hpcast.models.scratch.kernels import sample_loss_grad
from hpcast.models.scratch.params import Layout

__all__ = ["NumbaLSTM", "transposed"]

_core = njit(cache=True, nogil=True)(sample_loss_grad)

LOSS_KINDS = {"mse": 0, "ce": 1}


def transposed(theta: np.ndarray, layout: Layout) -> np.ndarray:
    """``theta`` with every ``W_ih``/``W_hh`` block stored transposed (k-major) at the same offsets."""
    out = theta.copy()
    for I, H, w_ih, w_hh, _, _ in layout.table:
        out[w_ih:w_ih + 4 * H * I] = theta[w_ih:w_ih + 4 * H * I].reshape(4 * H, I).T.ravel()
        out[w_hh:w_hh + 4 * H * H] = theta[w_hh:w_hh + 4 * H * H].reshape(4 * H, H).T.ravel()
    return out


@njit(parallel=True, cache=True)
def _batch(theta, thetaT, table, n_layers, head_w, head_b, n_out, X, Y, loss_kind, want_grad, chunk, Hm, Dm):
    B, T = X.shape[0], X.shape[1]
    n_chunks = (B + chunk - 1) // chunk
    grads = np.zeros((n_chunks, theta.size), dtype=theta.dtype)
    losses = np.zeros(n_chunks, dtype=np.float64)
    for c in prange(n_chunks):
        gates = np.empty((n_layers, T, 4 * Hm), dtype=theta.dtype)
        hs = np.empty((n_layers, T + 1, Hm), dtype=theta.dtype)
        cs = np.empty((n_layers, T + 1, Hm), dtype=theta.dtype)
        d_a = np.empty((T, Dm), dtype=theta.dtype)
        d_b = np.empty((T, Dm), dtype=theta.dtype)
        work = np.empty(6 * Hm + 2 * n_out + Dm, dtype=theta.dtype)
        for b in range(c * chunk, min(B, (c + 1) * chunk)):
            losses[c] += _core(theta, thetaT, table, n_layers, head_w, head_b, n_out, X, Y, b, loss_kind, B,
                               want_grad, gates, hs, cs, d_a, d_b, work, grads[c])
    loss = 0.0
    grad = np.zeros(theta.size, dtype=theta.dtype)
    for c in range(n_chunks):  # fixed order: the sum does not depend on the thread count
        loss += losses[c]
        if want_grad:
            grad += grads[c]
    return loss, grad


class NumbaLSTM:
    """``loss_and_grad`` / ``loss`` over a minibatch with Numba threads (``numba.set_num_threads`` to choose)."""

    def __init__(self, layout: Layout, chunk: int = 8) -> None:
        if chunk < 1:
            raise ValueError(f"chunk ({chunk}) must be >= 1")
        self.layout, self.chunk = layout, chunk
        self.Hm = max(layout.hidden)
        self.Dm = max(layout.input_size, self.Hm)

    def _run(self, theta: np.ndarray, X: np.ndarray, Y: np.ndarray, loss: str, want_grad: bool):
        if loss not in LOSS_KINDS:
            raise ValueError(f"loss ({loss!r}) must be 'mse' or 'ce'")
        X, Y = np.ascontiguousarray(X, dtype=theta.dtype), np.ascontiguousarray(Y, dtype=theta.dtype)
        lay = self.layout
        return _batch(theta, transposed(theta, lay), lay.table, lay.layers, lay.head[0], lay.head[1],
                      lay.output_size, X, Y, LOSS_KINDS[loss], want_grad, self.chunk, self.Hm, self.Dm)

    def loss_and_grad(self, theta: np.ndarray, X: np.ndarray, Y: np.ndarray,
                      loss: str = "mse") -> tuple[float, np.ndarray]:
        value, grad = self._run(theta, X, Y, loss, True)
        return float(value), grad

    def loss(self, theta: np.ndarray, X: np.ndarray, Y: np.ndarray, loss: str = "mse") -> float:
        return float(self._run(theta, X, Y, loss, False)[0])
