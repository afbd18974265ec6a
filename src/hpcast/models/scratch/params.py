"""One flat parameter vector shared by every from-scratch implementation (NumPy, Numba, Numba CUDA, torch).

All implementations read and write the same vector ``theta (P,)``, so training code, optimisers and
checks are written once and "same numbers" means literally the same array. Layout, per layer l with input
size I and hidden size H (PyTorch's gate order i, f, g, o, so weights convert both ways):

    W_ih (4H, I) row-major | W_hh (4H, H) row-major | b_ih (4H,) | b_hh (4H,)

followed by the head ``W_out (O, H_last) | b_out (O,)``. `Layout.table` is the same information as an
int64 array for compiled code: one row per layer ``[I, H, off_W_ih, off_W_hh, off_b_ih, off_b_hh]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Layout", "from_torch", "init_params", "make_layout", "to_torch"]


@dataclass(frozen=True)
class Layout:
    """Sizes and offsets of every tensor inside ``theta``."""

    input_size: int
    hidden: tuple[int, ...]
    output_size: int
    table: np.ndarray  # (L, 6) int64: I, H, off_W_ih, off_W_hh, off_b_ih, off_b_hh
    head: tuple[int, int]  # off_W_out, off_b_out
    size: int  # P

    @property
    def layers(self) -> int:
        return len(self.hidden)

    def views(self, theta: np.ndarray) -> tuple[list[tuple[np.ndarray, ...]], np.ndarray, np.ndarray]:
        """Named views into ``theta`` (no copies): ``[(W_ih, W_hh, b_ih, b_hh), ...], W_out, b_out``."""
        layers = []
        for I, H, w_ih, w_hh, b_ih, b_hh in self.table:
            layers.append((theta[w_ih:w_ih + 4 * H * I].reshape(4 * H, I),
                           theta[w_hh:w_hh + 4 * H * H].reshape(4 * H, H),
                           theta[b_ih:b_ih + 4 * H], theta[b_hh:b_hh + 4 * H]))
        w_out, b_out = self.head
        H = self.hidden[-1]
        return layers, theta[w_out:w_out + self.output_size * H].reshape(self.output_size, H), \
            theta[b_out:b_out + self.output_size]


def make_layout(input_size: int, hidden: tuple[int, ...], output_size: int) -> Layout:
    if input_size < 1 or output_size < 1 or not hidden or min(hidden) < 1:
        raise ValueError(f"sizes must be >= 1: input_size={input_size}, hidden={list(hidden)}, "
                         f"output_size={output_size}")
    rows, offset, I = [], 0, input_size
    for H in hidden:
        w_ih, w_hh = offset, offset + 4 * H * I
        b_ih = w_hh + 4 * H * H
        b_hh = b_ih + 4 * H
        rows.append((I, H, w_ih, w_hh, b_ih, b_hh))
        offset, I = b_hh + 4 * H, H
    head = (offset, offset + output_size * I)
    return Layout(input_size, tuple(hidden), output_size, np.array(rows, dtype=np.int64), head,
                  head[1] + output_size)


def init_params(layout: Layout, seed: int, dtype: type = np.float64) -> np.ndarray:
    """PyTorch's default scheme: every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H)), head with its own H."""
    rng = np.random.default_rng(seed)
    theta = np.empty(layout.size, dtype=dtype)
    for I, H, w_ih, *_ in layout.table:
        bound = 1 / np.sqrt(H)
        end = w_ih + 4 * H * (I + H + 2)
        theta[w_ih:end] = rng.uniform(-bound, bound, end - w_ih)
    bound = 1 / np.sqrt(layout.hidden[-1])
    theta[layout.head[0]:] = rng.uniform(-bound, bound, layout.size - layout.head[0])
    return theta


def to_torch(theta: np.ndarray, layout: Layout) -> dict[str, object]:
    """State for ``[nn.LSTM(I_l, H_l, batch_first=True) per layer] + nn.Linear``: keys ``lstm.<l>.*``, ``head.*``."""
    import torch

    layers, w_out, b_out = layout.views(theta)
    state = {}
    for l, (w_ih, w_hh, b_ih, b_hh) in enumerate(layers):
        for name, value in (("weight_ih_l0", w_ih), ("weight_hh_l0", w_hh), ("bias_ih_l0", b_ih),
                            ("bias_hh_l0", b_hh)):
            state[f"lstm.{l}.{name}"] = torch.from_numpy(value.copy())
    state["head.weight"], state["head.bias"] = torch.from_numpy(w_out.copy()), torch.from_numpy(b_out.copy())
    return state


def from_torch(state: dict[str, object], layout: Layout) -> np.ndarray:
    """Inverse of `to_torch`: a flat ``theta`` from PyTorch tensors."""
    theta = np.empty(layout.size, dtype=np.float64)
    layers, w_out, b_out = layout.views(theta)
    for l, views in enumerate(layers):
        for view, name in zip(views, ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"), strict=True):
            view[...] = state[f"lstm.{l}.{name}"].detach().numpy()  # type: ignore[attr-defined]
    w_out[...] = state["head.weight"].detach().numpy()  # type: ignore[attr-defined]
    b_out[...] = state["head.bias"].detach().numpy()  # type: ignore[attr-defined]
    return theta
