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

__all__ = ["REGIMES", "VOLATILITY_WINDOW", "covered", "crps_normal", "crps_quantiles", "crps_samples",
           "crps_student_t", "garman_klass_variance", "interval_score", "pinball", "qlike", "squared_log_return",
           "trailing_volatility", "variance_proxy", "volatility_terciles", "weighted_quantile_loss"]

VOLATILITY_WINDOW = 21
"""Trading days of log returns in the trailing realised volatility that sorts fold origins into regimes."""

REGIMES = ("low", "mid", "high")
"""The names of the volatility terciles 0, 1, 2 (`volatility_terciles`)."""


def _positive(name: str, value: np.ndarray | float) -> np.ndarray:
    array = np.asarray(value, dtype=float)
    if not np.all(array > 0):
        raise ValueError(f"{name} ({array.min()}) must be > 0")
    return array


def crps_normal(y: np.ndarray, mu: np.ndarray | float, sigma: np.ndarray | float) -> np.ndarray:
    """CRPS of N(μ, σ²) at ``y``, per point: σ [z (2Φ(z) − 1) + 2φ(z) − 1/√π].

    Example:
        >>> round(float(crps_normal(np.array([0.0]), 0.0, 1.0)[0]), 4)  # (2 − √2) / √(2π)
        0.2337
    """
    from scipy.special import ndtr

    sigma = _positive("sigma", sigma)
    z = (np.asarray(y, dtype=float) - mu) / sigma
    density = np.exp(-z ** 2 / 2) / np.sqrt(2 * np.pi)
    return sigma * (z * (2 * ndtr(z) - 1) + 2 * density - 1 / np.sqrt(np.pi))


def crps_student_t(y: np.ndarray, mu: np.ndarray | float, sigma: np.ndarray | float,
                   nu: np.ndarray | float) -> np.ndarray:
    """CRPS of a location-scale Student-t at ``y``, per point (ν > 1: the CRPS needs a finite mean):

    σ [z (2F_ν(z) − 1) + 2 f_ν(z) (ν + z²)/(ν − 1) − 2√ν B(½, ν − ½) / ((ν − 1) B(½, ν/2)²)],

    F_ν, f_ν the standard t's CDF and density, B the beta function (Jordan, Krüger & Lerch, 2019, the R
    package scoringRules). As ν → ∞ it tends to `crps_normal`.

    Example:
        >>> bool(crps_student_t(np.array([0.5]), 0.0, 1.0, 1e6)[0] - crps_normal(np.array([0.5]), 0.0, 1.0)[0] < 1e-5)
        True
    """
    from scipy.special import betaln, gammaln, stdtr

    sigma = _positive("sigma", sigma)
    nu = np.asarray(nu, dtype=float)
    if not np.all(nu > 1):
        raise ValueError(f"nu ({nu.min()}) must be > 1 (the CRPS of a Student-t with nu <= 1 is infinite)")
    z = (np.asarray(y, dtype=float) - mu) / sigma
    log_density = (gammaln((nu + 1) / 2) - gammaln(nu / 2) - 0.5 * np.log(nu * np.pi)
                   - (nu + 1) / 2 * np.log1p(z ** 2 / nu))
    spread = 2 * np.sqrt(nu) / (nu - 1) * np.exp(betaln(0.5, nu - 0.5) - 2 * betaln(0.5, nu / 2))
    return sigma * (z * (2 * stdtr(nu, z) - 1) + 2 * np.exp(log_density) * (nu + z ** 2) / (nu - 1) - spread)


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


def pinball(y: np.ndarray, predicted: np.ndarray, q: float) -> np.ndarray:
    """Pinball (quantile) loss of the ``q``-quantile forecast ``predicted``, per point.

    Example:
        >>> pinball(np.array([10.0, 10.0]), np.array([8.0, 12.0]), 0.75).tolist()  # under: 0.75·2; over: 0.25·2
        [1.5, 0.5]
    """
    error = np.asarray(y, dtype=float) - predicted
    return np.maximum(q * error, (q - 1) * error)


def crps_quantiles(y: np.ndarray, quantiles: Mapping[float, np.ndarray]) -> np.ndarray:
    """CRPS approximated from a few forecast quantiles, per point: 2 × the pinball loss averaged over the
    levels given, 2 · (1/|Q|) Σ_q ρ_q(y − ŷ_q).

    It is the integral 2 ∫₀¹ ρ_τ dτ by equal weights at the levels given, so it is only as good as they are
    many and spread: from a central interval's two quantiles it scores the tails alone. Compare it only
    between forecasts scored at the same levels (a backtest's models all get the configured ones).

    Example:
        >>> crps_quantiles(np.array([10.0]), {0.25: np.array([8.0]), 0.75: np.array([12.0])}).tolist()  # 2·(.5+.5)/2
        [1.0]
    """
    if not quantiles:
        raise ValueError("quantiles ({}) must give at least one level")
    return 2 * np.mean([pinball(y, predicted, q) for q, predicted in quantiles.items()], axis=0)  # (|Q|, n) -> (n,)


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
    σ̂²/h − log(σ̂²/h) − 1 (Patton, 2011). Lower is better, 0 is perfect; infinite where a proxy is 0 (a
    day with no price change has a squared return of 0: prefer the range proxy where there is one).

    Example:
        >>> round(qlike(np.array([2.0, 1.0]), np.array([1.0, 1.0])), 4)  # (2 − log 2 − 1 + 0) / 2
        0.1534
    """
    variance = _positive("variance", variance)
    ratio = np.asarray(proxy, dtype=float) / variance
    with np.errstate(divide="ignore"):
        return float(np.mean(ratio - np.log(ratio) - 1))


def garman_klass_variance(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Garman–Klass (1980) range estimate of a day's log-return variance from its open, high, low and close:
    ½ log(H/L)² − (2 log 2 − 1) log(C/O)². It measures the open-to-close move only (not the overnight gap).

    Example:
        >>> round(float(garman_klass_variance(np.array([100.0]), np.array([102.0]), np.array([99.0]),
        ...                                   np.array([101.0]))[0]), 8)
        0.00040735
    """
    return 0.5 * np.log(high / low) ** 2 - (2 * np.log(2) - 1) * np.log(close / open_) ** 2


def squared_log_return(close: np.ndarray, previous_close: np.ndarray) -> np.ndarray:
    """The squared close-to-close log return, log(C / C₋₁)²: an unbiased but noisy variance proxy."""
    return np.log(np.asarray(close, dtype=float) / previous_close) ** 2


def variance_proxy(close: np.ndarray, previous_close: np.ndarray, open_: np.ndarray | None = None,
                   high: np.ndarray | None = None, low: np.ndarray | None = None) -> np.ndarray:
    """Each day's realised-variance proxy: `garman_klass_variance` where its open, high and low are given
    (finite), the `squared_log_return` otherwise."""
    proxy = squared_log_return(close, previous_close)
    if open_ is None or high is None or low is None:
        return proxy
    ranged = np.isfinite(open_) & np.isfinite(high) & np.isfinite(low)
    return np.where(ranged, garman_klass_variance(open_, high, low, close), proxy)


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
