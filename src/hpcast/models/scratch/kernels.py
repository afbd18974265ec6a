"""The per-sample LSTM forward + BPTT as plain loops, compiled twice: by ``numba.njit`` for the parallel CPU
version and by ``numba.cuda.jit(device=True)`` for the CUDA version. One source means the two compiled
twins cannot drift apart; the NumPy version (`numpy_lstm`) is the independent check on both.

Every inner loop is an axpy over a contiguous row (``a[j] += W[k, j] * x[k]`` with ``j`` innermost), so
LLVM vectorises it without reassociating sums (no fastmath): results are IEEE-exact for a given order.
The forward pass reads transposed weights ``thetaT`` (``W_ih``/``W_hh`` stored k-major at the same
offsets); the backward pass reads ``theta`` (row-major).

Scratch (per sample): gates (L, T, 4Hm), hs and cs (L, T+1, Hm), d_a and d_b (T, Dm), work (6Hm + 2O + Dm),
with Hm the largest hidden size and Dm = max(F, Hm); `scratch_shapes` gives them. Gradients are *added*
to ``grad``; with ``want_grad`` false only the loss is computed (validation).
"""

from __future__ import annotations

import math

__all__ = ["sample_loss_grad", "scratch_shapes"]


def scratch_shapes(n_layers: int, T: int, F: int, Hm: int, n_out: int) -> dict[str, tuple[int, ...]]:
    Dm = max(F, Hm)
    return {"gates": (n_layers, T, 4 * Hm), "hs": (n_layers, T + 1, Hm), "cs": (n_layers, T + 1, Hm),
            "d_a": (T, Dm), "d_b": (T, Dm), "work": (6 * Hm + 2 * n_out + Dm,)}


def sample_loss_grad(theta, thetaT, table, n_layers, head_w, head_b, n_out, X, Y, b, loss_kind, n_batch,
                     want_grad, gates, hs, cs, d_a, d_b, work, grad):
    T = X.shape[1]
    Hm = gates.shape[2] // 4
    da = 0  # work layout: da (4Hm) | dh_next (Hm) | dc_next (Hm) | y (O) | dy (O) | inp (Dm)
    dh_next = 4 * Hm
    dc_next = 5 * Hm
    y = 6 * Hm
    dy = y + n_out
    inp = dy + n_out
    # ---- forward through every layer ----
    for l in range(n_layers):
        I = table[l, 0]
        H = table[l, 1]
        w_ih = table[l, 2]
        w_hh = table[l, 3]
        b_ih = table[l, 4]
        b_hh = table[l, 5]
        G = 4 * H
        for k in range(H):
            hs[l, 0, k] = 0.0
            cs[l, 0, k] = 0.0
        for t in range(T):
            for k in range(I):
                work[inp + k] = X[b, t, k] if l == 0 else hs[l - 1, t + 1, k]
            for j in range(G):
                gates[l, t, j] = theta[b_ih + j] + theta[b_hh + j]
            for k in range(I):
                xk = work[inp + k]
                row = w_ih + k * G
                for j in range(G):
                    gates[l, t, j] += thetaT[row + j] * xk
            for k in range(H):
                hk = hs[l, t, k]
                row = w_hh + k * G
                for j in range(G):
                    gates[l, t, j] += thetaT[row + j] * hk
            for j in range(2 * H):  # i, f
                gates[l, t, j] = 1.0 / (1.0 + math.exp(-gates[l, t, j]))
            for j in range(2 * H, 3 * H):  # g
                gates[l, t, j] = math.tanh(gates[l, t, j])
            for j in range(3 * H, G):  # o
                gates[l, t, j] = 1.0 / (1.0 + math.exp(-gates[l, t, j]))
            for k in range(H):
                c = gates[l, t, H + k] * cs[l, t, k] + gates[l, t, k] * gates[l, t, 2 * H + k]
                cs[l, t + 1, k] = c
                hs[l, t + 1, k] = gates[l, t, 3 * H + k] * math.tanh(c)
    # ---- head and loss: y = W_out h_T + b_out ----
    top = n_layers - 1
    H = table[top, 1]
    for o in range(n_out):
        acc = theta[head_b + o]
        for k in range(H):
            acc += theta[head_w + o * H + k] * hs[top, T, k]
        work[y + o] = acc
    loss = 0.0
    if loss_kind == 0:  # MSE over (B, O)
        for o in range(n_out):
            diff = work[y + o] - Y[b, o]
            loss += diff * diff / (n_batch * n_out)
            work[dy + o] = 2.0 * diff / (n_batch * n_out)
    else:  # cross-entropy with one-hot targets, mean over B
        peak = work[y]
        for o in range(1, n_out):
            peak = max(peak, work[y + o])
        total = 0.0
        for o in range(n_out):
            total += math.exp(work[y + o] - peak)
        log_total = math.log(total)
        for o in range(n_out):
            log_p = work[y + o] - peak - log_total
            loss -= Y[b, o] * log_p / n_batch
            work[dy + o] = (math.exp(log_p) - Y[b, o]) / n_batch
    if not want_grad:
        return loss
    for o in range(n_out):
        grad[head_b + o] += work[dy + o]
        for k in range(H):
            grad[head_w + o * H + k] += work[dy + o] * hs[top, T, k]
    for t in range(T):
        for k in range(H):
            d_a[t, k] = 0.0
    for o in range(n_out):
        for k in range(H):
            d_a[T - 1, k] += theta[head_w + o * H + k] * work[dy + o]
    # ---- backward through time, top layer first: d_a holds ∂L/∂h from above, d_b gathers ∂L/∂inputs ----
    for l in range(n_layers - 1, -1, -1):
        I = table[l, 0]
        H = table[l, 1]
        w_ih = table[l, 2]
        w_hh = table[l, 3]
        b_ih = table[l, 4]
        b_hh = table[l, 5]
        G = 4 * H
        for k in range(H):
            work[dh_next + k] = 0.0
            work[dc_next + k] = 0.0
        for t in range(T):
            for k in range(I):
                d_b[t, k] = 0.0
        for t in range(T - 1, -1, -1):
            for k in range(I):
                work[inp + k] = X[b, t, k] if l == 0 else hs[l - 1, t + 1, k]
            for k in range(H):
                i = gates[l, t, k]
                f = gates[l, t, H + k]
                g = gates[l, t, 2 * H + k]
                o = gates[l, t, 3 * H + k]
                dh = d_a[t, k] + work[dh_next + k]
                tanh_c = math.tanh(cs[l, t + 1, k])
                dc = dh * o * (1.0 - tanh_c * tanh_c) + work[dc_next + k]
                work[da + k] = dc * g * i * (1.0 - i)
                work[da + H + k] = dc * cs[l, t, k] * f * (1.0 - f)
                work[da + 2 * H + k] = dc * i * (1.0 - g * g)
                work[da + 3 * H + k] = dh * tanh_c * o * (1.0 - o)
                work[dc_next + k] = dc * f
                work[dh_next + k] = 0.0
            for j in range(G):
                d = work[da + j]
                grad[b_ih + j] += d
                grad[b_hh + j] += d
                row = w_ih + j * I
                for k in range(I):
                    grad[row + k] += d * work[inp + k]
                if l > 0:
                    for k in range(I):
                        d_b[t, k] += theta[row + k] * d
                row = w_hh + j * H
                for k in range(H):
                    grad[row + k] += d * hs[l, t, k]
                    work[dh_next + k] += theta[row + k] * d
        if l > 0:
            for t in range(T):  # the layer below receives ∂L/∂(its outputs)
                for k in range(I):
                    d_a[t, k] = d_b[t, k]
    return loss
