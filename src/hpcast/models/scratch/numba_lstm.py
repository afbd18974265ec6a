"""Numba-parallel CPU twin of the NumPy LSTM: samples of a minibatch spread over threads.

Work is cut into fixed chunks of ``chunk`` samples (not one chunk per thread). Each chunk accumulates its
samples' gradients into its own buffer, and the buffers are summed in chunk order afterwards. The order
of every floating-point addition is fixed by the batch alone, so results are identical for 1, 2 or 64
threads.
"""

from __future__ import annotations

import numpy as np

from hpcast.models.scratch.kernels import batch_loss_grad
from hpcast.models.scratch.params import Layout

__all__ = ["CompiledLSTM", "NumbaLSTM", "transposed"]

LOSS_KINDS = {"mse": 0, "ce": 1}


def transposed(theta: np.ndarray, layout: Layout) -> np.ndarray:
    """``theta`` with every ``W_ih``/``W_hh`` block stored transposed (k-major) at the same offsets."""
    out = theta.copy()
    for I, H, w_ih, w_hh, _, _ in layout.table:
        out[w_ih:w_ih + 4 * H * I] = theta[w_ih:w_ih + 4 * H * I].reshape(4 * H, I).T.ravel()
        out[w_hh:w_hh + 4 * H * H] = theta[w_hh:w_hh + 4 * H * H].reshape(4 * H, H).T.ravel()
    return out


class CompiledLSTM:
    """The interface both compiled twins share; subclasses implement ``_run(theta, X, Y, loss, want_grad)``."""

    def _run(self, theta: np.ndarray, X: np.ndarray, Y: np.ndarray, loss: str,
             want_grad: bool) -> tuple[float, np.ndarray | None]:
        raise NotImplementedError

    def loss_and_grad(self, theta: np.ndarray, X: np.ndarray, Y: np.ndarray,
                      loss: str = "mse") -> tuple[float, np.ndarray]:
        value, grad = self._run(theta, X, Y, loss, True)
        assert grad is not None
        return float(value), grad

    def loss(self, theta: np.ndarray, X: np.ndarray, Y: np.ndarray, loss: str = "mse") -> float:
        """The loss alone (forward pass only): what validation needs."""
        return float(self._run(theta, X, Y, loss, False)[0])


class NumbaLSTM(CompiledLSTM):
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
        return batch_loss_grad(theta, transposed(theta, lay), lay.table, lay.layers, lay.head[0], lay.head[1],
                               lay.output_size, X, Y, LOSS_KINDS[loss], want_grad, self.chunk, self.Hm, self.Dm)
