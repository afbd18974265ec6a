"""Value at risk and expected shortfall read off a forecast distribution, and the tests that backtest them.

Sign convention: everything stays in the units of the returns (or price changes) being forecast, with no sign
flip. The VaR line at ``level`` 0.99 is the 1% quantile of the forecast distribution, a return that is
negative when it is a loss; an exception is a day whose realised return falls strictly below it; the expected
shortfall is the mean return in that tail, so ES <= VaR. A "99% VaR of 2%" in loss terms is a VaR line of
-0.02 here. Returns in another unit (a price change, or ``forecast_price / last_price - 1``) work unchanged
as long as the VaR line and the realised values share it.

With p = 1 − level the tail probability, n observations, x exceptions and I_t ∈ {0, 1} the hit sequence:

    VaR_t   = q_t(p)                                      the p-quantile of the forecast for day t
    ES_t    = (1/p) ∫_0^p q_t(u) du ≈ mean_k q_t(u_k)      u_k = p (k − ½) / K, k = 1..K (midpoint rule)
    LR_pof  = −2 [ (n−x) log(1−p) + x log p − (n−x) log(1−x/n) − x log(x/n) ]      Kupiec (1995), χ²(1)
    LR_ind  = −2 [ (n00+n10) log(1−π) + (n01+n11) log π
                   − n00 log(1−π01) − n01 log π01 − n10 log(1−π11) − n11 log π11 ]   Christoffersen (1998), χ²(1)
    LR_cc   = LR_pof + LR_ind                                                          χ²(2)

where n_ij counts the days t = 2..n with I_{t−1} = i and I_t = j, π01 = n01 / (n00 + n01),
π11 = n11 / (n10 + n11) and π = (n01 + n11) / (n00 + n01 + n10 + n11). Every ``0 · log 0`` is 0, its
limit, so no count gives NaN: 0 exceptions or n exceptions give a finite LR_pof; a transition row that
never occurs (no exception before the last day, so n10 + n11 = 0) contributes nothing, and with no
exceptions, only exceptions or fewer than 2 days LR_ind is 0 (p-value 1): no evidence of clustering.

The Basel traffic light (Basel Committee, 1996) counts exceptions of a 99% VaR over 250 days: green 0–4,
yellow 5–9, red 10 or more. Those cuts are where the cumulative probability P(X <= x), X ~ Binomial(n, p),
reaches 95% (yellow) and 99.99% (red); `traffic_light` applies that rule to any n and level, so it gives
the table's cuts at n = 250, level 0.99, and scaled ones elsewhere. Zero exceptions is always green (for
n <= 5 at 99%, P(X <= 0) >= 95% would otherwise call a perfect record yellow).

Shapes: ``n`` days, ``K`` quantile levels, ``S`` sample paths.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["TrafficLightWindow", "VarBacktest", "Zone", "christoffersen_independence", "conditional_coverage",
           "es_from_quantiles", "es_from_samples", "es_levels", "exceptions", "kupiec_pof", "traffic_light",
           "traffic_light_limits", "traffic_light_windows", "var_backtest", "var_from_quantiles",
           "var_from_samples"]

Zone = Literal["green", "yellow", "red"]
_LEVEL_TOLERANCE = 1e-9  # 1 - 0.99 is 0.010000000000000009, and a quantile key of 0.01 must still match
_YELLOW_FROM, _RED_FROM = 0.95, 0.9999  # Basel's cumulative binomial probabilities


# -- validation ---------------------------------------------------------------------------------------------
def _tail(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError(f"level ({level}) must be in (0, 1): the VaR confidence level, e.g. 0.99")
    return 1 - level


def _finite(name: str, values: ArrayLike, ndim: int | None = 1) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name} (shape {array.shape}) must be {ndim}-D")
    if array.size == 0:
        raise ValueError(f"{name} (shape {array.shape}) must not be empty")
    bad = np.flatnonzero(~np.isfinite(array))
    if len(bad):
        raise ValueError(f"{name} ({len(bad)} non-finite values, first at flat index {bad[0]}) must be finite")
    return array


def _same_length(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{name_a} (length {len(a)}) and {name_b} (length {len(b)}) must have the same length: "
                         "one value per day")


def _hits(hits: ArrayLike) -> np.ndarray:
    array = np.asarray(hits)
    if array.ndim != 1:
        raise ValueError(f"hits (shape {array.shape}) must be 1-D: one flag per day, in time order")
    if not np.isin(array, (0, 1)).all():
        raise ValueError(f"hits (values {np.unique(array)[:5].tolist()}) must be booleans or 0/1")
    return array.astype(bool)


def _quantile_table(quantiles: Mapping[float, ArrayLike]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted levels ``(K,)`` and their quantiles stacked ``(K, ...)``."""
    if not quantiles:
        raise ValueError("quantiles ({}) must map at least one level in (0, 1) to its quantiles")
    levels = sorted(quantiles)
    for q in levels:
        if not 0 < q < 1:
            raise ValueError(f"quantiles (level {q}) must have levels in (0, 1)")
    values = [_finite(f"quantiles[{q}]", quantiles[q], ndim=None) for q in levels]
    shapes = {v.shape for v in values}
    if len(shapes) > 1:
        raise ValueError(f"quantiles (shapes {sorted(shapes)}) must all have one shape: one value per day")
    return np.array(levels), np.stack(values)  # (K,), (K, ...)


# -- VaR and ES from a forecast distribution ------------------------------------------------------------------
def var_from_quantiles(quantiles: Mapping[float, ArrayLike], level: float) -> np.ndarray:
    """The VaR line at ``level``: the forecast's (1 − level)-quantile, a return (negative for a loss).

    Models give quantiles at a few levels (a central band at L gives (1 ± L) / 2), so a tail level that is
    not among them is interpolated linearly between the two given levels around it; one outside the given
    range is refused rather than extrapolated.

    Args:
        quantiles: quantile level in (0, 1) → that quantile per day, all of one shape, e.g. ``(n,)``.
        level: the VaR confidence level in (0, 1), e.g. 0.99 for the 1% quantile.

    Returns:
        The (1 − level)-quantile, of the quantiles' shape.

    Raises:
        ValueError: a level outside (0, 1), non-finite or mismatched quantiles, or a tail level outside the
            given levels.

    Example:
        >>> var_from_quantiles({0.01: np.array([-0.03, -0.02]), 0.5: np.array([0.0, 0.0])}, 0.99)
        array([-0.03, -0.02])
    """
    tail = _tail(level)
    levels, values = _quantile_table(quantiles)
    match = np.flatnonzero(np.abs(levels - tail) <= _LEVEL_TOLERANCE)
    if len(match):
        return values[match[0]]
    if not levels[0] < tail < levels[-1]:
        raise ValueError(f"quantiles (levels {levels.tolist()}) must include or bracket 1 - level ({tail:.6g}) "
                         "to give the VaR line without extrapolating")
    above = int(np.searchsorted(levels, tail))
    weight = (tail - levels[above - 1]) / (levels[above] - levels[above - 1])
    return (1 - weight) * values[above - 1] + weight * values[above]


def var_from_samples(samples: ArrayLike, level: float) -> np.ndarray:
    """The VaR line at ``level`` from sample paths: the empirical (1 − level)-quantile along the last axis.

    Args:
        samples: ``(n, S)`` sampled returns per day (or ``(S,)`` for one day).
        level: the VaR confidence level in (0, 1).

    Returns:
        Shape ``samples.shape[:-1]``.

    Example:
        >>> float(var_from_samples(np.arange(101.0) - 50, 0.99))
        -49.0
    """
    tail = _tail(level)
    return np.quantile(_finite("samples", samples, ndim=None), tail, axis=-1)  # (n, S) -> (n,)


def es_from_samples(samples: ArrayLike, level: float) -> np.ndarray:
    """Expected shortfall at ``level``: the mean of the sampled returns at or below their (1 − level)-quantile.

    The tail always holds at least the smallest sample, so the mean is never empty; with S samples it holds
    about (1 − level)·S of them, so S should be large (10,000 samples give 100 in a 1% tail).

    Args:
        samples: ``(n, S)`` sampled returns per day (or ``(S,)`` for one day).
        level: the VaR confidence level in (0, 1).

    Returns:
        Shape ``samples.shape[:-1]``; <= `var_from_samples` at the same level.

    Example:
        >>> float(es_from_samples(np.arange(101.0) - 50, 0.98))  # the mean of -50, -49 and -48
        -49.0
    """
    tail = _tail(level)
    samples = _finite("samples", samples, ndim=None)
    cut = np.quantile(samples, tail, axis=-1, keepdims=True)  # (n, 1)
    in_tail = samples <= cut  # (n, S)
    return np.where(in_tail, samples, 0.0).sum(axis=-1) / in_tail.sum(axis=-1)


def es_levels(level: float, count: int = 20) -> tuple[float, ...]:
    """The quantile levels to ask a model for so that `es_from_quantiles` is the midpoint rule.

    Example:
        >>> es_levels(0.99, 4)
        (0.00125, 0.00375, 0.00625, 0.00875)
    """
    tail = _tail(level)
    if count < 1:
        raise ValueError(f"count ({count}) must be >= 1: the number of tail quantile levels")
    return tuple(round(tail * (k - 0.5) / count, 12) for k in range(1, count + 1))


def es_from_quantiles(quantiles: Mapping[float, ArrayLike], level: float) -> np.ndarray:
    """Expected shortfall at ``level`` as the plain average of the given quantiles at levels in (0, 1 − level].

    ES is (1/p) ∫_0^p q(u) du; averaging quantiles at levels spread evenly over the tail discretises that
    integral, best at the midpoints p (k − ½) / K that `es_levels` returns (the 1% ES of a normal from 20
    midpoints is within 0.2% of the closed form). Unevenly spread levels weigh their crowded part too much;
    a single level p gives the VaR itself, an upper bound on the ES.

    Args:
        quantiles: quantile level in (0, 1) → that quantile per day, all of one shape; levels above
            1 − level are ignored.
        level: the VaR confidence level in (0, 1).

    Returns:
        The ES, of the quantiles' shape.

    Raises:
        ValueError: no level in (0, 1 − level], or bad quantiles or level.

    Example:
        >>> float(es_from_quantiles({0.0025: -3.0, 0.0075: -2.5, 0.5: 0.0}, 0.99))
        -2.75
    """
    tail = _tail(level)
    levels, values = _quantile_table(quantiles)
    in_tail = levels <= tail + _LEVEL_TOLERANCE
    if not in_tail.any():
        raise ValueError(f"quantiles (levels {levels.tolist()}) must include a level in (0, 1 - level] = "
                         f"(0, {tail:.6g}] to average the tail")
    return values[in_tail].mean(axis=0)


# -- exceptions and their tests -----------------------------------------------------------------------------
def exceptions(returns: ArrayLike, var_line: ArrayLike) -> np.ndarray:
    """The hit sequence: True on the days whose realised return falls strictly below the VaR line.

    Example:
        >>> exceptions([-0.05, 0.01, -0.02], [-0.03, -0.03, -0.02]).tolist()
        [True, False, False]
    """
    returns, var_line = _finite("returns", returns), _finite("var_line", var_line)
    _same_length("returns", returns, "var_line", var_line)
    return returns < var_line


def _xlogy(x: float, y: float) -> float:
    """x · log y with 0 · log 0 = 0, its limit, so that empty counts add nothing instead of NaN."""
    return 0.0 if x == 0 else x * math.log(y)


def _chi2_sf(statistic: float, df: Literal[1, 2]) -> float:
    # Closed forms: P(χ²₁ > s) = erfc(√(s/2)), P(χ²₂ > s) = exp(−s/2); no scipy needed.
    return math.erfc(math.sqrt(statistic / 2)) if df == 1 else math.exp(-statistic / 2)


def kupiec_pof(count: int, n: int, level: float) -> tuple[float, float]:
    """Kupiec's (1995) proportion-of-failures test: is the exception rate x/n the VaR's 1 − level?

    Args:
        count: x, the number of exceptions, in [0, n].
        n: the number of days, >= 1.
        level: the VaR confidence level in (0, 1).

    Returns:
        (LR_pof, p-value from χ² with 1 degree of freedom); too many and too few exceptions both reject.

    Example:
        >>> statistic, p_value = kupiec_pof(0, 250, 0.99)
        >>> round(statistic, 4), round(p_value, 3)
        (5.0252, 0.025)
    """
    p = _tail(level)
    if n < 1:
        raise ValueError(f"n ({n}) must be >= 1: the number of days")
    if not 0 <= count <= n:
        raise ValueError(f"count ({count}) must be in [0, n] = [0, {n}]: the number of exceptions")
    rate = count / n
    log_null = _xlogy(n - count, 1 - p) + _xlogy(count, p)
    log_fitted = _xlogy(n - count, 1 - rate) + _xlogy(count, rate)
    statistic = max(0.0, -2 * (log_null - log_fitted))  # >= 0 in exact arithmetic; rounding can dip below
    return statistic, _chi2_sf(statistic, 1)


def _transition_counts(hits: np.ndarray) -> tuple[int, int, int, int]:
    before, after = hits[:-1], hits[1:]
    return (int(np.sum(~before & ~after)), int(np.sum(~before & after)),
            int(np.sum(before & ~after)), int(np.sum(before & after)))


def christoffersen_independence(hits: ArrayLike) -> tuple[float, float]:
    """Christoffersen's (1998) independence test: is an exception as likely after an exception as after none?

    Fits a first-order Markov chain to the hit sequence and compares it with independent draws; the
    degenerate counts (no exceptions, only exceptions, a transition row that never occurs, fewer than 2
    days) follow the module docstring's ``0 · log 0 = 0`` convention.

    Args:
        hits: the hit sequence from `exceptions`, booleans or 0/1, in time order.

    Returns:
        (LR_ind, p-value from χ² with 1 degree of freedom); a small p-value means clustered exceptions.

    Example:
        >>> statistic, p_value = christoffersen_independence([0] * 5 + [1] * 3 + [0] * 10 + [1] * 3 + [0] * 9)
        >>> round(p_value, 4)
        0.0039
    """
    n00, n01, n10, n11 = _transition_counts(_hits(hits))
    pairs = n00 + n01 + n10 + n11
    if pairs == 0:
        return 0.0, 1.0
    pi = (n01 + n11) / pairs
    pi01 = n01 / (n00 + n01) if n00 + n01 else 0.0  # unused where its row is empty: both counts are 0
    pi11 = n11 / (n10 + n11) if n10 + n11 else 0.0
    log_independent = _xlogy(n00 + n10, 1 - pi) + _xlogy(n01 + n11, pi)
    log_markov = _xlogy(n00, 1 - pi01) + _xlogy(n01, pi01) + _xlogy(n10, 1 - pi11) + _xlogy(n11, pi11)
    statistic = max(0.0, -2 * (log_independent - log_markov))
    return statistic, _chi2_sf(statistic, 1)


def conditional_coverage(hits: ArrayLike, level: float) -> tuple[float, float]:
    """Christoffersen's conditional coverage: the right rate and independence, LR_pof + LR_ind, χ² with 2 df.

    Example:
        >>> statistic, p_value = conditional_coverage([0] * 250, 0.99)
        >>> round(statistic, 4), round(p_value, 3)
        (5.0252, 0.081)
    """
    hits = _hits(hits)
    pof, _ = kupiec_pof(int(hits.sum()), len(hits), level)
    independence, _ = christoffersen_independence(hits)
    statistic = pof + independence
    return statistic, _chi2_sf(statistic, 2)


# -- the Basel traffic light ---------------------------------------------------------------------------------
def traffic_light_limits(n: int = 250, level: float = 0.99) -> tuple[int, int]:
    """The most exceptions still green and still yellow in ``n`` days, by the binomial rule: (4, 9) at 250, 99%.

    Example:
        >>> traffic_light_limits(500)
        (8, 14)
    """
    p = _tail(level)
    if n < 1:
        raise ValueError(f"n ({n}) must be >= 1: the number of days")
    from scipy import stats  # ~0.2 s: imported when a zone is asked for, not when evaluate is imported

    cumulative = stats.binom.cdf(np.arange(n + 1), n, p)  # (n + 1,), nondecreasing, ends at 1
    green_max = max(0, int(np.sum(cumulative < _YELLOW_FROM)) - 1)
    yellow_max = max(green_max, int(np.sum(cumulative < _RED_FROM)) - 1)
    return green_max, yellow_max


def traffic_light(count: int, n: int = 250, level: float = 0.99) -> Zone:
    """The Basel zone of ``count`` exceptions in ``n`` days; see the module docstring for the rule.

    Example:
        >>> traffic_light(4), traffic_light(5), traffic_light(10)
        ('green', 'yellow', 'red')
    """
    green_max, yellow_max = traffic_light_limits(n, level)
    if not 0 <= count <= n:
        raise ValueError(f"count ({count}) must be in [0, n] = [0, {n}]: the number of exceptions")
    return "green" if count <= green_max else "yellow" if count <= yellow_max else "red"


@dataclass(frozen=True)
class TrafficLightWindow:
    """One window of days ``[start, stop)`` with its exceptions and zone; ``partial`` marks a short last one,
    whose zone is the binomial rule at its own length."""

    start: int
    stop: int
    exceptions: int
    zone: Zone
    partial: bool


def traffic_light_windows(hits: ArrayLike, level: float = 0.99, window: int = 250) -> tuple[TrafficLightWindow, ...]:
    """The zones of consecutive non-overlapping windows of ``window`` days, from the first day on.

    Example:
        >>> [w.zone for w in traffic_light_windows([1] * 10 + [0] * 490)]
        ['red', 'green']
    """
    hits = _hits(hits)
    if window < 1:
        raise ValueError(f"window ({window}) must be >= 1: days per traffic-light window")
    result = []
    for start in range(0, len(hits), window):
        stop = min(start + window, len(hits))
        count = int(hits[start:stop].sum())
        result.append(TrafficLightWindow(start, stop, count, traffic_light(count, stop - start, level),
                                         partial=stop - start < window))
    return tuple(result)


# -- one backtest -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VarBacktest:
    """A VaR (and optionally ES) backtest of one series; `to_dict` is JSON-ready (no NaN, plain types).

    Attributes:
        level: the VaR confidence level, e.g. 0.99.
        n: days tested; exceptions: days below the VaR line; expected: n · (1 − level); rate: exceptions / n.
        kupiec_stat, kupiec_p: the proportion-of-failures test (χ², 1 df).
        independence_stat, independence_p: Christoffersen's independence test (χ², 1 df).
        coverage_stat, coverage_p: conditional coverage, the sum of the two (χ², 2 df).
        zone: the traffic light of all n days (the binomial rule at length n).
        windows: the traffic light per ``window`` days, the last one possibly partial.
        mean_es: the mean forecast ES over the exception days, None without ES or exceptions.
        mean_tail_return: the mean realised return over the exception days, None without exceptions; an ES
            that is right on average matches it.
    """

    level: float
    n: int
    exceptions: int
    expected: float
    rate: float
    kupiec_stat: float
    kupiec_p: float
    independence_stat: float
    independence_p: float
    coverage_stat: float
    coverage_p: float
    zone: Zone
    windows: tuple[TrafficLightWindow, ...]
    mean_es: float | None
    mean_tail_return: float | None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "windows": [asdict(w) for w in self.windows]}


def var_backtest(returns: ArrayLike, var_line: ArrayLike, level: float, es: ArrayLike | None = None,
                 window: int = 250) -> VarBacktest:
    """Backtest a VaR line (and its ES) against the realised returns: every test of this module in one record.

    Args:
        returns: ``(n,)`` realised returns, in time order.
        var_line: ``(n,)`` the forecast (1 − level)-quantiles of those returns (negative for a loss).
        level: the VaR confidence level in (0, 1).
        es: ``(n,)`` the forecast expected shortfall, <= ``var_line`` on every day, or None.
        window: days per traffic-light window (Basel: 250).

    Raises:
        ValueError: arrays of other lengths, non-finite values, a level outside (0, 1), or an ES above the
            VaR line (a sign flipped somewhere). The message names the argument, its value and the rule.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> result = var_backtest(rng.normal(size=1000), np.full(1000, -2.326), 0.99)
        >>> result.zone, result.kupiec_p > 0.05
        ('green', True)
    """
    hits = exceptions(returns, var_line)
    returns, count = np.asarray(returns, dtype=np.float64), int(hits.sum())
    mean_es = None
    if es is not None:
        es = _finite("es", es)
        _same_length("es", es, "returns", returns)
        above = np.flatnonzero(es > np.asarray(var_line, dtype=np.float64))
        if len(above):
            raise ValueError(f"es ({es[above[0]]:.6g} at index {above[0]}) must be <= var_line there: the mean of "
                             "the tail lies below its quantile, both as returns (losses negative)")
        mean_es = float(es[hits].mean()) if count else None
    kupiec = kupiec_pof(count, len(hits), level)
    independence = christoffersen_independence(hits)
    coverage = conditional_coverage(hits, level)
    return VarBacktest(level=float(level), n=len(hits), exceptions=count, expected=len(hits) * (1 - level),
                       rate=count / len(hits), kupiec_stat=kupiec[0], kupiec_p=kupiec[1],
                       independence_stat=independence[0], independence_p=independence[1],
                       coverage_stat=coverage[0], coverage_p=coverage[1],
                       zone=traffic_light(count, len(hits), level), windows=traffic_light_windows(hits, level, window),
                       mean_es=mean_es, mean_tail_return=float(returns[hits].mean()) if count else None)
