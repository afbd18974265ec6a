r"""From-scratch LSTM in NumPy: forward over a sequence and backpropagation through time (BPTT).

Forward, for each layer (input x_t, previous state h_{t-1}, c_{t-1}; gate order i, f, g, o):

    a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh                      (4H pre-activations)
    i_t = σ(a^i_t)   f_t = σ(a^f_t)   g_t = tanh(a^g_t)   o_t = σ(a^o_t)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t                     h_t = o_t ⊙ tanh(c_t)

the next layer reads h_1..h_T, and the head maps the top layer's h_T to y = W_out h_T + b_out.
Losses: MSE = mean over (B, O) of (y - target)²; cross-entropy = mean over B of -log softmax(y)[class]
(targets one-hot).

Backward, from t = T down to 1, with δh_t = ∂L/∂h_t from above plus the carry δh_next:

    δo = δh ⊙ tanh(c_t)            δc = δh ⊙ o_t ⊙ (1 - tanh²(c_t)) + δc_next
    δi = δc ⊙ g_t   δg = δc ⊙ i_t   δf = δc ⊙ c_{t-1}            δc_next = δc ⊙ f_t
    δa = [δi·i(1-i), δf·f(1-f), δg·(1-g²), δo·o(1-o)]
    ∂W_ih += δaᵀ x_t   ∂W_hh += δaᵀ h_{t-1}   ∂b_ih = ∂b_hh += Σ_B δa
    δx_t = δa W_ih     δh_next = δa W_hh

Legend: B batch, T time steps, F input features, H hidden size, O outputs, P parameters.
Works in the dtype of ``theta`` (float64 or float32).
"""

from __future__ import annotations

import numpy as np

from hpcast.models.scratch.params import Layout

__all__ = ["loss_and_grad", "loss_and_grad_per_sample", "output_grad", "predict"]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _forward(theta: np.ndarray, layout: Layout, X: np.ndarray) -> tuple[np.ndarray, list[dict[str, np.ndarray]]]:
    layers, w_out, b_out = layout.views(theta)
    B, T, _ = X.shape
    caches, inputs = [], X
    for w_ih, w_hh, b_ih, b_hh in layers:
        H = w_hh.shape[1]
        h = np.zeros((B, T + 1, H), dtype=theta.dtype)  # h[:, 0] is the initial state
        c = np.zeros((B, T + 1, H), dtype=theta.dtype)
        gates = np.empty((B, T, 4 * H), dtype=theta.dtype)
        projected = inputs @ w_ih.T + (b_ih + b_hh)  # (B, T, 4H): every step's input projection at once
        for t in range(T):
            a = projected[:, t] + h[:, t] @ w_hh.T  # (B, 4H)
            gates[:, t, :2 * H] = _sigmoid(a[:, :2 * H])  # i, f
            gates[:, t, 2 * H:3 * H] = np.tanh(a[:, 2 * H:3 * H])  # g
            gates[:, t, 3 * H:] = _sigmoid(a[:, 3 * H:])  # o
            i, f, g, o = (gates[:, t, k * H:(k + 1) * H] for k in range(4))
            c[:, t + 1] = f * c[:, t] + i * g
            h[:, t + 1] = o * np.tanh(c[:, t + 1])
        caches.append({"inputs": inputs, "h": h, "c": c, "gates": gates})
        inputs = h[:, 1:]  # (B, T, H)
    return inputs[:, -1] @ w_out.T + b_out, caches  # (B, O)


def predict(theta: np.ndarray, layout: Layout, X: np.ndarray) -> np.ndarray:
    """Head outputs ``(B, O)`` for windows ``X (B, T, F)``."""
    return _forward(theta, layout, X)[0]


def output_grad(y: np.ndarray, Y: np.ndarray, loss: str) -> tuple[float, np.ndarray]:
    """Loss value and ∂L/∂y for outputs ``y (B, O)`` against targets ``Y (B, O)``."""
    B = y.shape[0]
    if loss == "mse":
        diff = y - Y
        return float(np.mean(diff * diff)), 2.0 * diff / diff.size
    if loss == "ce":
        shifted = y - y.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return float(-(Y * log_p).sum() / B), (np.exp(log_p) - Y) / B
    raise ValueError(f"loss ({loss!r}) must be 'mse' or 'ce'")


def loss_and_grad(theta: np.ndarray, layout: Layout, X: np.ndarray, Y: np.ndarray,
                  loss: str = "mse") -> tuple[float, np.ndarray]:
    """Mean loss over the batch and its gradient ``(P,)`` with respect to ``theta``."""
    y, caches = _forward(theta, layout, X)
    value, dy = output_grad(y, Y, loss)  # (B, O)
    grad = np.zeros_like(theta)
    layers, w_out, _ = layout.views(theta)
    glayers, gw_out, gb_out = layout.views(grad)
    top = caches[-1]["h"][:, -1]  # (B, H_last)
    gw_out += dy.T @ top
    gb_out += dy.sum(axis=0)
    B, T = X.shape[:2]
    d_above = np.zeros_like(caches[-1]["h"][:, 1:])  # ∂L/∂h_t from above, (B, T, H)
    d_above[:, -1] = dy @ w_out
    for (w_ih, w_hh, _, _), (gw_ih, gw_hh, gb_ih, gb_hh), cache in zip(
            reversed(layers), reversed(glayers), reversed(caches), strict=True):
        H = w_hh.shape[1]
        h, c, gates, inputs = cache["h"], cache["c"], cache["gates"], cache["inputs"]
        da = np.empty((B, T, 4 * H), dtype=theta.dtype)
        dh_next = np.zeros((B, H), dtype=theta.dtype)
        dc_next = np.zeros((B, H), dtype=theta.dtype)
        for t in range(T - 1, -1, -1):
            i, f, g, o = (gates[:, t, k * H:(k + 1) * H] for k in range(4))
            dh = d_above[:, t] + dh_next
            tanh_c = np.tanh(c[:, t + 1])
            dc = dh * o * (1 - tanh_c * tanh_c) + dc_next
            da[:, t, :H] = dc * g * i * (1 - i)
            da[:, t, H:2 * H] = dc * c[:, t] * f * (1 - f)
            da[:, t, 2 * H:3 * H] = dc * i * (1 - g * g)
            da[:, t, 3 * H:] = dh * tanh_c * o * (1 - o)
            dc_next = dc * f
            dh_next = da[:, t] @ w_hh  # (B, H)
        flat_da = da.reshape(B * T, 4 * H)
        gw_ih += flat_da.T @ inputs.reshape(B * T, -1)
        gw_hh += flat_da.T @ h[:, :-1].reshape(B * T, H)
        gb_ih += flat_da.sum(axis=0)
        gb_hh += flat_da.sum(axis=0)
        d_above = da @ w_ih  # (B, T, I): ∂L/∂inputs, the layer below's ∂L/∂h
    return value, grad


def loss_and_grad_per_sample(theta: np.ndarray, layout: Layout, X: np.ndarray, Y: np.ndarray,
                             loss: str = "mse") -> tuple[float, np.ndarray]:
    """The same mean loss and gradient, one sample at a time (the original study's sequential version)."""
    total, grad = 0.0, np.zeros_like(theta)
    for b in range(X.shape[0]):
        value, g = loss_and_grad(theta, layout, X[b:b + 1], Y[b:b + 1], loss)
        total += value
        grad += g
    return total / X.shape[0], grad / X.shape[0]
