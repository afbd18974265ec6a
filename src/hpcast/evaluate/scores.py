"""Scores of forecast distributions and of variance forecasts, and the inputs they read besides the forecasts.

The metric table (`hpcast.evaluate.metrics.METRICS`) reads these; they are plain functions of arrays so each
can be checked against an independent reference (``tests/evaluate/test_scores.py``).

Symbols: y the actual value; μ, σ > 0 a predictive distribution's location and scale, ν > 1 a Student-t's
degrees of freedom, z = (y − μ) / σ; Φ, φ the standard normal CDF and density; q ∈ (0, 1) a quantile level
and ŷ_q the forecast's q-quantile; L a central interval's level, α = 1 − L, [l, u] the interval; h a
variance forecast and σ̂² a realised-variance proxy. Shapes: ``n`` points, ``S`` samples per point.

The proper scores return one value per point ``(n,)`` (the table averages them); `weighted_quantile_loss`
and `qlike` are defined on a whole set of points and return one number.

- CRPS(F, y) = ∫ (F(x) − 1{x ≥ y})² dx = E|X − y| − ½ E|X − X'| (X, X' independent draws of F) =
  2 ∫₀¹ ρ_τ(y − F⁻¹(τ)) dτ (Gneiting & Raftery, 2007; Gneiting & Ranjan, 2011). Closed forms for the normal
  and the Student-t; the energy form on samples; the last form, on a few quantiles, approximated by
  averaging the pinball loss over the levels given (see `crps_quantiles`).
- Pinball loss ρ_q(y − ŷ_q) = max(q (y − ŷ_q), (q − 1)(y − ŷ_q)).
- Interval (Winkler) score of [l, u] at level L: (u − l) + (2/α)(l − y) 1{y < l} + (2/α)(y − u) 1{y > u}
  (Gneiting & Raftery, 2007, §6.2).
- QLIKE(σ̂², h) = σ̂²/h − log(σ̂²/h) − 1 (Patton, 2011): ≥ 0, 0 only at h = σ̂², and robust to the noise in
  the proxy: ranking variance forecasts by its expectation against an unbiased proxy ranks them as against
  the true variance.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from hpcast.models.crps import crps_normal, crps_quantiles, crps_student_t, pinball, positive
from hpcast.models.volatility import garman_klass

__all__ = ["RANGE_COLUMNS", "REGIMES", "VOLATILITY_WINDOW", "covered", "crps_normal", "crps_quantiles", "crps_samples",
           "crps_student_t", "interval_score", "pinball", "qlike", "range_proxy", "squared_log_return",
           "trailing_volatility", "volatility_terciles", "weighted_quantile_loss"]

VOLATILITY_WINDOW = 21
"""Trading days of log returns in the trailing realised volatility that sorts fold origins into regimes."""

REGIMES = ("low", "mid", "high")
"""The names of the volatility terciles 0, 1, 2 (`volatility_terciles`)."""


def crps_samples(y: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """CRPS of the empirical distribution of ``samples`` ``(n, S)`` at ``y`` ``(n,)``, per point, in the energy
    form E|X − y| − ½ E|X − X'| over all S² ordered pairs (the score of the sample distribution itself, as
    ``properscoring.crps_ensemble``; not the "fair" S(S − 1) estimator). Sorting makes the pair term
    O(S log S): Σᵢⱼ |xᵢ − xⱼ| = 2 Σₖ (2k − S − 1) x₍ₖ₎ over the sorted x₍₁₎ ≤ … ≤ x₍S₎.

    Example:
        >>> round(float(crps_samples(np.array([0.3]), np.array([[0.0, 1.0, 2.0]]))[0]), 4)  # 0.9 − 4/9
        0.4556
    """
    ordered = np.sort(np.asarray(samples, dtype=float), axis=1)  # (n, S)
    size = ordered.shape[1]
    to_actual = np.mean(np.abs(ordered - np.asarray(y, dtype=float)[:, None]), axis=1)  # (n,)
    weights = 2 * np.arange(1, size + 1) - size - 1  # (S,)
    between = 2 * ordered @ weights / size ** 2  # (n,): E|X − X'|
    return to_actual - between / 2


def weighted_quantile_loss(y: np.ndarray, quantiles: Mapping[float, np.ndarray]) -> float:
    """Mean weighted quantile loss, as GluonTS's ``mean_weighted_sum_quantile_loss``:
    (1/|Q|) Σ_q [2 Σᵢ ρ_q(yᵢ − ŷ_q,ᵢ) / Σᵢ |yᵢ|] over the levels Q given and the points i; NaN when Σ|y| = 0.

    Dividing by Σ|y| makes it free of the series' units (a pooled panel weighs each series by its level).

    Example:
        >>> weighted_quantile_loss(np.array([10.0, 10.0]), {0.5: np.array([9.0, 12.0])})  # 2·(0.5 + 1) / 20
        0.15
    """
    if not quantiles:
        raise ValueError("quantiles ({}) must give at least one level")
    total = float(np.sum(np.abs(y)))
    if total == 0:
        return float("nan")
    return float(np.mean([2 * np.sum(pinball(y, predicted, q)) / total for q, predicted in quantiles.items()]))


def interval_score(y: np.ndarray, lower: np.ndarray, upper: np.ndarray, level: float) -> np.ndarray:
    """Interval (Winkler) score of the central ``level`` interval [lower, upper], per point: its width plus
    2/α times how far the actual value fell outside it (α = 1 − level).

    Example:
        >>> interval_score(np.array([5.0, 12.0]), np.array([8.0, 8.0]), np.array([10.0, 10.0]), 0.5).tolist()
        [14.0, 10.0]
    """
    if not 0 < level < 1:
        raise ValueError(f"level ({level}) must be in (0, 1)")
    y = np.asarray(y, dtype=float)
    penalty = 2 / (1 - level)
    return (upper - lower) + penalty * np.maximum(lower - y, 0) + penalty * np.maximum(y - upper, 0)


def covered(y: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Whether each actual value lies in its interval, ends included ``(n,)`` bool."""
    return (y >= lower) & (y <= upper)


def qlike(proxy: np.ndarray, variance: np.ndarray) -> float:
    """QLIKE loss of variance forecasts against a realised-variance proxy, the mean over points of
    σ̂²/h − log(σ̂²/h) − 1 (Patton, 2011). Lower is better, 0 is perfect.

    A day with no price change has a squared return of 0, where log σ̂² is −∞. That term does not depend on
    the forecast, so on such days it is taken at the smallest positive proxy of the set: every forecast
    scored on the same days gets the same constant, so their differences (and ranking) are exactly
    Patton's, and the mean stays finite (a single point can then fall below 0).

    Example:
        >>> round(qlike(np.array([2.0, 1.0]), np.array([1.0, 1.0])), 4)  # (2 − log 2 − 1 + 0) / 2
        0.1534
    """
    variance = positive("variance", variance)
    proxy = np.asarray(proxy, dtype=float)
    if np.any(proxy < 0):
        raise ValueError(f"proxy ({proxy.min()}) must be >= 0")
    positive_proxy = proxy[proxy > 0]
    floor = positive_proxy.min() if len(positive_proxy) else 1.0
    return float(np.mean(proxy / variance + np.log(variance) - np.log(np.maximum(proxy, floor)) - 1))


def squared_log_return(close: np.ndarray, previous_close: np.ndarray) -> np.ndarray:
    """The squared close-to-close log return, log(C / C₋₁)²: an unbiased but noisy variance proxy."""
    return np.log(np.asarray(close, dtype=float) / previous_close) ** 2


RANGE_COLUMNS = ("open", "high", "low")
"""The panel columns (beside the close, its target) that give a day's range variance."""


def range_proxy(close: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray, known: int,
                lookback: int = 252) -> np.ndarray:
    """The variance proxy of each day after the first ``known`` (one series' days; those up to a forecast
    origin): its Garman–Klass range variance times Σ r² / Σ GK over the last ``lookback`` known days. The
    range sees the open-to-close move only; the ratio, fitted before the origin, adds the overnight gap back
    on average without looking ahead, so the proxy stays unbiased for the close-to-close variance that a
    model forecasts (QLIKE ranks forecasts correctly only against an unbiased proxy).

    Example:
        >>> c, o = np.array([100.0, 101, 100, 102]), np.array([100.0, 100.5, 100.8, 100.2])
        >>> h, l = np.maximum(c, o) * 1.01, np.minimum(c, o) * 0.99
        >>> range_proxy(c, o, h, l, known=3).shape  # the one day after the origin
        (1,)
    """
    close, open_, high, low = (np.asarray(a, dtype=float) for a in (close, open_, high, low))
    first = max(1, known - lookback)
    returns = squared_log_return(close[first:known], close[first - 1:known - 1])
    ranged = garman_klass(open_[first:known], high[first:known], low[first:known], close[first:known])
    scale = np.sum(returns) / np.sum(ranged) if np.sum(ranged) > 0 else 1.0
    return scale * garman_klass(open_[known:], high[known:], low[known:], close[known:])


def trailing_volatility(history: np.ndarray, window: int = VOLATILITY_WINDOW) -> float:
    """Realised volatility known at the end of ``history`` (the values up to a fold's origin, inclusive): the
    root mean square of its last ``window`` log returns (fewer where the history is shorter); NaN with
    fewer than 2 returns, or where a value in the window is not positive (no log return).

    Example:
        >>> round(trailing_volatility(np.array([100.0, 110.0, 100.0])), 6)  # returns ±log 1.1
        0.09531
    """
    recent = np.asarray(history, dtype=float)[-(window + 1):]
    if len(recent) < 3 or not np.all(recent > 0):
        return float("nan")
    return float(np.sqrt(np.mean(np.diff(np.log(recent)) ** 2)))


def volatility_terciles(trailing_vol: np.ndarray) -> np.ndarray:
    """Each point's volatility tercile, 0 (low), 1 (mid) or 2 (high); −1 where its volatility is NaN.

    Points that share a fold origin share its volatility, so the terciles split the distinct values: the
    k-th smallest of m (k = 0 … m − 1) falls in tercile ⌊3 (k + ½) / m⌋ (a third of the origins each, give or
    take one; a single origin is mid). Whoever calls it chooses the population: the backtest ranks each
    series' own fold origins (`hpcast.evaluate.walkforward.score`).

    Example:
        >>> volatility_terciles(np.array([0.3, 0.1, 0.1, 0.2, np.nan])).tolist()
        [2, 0, 0, 1, -1]
    """
    values = np.asarray(trailing_vol, dtype=float)
    known = np.isfinite(values)
    distinct, rank = np.unique(values[known], return_inverse=True)
    terciles = np.full(len(values), -1)
    terciles[known] = np.floor(3 * (rank + 0.5) / max(len(distinct), 1)).astype(int)
    return terciles
