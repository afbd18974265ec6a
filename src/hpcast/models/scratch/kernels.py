"""The per-sample LSTM forward + BPTT as plain loops, compiled twice: by ``numba.njit`` for the parallel CPU
version and by ``numba.cuda.jit(device=True)`` for the CUDA version. One source means the two compiled
twins cannot drift apart; the NumPy version (`numpy_lstm`) is the independent check on both.

Every inner loop is an axpy over contiguous 1-D row *views* indexed from 0 (``a[j] += w[j] * x`` with
``j`` innermost): LLVM vectorises it without reassociating sums (no fastmath), so results are exact for a
given order. Views matter: indexing ``theta[row + j]`` keeps Numba's negative-index handling in the loop
and ran 3.5× slower here.
The forward pass reads transposed weights ``thetaT`` (``W_ih``/``W_hh`` stored k-major at the same
offsets); the backward pass reads ``theta`` (row-major).

The CPU driver `batch_loss_grad` lives here too, on purpose: Numba's on-disk cache keys a function on
its own source file, so a driver in another file would keep inlining a stale copy of this kernel after it
changes.

Scratch (per sample): gates (L, T, 4Hm), hs and cs (L, T+1, Hm), d_a (T, Dm), work (6Hm + 2O + Dm),
with Hm the largest hidden size and Dm = max(F, Hm); `scratch_shapes` gives them. Gradients are *added*
to ``grad``; with ``want_grad`` false only the loss is computed (validation).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = ["batch_loss_grad", "sample_loss_grad", "scratch_shapes"]


def scratch_shapes(n_layers: int, T: int, F: int, Hm: int, n_out: int) -> dict[str, tuple[int, ...]]:
    Dm = max(F, Hm)
    return {"gates": (n_layers, T, 4 * Hm), "hs": (n_layers, T + 1, Hm), "cs": (n_layers, T + 1, Hm),
            "d_a": (T, Dm), "work": (6 * Hm + 2 * n_out + Dm,)}


def sample_loss_grad(theta, thetaT, table, n_layers, head_w, head_b, n_out, X, Y, b, loss_kind, n_batch,
                     want_grad, gates, hs, cs, d_a, work, grad):
    T = X.shape[1]
    Hm = gates.shape[2] // 4
    da = work[0:4 * Hm]  # work layout: da (4Hm) | dh_next (Hm) | dc_next (Hm) | y (O) | dy (O) | inp (Dm)
    dh_next = work[4 * Hm:5 * Hm]
    dc_next = work[5 * Hm:6 * Hm]
    y = work[6 * Hm:6 * Hm + n_out]
    dy = work[6 * Hm + n_out:6 * Hm + 2 * n_out]
    inp = work[6 * Hm + 2 * n_out:]
    # ---- forward through every layer ----
    for l in range(n_layers):
        I = table[l, 0]
        H = table[l, 1]
        G = 4 * H
        w_ihT = thetaT[table[l, 2]:table[l, 2] + G * I]  # (I, 4H) k-major
        w_hhT = thetaT[table[l, 3]:table[l, 3] + G * H]  # (H, 4H) k-major
        b_ih = theta[table[l, 4]:table[l, 4] + G]
        b_hh = theta[table[l, 5]:table[l, 5] + G]
        for k in range(H):
            hs[l, 0, k] = 0.0
            cs[l, 0, k] = 0.0
        for t in range(T):
            a = gates[l, t]
            h_prev = hs[l, t]
            for k in range(I):
                inp[k] = X[b, t, k] if l == 0 else hs[l - 1, t + 1, k]
            for j in range(G):
                a[j] = b_ih[j] + b_hh[j]
            for k in range(I):
                xk = inp[k]
                w = w_ihT[k * G:(k + 1) * G]
                for j in range(G):
                    a[j] += w[j] * xk
            for k in range(H):
                hk = h_prev[k]
                w = w_hhT[k * G:(k + 1) * G]
                for j in range(G):
                    a[j] += w[j] * hk
            for j in range(2 * H):  # i, f
                a[j] = 1.0 / (1.0 + math.exp(-a[j]))
            for j in range(2 * H, 3 * H):  # g
                a[j] = math.tanh(a[j])
            for j in range(3 * H, G):  # o
                a[j] = 1.0 / (1.0 + math.exp(-a[j]))
            c_prev = cs[l, t]
            c_now = cs[l, t + 1]
            h_now = hs[l, t + 1]
            for k in range(H):
                c = a[H + k] * c_prev[k] + a[k] * a[2 * H + k]
                c_now[k] = c
                h_now[k] = a[3 * H + k] * math.tanh(c)
    # ---- head and loss: y = W_out h_T + b_out ----
    top = n_layers - 1
    H = table[top, 1]
    h_top = hs[top, T]
    for o in range(n_out):
        acc = theta[head_b + o]
        w = theta[head_w + o * H:head_w + (o + 1) * H]
        for k in range(H):
            acc += w[k] * h_top[k]
        y[o] = acc
    loss = 0.0
    if loss_kind == 0:  # MSE over (B, O)
        for o in range(n_out):
            diff = y[o] - Y[b, o]
            loss += diff * diff / (n_batch * n_out)
            dy[o] = 2.0 * diff / (n_batch * n_out)
    else:  # cross-entropy with one-hot targets, mean over B
        peak = y[0]
        for o in range(1, n_out):
            peak = max(peak, y[o])
        total = 0.0
        for o in range(n_out):
            total += math.exp(y[o] - peak)
        log_total = math.log(total)
        for o in range(n_out):
            log_p = y[o] - peak - log_total
            loss -= Y[b, o] * log_p / n_batch
            dy[o] = (math.exp(log_p) - Y[b, o]) / n_batch
    if not want_grad:
        return loss
    for t in range(T):
        for k in range(H):
            d_a[t, k] = 0.0
    d_last = d_a[T - 1]
    for o in range(n_out):
        grad[head_b + o] += dy[o]
        g_row = grad[head_w + o * H:head_w + (o + 1) * H]
        w = theta[head_w + o * H:head_w + (o + 1) * H]
        for k in range(H):
            g_row[k] += dy[o] * h_top[k]
            d_last[k] += w[k] * dy[o]
    # ---- backward through time, top layer first: d_a holds ∂L/∂h from above ----
    for l in range(n_layers - 1, -1, -1):
        I = table[l, 0]
        H = table[l, 1]
        G = 4 * H
        w_ih = table[l, 2]
        w_hh = table[l, 3]
        for k in range(H):
            dh_next[k] = 0.0
            dc_next[k] = 0.0
        for t in range(T - 1, -1, -1):
            a = gates[l, t]
            c_prev = cs[l, t]
            c_now = cs[l, t + 1]
            d_here = d_a[t]
            for k in range(H):
                i = a[k]
                f = a[H + k]
                g = a[2 * H + k]
                o = a[3 * H + k]
                dh = d_here[k] + dh_next[k]
                tanh_c = math.tanh(c_now[k])
                dc = dh * o * (1.0 - tanh_c * tanh_c) + dc_next[k]
                da[k] = dc * g * i * (1.0 - i)
                da[H + k] = dc * c_prev[k] * f * (1.0 - f)
                da[2 * H + k] = dc * i * (1.0 - g * g)
                da[3 * H + k] = dh * tanh_c * o * (1.0 - o)
                dc_next[k] = dc * f
                dh_next[k] = 0.0
            for j in range(G):  # only the recurrent term has to stay inside the time loop
                d = da[j]
                a[j] = d  # the gates at t are spent: keep δa there for the gradients below
                w = theta[w_hh + j * H:w_hh + (j + 1) * H]
                for k in range(H):
                    dh_next[k] += w[k] * d
        # Weight and bias gradients once per sample, each gradient row staying in cache across all T steps.
        for j in range(G):
            total = 0.0
            g_ih = grad[w_ih + j * I:w_ih + (j + 1) * I]
            g_hh = grad[w_hh + j * H:w_hh + (j + 1) * H]
            for t in range(T):
                d = gates[l, t, j]
                total += d
                if l == 0:
                    x_t = X[b, t]
                    for k in range(I):
                        g_ih[k] += d * x_t[k]
                else:
                    x_t = hs[l - 1, t + 1]
                    for k in range(I):
                        g_ih[k] += d * x_t[k]
                h_t = hs[l, t]
                for k in range(H):
                    g_hh[k] += d * h_t[k]
            grad[table[l, 4] + j] += total
            grad[table[l, 5] + j] += total
        if l > 0:  # the layer below receives ∂L/∂(its outputs) = δa W_ih
            for t in range(T):
                d_below = d_a[t]
                for k in range(I):
                    d_below[k] = 0.0
                for j in range(G):
                    d = gates[l, t, j]
                    w = theta[w_ih + j * I:w_ih + (j + 1) * I]
                    for k in range(I):
                        d_below[k] += w[k] * d
    return loss


_core = njit(cache=True, nogil=True)(sample_loss_grad)


@njit(parallel=True, cache=True)
def batch_loss_grad(theta, thetaT, table, n_layers, head_w, head_b, n_out, X, Y, loss_kind, want_grad, chunk, Hm, Dm):
    B, T = X.shape[0], X.shape[1]
    n_chunks = (B + chunk - 1) // chunk
    grads = np.zeros((n_chunks, theta.size), dtype=theta.dtype)
    losses = np.zeros(n_chunks, dtype=np.float64)
    for c in prange(n_chunks):
        gates = np.empty((n_layers, T, 4 * Hm), dtype=theta.dtype)
        hs = np.empty((n_layers, T + 1, Hm), dtype=theta.dtype)
        cs = np.empty((n_layers, T + 1, Hm), dtype=theta.dtype)
        d_a = np.empty((T, Dm), dtype=theta.dtype)
        work = np.empty(6 * Hm + 2 * n_out + Dm, dtype=theta.dtype)
        for b in range(c * chunk, min(B, (c + 1) * chunk)):
            losses[c] += _core(theta, thetaT, table, n_layers, head_w, head_b, n_out, X, Y, b, loss_kind, B,
                               want_grad, gates, hs, cs, d_a, work, grads[c])
    loss = 0.0
    grad = np.zeros(theta.size, dtype=theta.dtype)
    for c in range(n_chunks):  # fixed order: the sum does not depend on the thread count
        loss += losses[c]
        if want_grad:
            grad += grads[c]
    return loss, grad
