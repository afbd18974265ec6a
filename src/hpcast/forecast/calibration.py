"""Split-conformal prediction intervals: quantiles of calibration residuals that chose nothing.

Residuals are absolute errors of calibration windows (not the weights, not the epoch chose them), per
horizon step, in log space for a log-return target (bands multiply the forecast) and in value space for
a level target. A band never narrows with the horizon step.

A model that predicts its own spread (a distribution head) is calibrated on *scaled* scores: each residual
divided by the spread the model predicted for that window and step (spaces ``scaled-log`` and ``scaled``).
The conformal quantile is then a multiple of the spread, and a forecast's band is that multiple of its own
predicted spread: wide in a storm, narrow in calm, with the same finite-sample rank rule.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["adaptive_conformal", "add_bands", "conformal_calibration", "interval_columns", "residuals_needed"]


def interval_columns(level: float) -> tuple[str, str]:
    pct = round(level * 100)
    return f"lower_{pct}", f"upper_{pct}"


def _conformal_quantile(residuals: np.ndarray, level: float) -> np.ndarray:
    """Per-column finite-sample conformal quantile: the ceil((n+1)·level)-th smallest residual.

    With too few residuals for that rank the largest one is used (the band is then a little narrow;
    backtests report the coverage actually reached).
    """
    n = residuals.shape[0]
    rank = min(math.ceil((n + 1) * level), n)
    return np.sort(residuals, axis=0)[rank - 1]


def residuals_needed(level: float) -> int:
    """The fewest residuals whose conformal rank ceil((n+1)·level) exists: 4 for 80%, 19 for 95%."""
    n = 1
    while math.ceil(round((n + 1) * level, 9)) > n:
        n += 1
    return n


def conformal_calibration(residuals: np.ndarray, levels: tuple[float, ...], space: str) -> dict[str, Any]:
    """Per-step conformal quantiles of absolute ``residuals (n, h)``, made non-decreasing over the steps.

    A later step's band is never narrower than an earlier one's (the uncertainty of step k includes that of
    the steps before it; residual noise would otherwise let it shrink). Where ``n`` is below
    `residuals_needed` for a level, the band uses the largest residual and a note says so.
    """
    n = int(residuals.shape[0])
    notes = [f"the {level:.0%} band rests on {n} calibration residuals; a split-conformal {level:.0%} band "
             f"needs at least {residuals_needed(level)}, so it uses the largest one and may cover less than "
             f"{level:.0%}" for level in levels if n < residuals_needed(level)]
    return {"space": space, "windows": n, "notes": notes,
            "quantiles": {f"{level:g}": np.maximum.accumulate(_conformal_quantile(residuals, level)).tolist()
                          for level in levels}}


def add_bands(frame: pd.DataFrame, calibration: dict[str, Any], spread: np.ndarray | None = None) -> pd.DataFrame:
    """``frame`` (one series' forecast path, column ``forecast``, steps in order) with a lower and an upper
    column per calibrated level; ``spread (h,)``: the path's predicted spread, for scaled calibrations."""
    path = frame["forecast"].to_numpy()
    scaled = calibration.get("space", "").startswith("scaled")
    if scaled and spread is None:
        raise ValueError(f"a {calibration['space']} calibration scales the bands by the forecast's spread: give it")
    for level, quantiles in calibration.get("quantiles", {}).items():
        q = np.asarray(quantiles[:len(path)]) * (spread[:len(path)] if scaled else 1.0)
        lower, upper = interval_columns(float(level))
        if calibration["space"] in ("log", "scaled-log"):
            frame[lower], frame[upper] = path * np.exp(-q), path * np.exp(q)
        else:
            frame[lower], frame[upper] = path - q, path + q
    return frame


def adaptive_conformal(scores: np.ndarray, level: float, *, gamma: float = 0.005, window: int = 250,
                       start: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Adaptive conformal inference (Gibbs & Candès, 2021) over a sequence of scores in time order.

    Split conformal assumes tomorrow's scores are exchangeable with the calibration ones; after a change of
    regime they are not, and a fixed band covers too little (or too much) for as long as the regime lasts.
    ACI keeps a working miscoverage ``a_t``: the band at time t is the ``1 - a_t`` conformal quantile of the
    last ``window`` scores before t, and after seeing whether score t fell inside, ``a_{t+1} = a_t + gamma ·
    (α - err_t)`` with α = 1 - ``level``: a miss lowers ``a`` (wider bands), a hit raises it slightly. Over
    any stretch, the share of misses is within ``(max a - min a + gamma) / (gamma · stretch)`` of α, whatever
    the scores do (their Proposition 4.1), so coverage recovers after a change of regime.

    Args:
        scores: ``(n,)`` nonconformity scores in time order (absolute errors, or errors over a predicted spread).
        level: the target coverage, in (0, 1).
        gamma: the step size: larger adapts faster and wobbles more.
        window: how many past scores each band is computed from.
        start: the first time a band is made (default ``window``); earlier times get none (NaN).

    Returns:
        ``(thresholds, covered)``: each time's band half-width ``(n,)`` (+inf where ``a_t`` <= 0: every band
        covers; 0 where it is >= 1), and whether its score fell inside ``(n,)`` (False before ``start``).

    Example:
        >>> thresholds, covered = adaptive_conformal(np.abs(np.random.default_rng(0).normal(size=600)), 0.9)
        >>> 0.85 < covered[250:].mean() < 0.95
        True
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1 or not np.isfinite(scores).all():
        raise ValueError(f"scores must be a finite 1-D array in time order, got shape {scores.shape}")
    if not 0 < level < 1:
        raise ValueError(f"level ({level}) must be in (0, 1)")
    if gamma <= 0 or window < 1:
        raise ValueError(f"gamma ({gamma}) must be > 0 and window ({window}) >= 1")
    start = window if start is None else start
    if not 1 <= start <= len(scores):
        raise ValueError(f"start ({start}) must be in [1, {len(scores)}] (the scores' length)")
    alpha = 1 - level
    a = alpha
    thresholds = np.full(len(scores), np.nan)
    covered = np.zeros(len(scores), dtype=bool)
    for t in range(start, len(scores)):
        past = np.sort(scores[max(0, t - window):t])  # the scores known before t
        if a <= 0:
            thresholds[t] = np.inf
        elif a >= 1:
            thresholds[t] = 0.0
        else:
            rank = min(math.ceil((len(past) + 1) * (1 - a)), len(past))  # the finite-sample conformal rank
            thresholds[t] = past[rank - 1]
        covered[t] = scores[t] <= thresholds[t]
        a += gamma * (alpha - (0.0 if covered[t] else 1.0))
    return thresholds, covered
