"""CRPS in closed form for the heads' distributions, and the pinball loss: one implementation, read by the heads
(`hpcast.models.outputs`: a validation score every head shares, so a search can compare them) and by the metric
table (`hpcast.evaluate.scores` re-exports these; its docstring gives the definitions and references).

Example:
    >>> round(float(crps_normal(np.array([0.0]), 0.0, 1.0)[0]), 4)
    0.2337
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["crps_normal", "crps_quantiles", "crps_student_t", "pinball", "positive"]


def positive(name: str, value: np.ndarray | float) -> np.ndarray:
    """``value`` as a float array, or a ValueError naming ``name`` where any element is not > 0."""
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

    sigma = positive("sigma", sigma)
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

    sigma = positive("sigma", sigma)
    nu = np.asarray(nu, dtype=float)
    if not np.all(nu > 1):
        raise ValueError(f"nu ({nu.min()}) must be > 1 (the CRPS of a Student-t with nu <= 1 is infinite)")
    z = (np.asarray(y, dtype=float) - mu) / sigma
    log_density = (gammaln((nu + 1) / 2) - gammaln(nu / 2) - 0.5 * np.log(nu * np.pi)
                   - (nu + 1) / 2 * np.log1p(z ** 2 / nu))
    spread = 2 * np.sqrt(nu) / (nu - 1) * np.exp(betaln(0.5, nu - 0.5) - 2 * betaln(0.5, nu / 2))
    return sigma * (z * (2 * stdtr(nu, z) - 1) + 2 * np.exp(log_density) * (nu + z ** 2) / (nu - 1) - spread)


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
