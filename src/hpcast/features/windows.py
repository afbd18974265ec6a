"""Sliding windows as strided views, so a long series never materialises every window copy.

Legend: N points, T window length, F features, h horizon, B windows (= N - T - h + 1).
"""

from __future__ import annotations

import torch

__all__ = ["every_step_targets", "sliding_windows", "supervised_windows"]


def sliding_windows(x: torch.Tensor, length: int) -> torch.Tensor:
    """All windows of ``length`` consecutive rows of ``x`` ``(N, F)`` as a view ``(N - length + 1, length, F)``."""
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D (N, F), got shape {tuple(x.shape)}")
    if not 1 <= length <= x.shape[0]:
        raise ValueError(f"length ({length}) must be in [1, {x.shape[0]}] (the number of rows)")
    return x.unfold(0, length, 1).transpose(1, 2)  # (N - length + 1, length, F), shares x's storage


def supervised_windows(inputs: torch.Tensor, target: torch.Tensor, window: int,
                       horizon: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pairs (past ``window`` rows of ``inputs``, next ``horizon`` values of ``target``), both views.

    Window b covers input rows ``b .. b+T-1`` and target values ``b+T .. b+T+h-1``.

    Args:
        inputs: ``(N, F)``.
        target: ``(N,)``, aligned with ``inputs`` row for row.

    Returns:
        ``X (B, T, F)`` and ``Y (B, h)`` with ``B = N - T - h + 1``.
    """
    if target.shape != inputs.shape[:1]:
        raise ValueError(f"target shape {tuple(target.shape)} must be ({inputs.shape[0]},) to match inputs")
    count = inputs.shape[0] - window - horizon + 1
    if count < 1:
        raise ValueError(f"series of {inputs.shape[0]} points is too short for window ({window}) + "
                         f"horizon ({horizon}); need at least {window + horizon}")
    X = sliding_windows(inputs, window)[:count]  # (B, T, F)
    Y = target[window:].unfold(0, horizon, 1)[:count]  # (B, h)
    return X, Y


def every_step_targets(target: torch.Tensor, window: int, horizon: int) -> torch.Tensor:
    """The next ``horizon`` values after every step of every window, a view ``(B, T, h)``.

    Entry ``[b, t]`` holds ``target[b+t+1 .. b+t+h]``: what step t of window b (which has seen rows
    ``b .. b+t``) should predict. Its last step, ``[b, T-1]``, is `supervised_windows`'s ``Y[b]``, so no
    window reaches a value later than its single-target twin does.
    """
    if target.ndim != 1:
        raise ValueError(f"target must be 1-D (N,), got shape {tuple(target.shape)}")
    count = target.shape[0] - window - horizon + 1
    if count < 1:
        raise ValueError(f"series of {target.shape[0]} points is too short for window ({window}) + "
                         f"horizon ({horizon}); need at least {window + horizon}")
    ahead = target[1:].unfold(0, horizon, 1)  # (N - h, h): row j holds target[j+1 .. j+h]
    return ahead.unfold(0, window, 1).transpose(1, 2)[:count]  # (B, T, h)
