r"""Volatility models as numbers: log returns in, variances and predictive distributions of cumulative log
returns out. No panels, no dates, no prices (`hpcast.forecast.volatility` owns those).

With r_t the log return of day t and σ²_t its variance given the returns before t:

    EWMA (RiskMetrics)   σ²_{t+1} = λ σ²_t + (1 − λ) r²_t                  zero mean, normal, λ = 0.94
    GJR-GARCH(1,1)       r_t = μ + ε_t,  ε_t = σ_t z_t,  z_t ~ skew-t(η, λ) with mean 0 and variance 1
                         σ²_{t+1} = ω + (α + γ·1[ε_t < 0]) ε²_t + β σ²_t      (fitted by arch on 100·r_t)
    HAR (log)            y_t = log v_t of a daily variance proxy v_t
                         y_{t+1} = b₀ + b₁ y_t + b₂ mean(y_{t−4..t}) + b₃ mean(y_{t−21..t}) + e_{t+1}   (OLS)
                         σ²_{T+k} = exp(ŷ_{T+k}) · mean(exp(ê))   (Duan's smearing: E exp(e), not exp E e)
    Garman–Klass         v_t = ½ ln(H_t/L_t)² − (2 ln 2 − 1) ln(C_t/O_t)²

A predictive distribution is of R_k = r_{T+1} + ... + r_{T+k}, k = 1..h: `NormalReturns` (analytic: the
per-step variances add up) or `SampledReturns` (simulated paths, step 1 exact from the fitted distribution).

Legend: n returns, h horizon steps, P simulated paths, L probability levels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter
from scipy.special import ndtri

__all__ = ["EWMA_START", "GARCH_PARAMETERS", "HAR_LAGS", "RISKMETRICS_DECAY", "GarchFit", "NormalReturns",
           "SampledReturns", "bootstrap_returns", "ewma_forecast", "ewma_variance", "fit_gjr_garch", "garman_klass",
           "gjr_garch_returns", "har_fit", "har_regressors", "har_variances", "log_returns", "non_narrowing"]

RISKMETRICS_DECAY = 0.94  # J.P. Morgan/Reuters RiskMetrics (1996), daily data
EWMA_START = 22  # squared returns averaged for the EWMA's σ²_1 (its weight after 100 more returns: under 0.2%)
HAR_LAGS = (1, 5, 22)  # a day, a week, a month of trading days (Corsi 2009)
GARCH_PARAMETERS = ("mu", "omega", "alpha[1]", "gamma[1]", "beta[1]", "eta", "lambda")  # arch's order


def log_returns(prices: np.ndarray) -> np.ndarray:
    """``(n + 1,)`` positive prices -> ``(n,)`` log returns."""
    return np.diff(np.log(prices))


# -- distributions of cumulative log returns ---------------------------------------------------------------
@dataclass(frozen=True)
class NormalReturns:
    """Independent normal steps with per-step ``variances (h,)`` and a per-step ``mean``: R_k is normal with
    mean k·mean and variance Σ_{j≤k} variances_j, so its quantiles are exact without simulation."""

    variances: np.ndarray  # (h,)
    mean: float = 0.0

    @property
    def variance1(self) -> float:
        return float(self.variances[0])

    def quantiles(self, probs: Sequence[float]) -> np.ndarray:
        """``(L, h)`` quantiles of R_1..R_h at ``probs``."""
        steps = np.arange(1, len(self.variances) + 1)
        spread = np.sqrt(np.cumsum(self.variances))  # (h,)
        return steps * self.mean + ndtri(np.asarray(probs, dtype=np.float64))[:, None] * spread  # (L, h)


@dataclass(frozen=True)
class SampledReturns:
    """R_k from simulated paths ``samples (P, h)`` (None when h = 1), step 1 from ``first``: the exact
    quantile function ``probs (L,) -> (L,)`` of the next return under the fitted distribution."""

    variance1: float
    first: Callable[[np.ndarray], np.ndarray]
    samples: np.ndarray | None

    def quantiles(self, probs: Sequence[float]) -> np.ndarray:
        """``(L, h)`` quantiles of R_1..R_h at ``probs`` (sample quantiles past step 1)."""
        probs = np.asarray(probs, dtype=np.float64)
        first = np.asarray(self.first(probs), dtype=np.float64)[:, None]  # (L, 1)
        if self.samples is None:
            return first
        return np.concatenate([first, np.quantile(self.samples[:, 1:], probs, axis=0)], axis=1)  # (L, h)


def non_narrowing(lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bands ``(..., K, h)`` (K levels, narrowest first) widened where a step's width dips below an earlier
    step's (both ends move out by half the dip), and each band widened to contain the narrower one.

    The width of R_k's central interval grows with k for all four models; with sampled quantiles a long
    horizon's step-to-step growth can drop below Monte Carlo noise, and this keeps that noise out of the bands.
    """
    lower, upper = lower.copy(), upper.copy()
    for band in range(lower.shape[-2]):
        width = upper[..., band, :] - lower[..., band, :]  # (..., h)
        dip = np.maximum.accumulate(width, axis=-1) - width  # 0 where the width grows
        lower[..., band, :] -= dip / 2
        upper[..., band, :] += dip / 2
        if band:
            lower[..., band, :] = np.minimum(lower[..., band, :], lower[..., band - 1, :])
            upper[..., band, :] = np.maximum(upper[..., band, :], upper[..., band - 1, :])
    return lower, upper


# -- EWMA and historical simulation -------------------------------------------------------------------------
def ewma_variance(returns: np.ndarray, decay: float, initial: float) -> np.ndarray:
    """``(n + 1,)`` variances σ²_1..σ²_{n+1} of ``returns (n,)``: σ²_1 = ``initial``, then the recursion in the
    module docstring; the last entry is the one-step forecast.

    Example:
        >>> ewma_variance(np.array([0.02]), 0.94, 1e-4).round(6).tolist()
        [0.0001, 0.000118]
    """
    squared = np.asarray(returns, dtype=np.float64) ** 2
    # lfilter: v[t] = λ v[t-1] + (1 − λ) r²[t], with v[-1] = initial carried in as the filter state λ·initial
    later = lfilter([1.0 - decay], [1.0, -decay], squared, zi=[decay * initial])[0]
    return np.concatenate([[initial], later])


def ewma_forecast(returns: np.ndarray, decay: float = RISKMETRICS_DECAY) -> float:
    """The one-step EWMA variance after ``returns (n,)``, n ≥ 1: `ewma_variance` started at the mean of the
    first `EWMA_START` squared returns (all of them where fewer). The one EWMA of the project: the ``ewma``
    baseline's variance and the scale of a point network's ``--calibration ewma`` bands.

    Example:
        >>> round(ewma_forecast(np.array([0.01, -0.01])), 8)  # σ²_1 = 1e-4, and r² = 1e-4 throughout
        0.0001
    """
    returns = np.asarray(returns, dtype=np.float64)
    if len(returns) == 0:
        raise ValueError("an EWMA variance needs at least one return (two prices)")
    return float(ewma_variance(returns, decay, float(np.mean(returns[:EWMA_START] ** 2)))[-1])


def bootstrap_returns(returns: np.ndarray, horizon: int, paths: int, generator: np.random.Generator) -> SampledReturns:
    """Historical simulation: the next returns drawn independently from the empirical distribution of
    ``returns (n,)``; step 1's quantiles are ``np.quantile(returns, probs)`` itself."""
    returns = np.asarray(returns, dtype=np.float64)
    samples = None
    if horizon > 1:
        samples = np.cumsum(generator.choice(returns, size=(paths, horizon)), axis=1)  # (P, h)
    return SampledReturns(float(np.var(returns)), lambda probs: np.quantile(returns, probs), samples)


# -- HAR -----------------------------------------------------------------------------------------------------
def garman_klass(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """``(n,)`` Garman–Klass (1980) range variances of n days (module docstring); open to close only."""
    return 0.5 * np.log(high / low) ** 2 - (2 * np.log(2) - 1) * np.log(close / open_) ** 2


def har_regressors(log_variance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The HAR design ``X (m, 4)``: [1, y_t, mean y_{t−4..t}, mean y_{t−21..t}], and targets y_{t+1} ``(m,)``,
    for every t with 22 values through t and one after it (m = n − 22)."""
    y = np.asarray(log_variance, dtype=np.float64)
    longest = HAR_LAGS[-1]
    ends = np.arange(longest - 1, len(y) - 1)  # (m,) the t of each row
    sums = np.concatenate([[0.0], np.cumsum(y)])  # (n + 1,): sums[i] = y_0 + ... + y_{i-1}
    means = [(sums[ends + 1] - sums[ends + 1 - lag]) / lag for lag in HAR_LAGS]
    return np.column_stack([np.ones(len(ends)), *means]), y[ends + 1]


def har_fit(log_variance: np.ndarray) -> tuple[np.ndarray, float]:
    """OLS coefficients ``(4,)`` (b₀..b₃) of the HAR regression on ``log_variance (n,)``, and the smearing
    factor mean(exp(residual))."""
    X, y = har_regressors(log_variance)
    coefficients = np.linalg.lstsq(X, y, rcond=None)[0]
    return coefficients, float(np.mean(np.exp(y - X @ coefficients)))


def har_variances(log_variance: np.ndarray, coefficients: np.ndarray, smearing: float, horizon: int) -> np.ndarray:
    """``(h,)`` variance forecasts σ²_{T+1..T+h}: the regression iterated on its own log-variance forecasts,
    each exponentiated and multiplied by ``smearing``."""
    y = list(np.asarray(log_variance, dtype=np.float64)[-HAR_LAGS[-1]:])
    for _ in range(horizon):
        y.append(float(coefficients @ [1.0, *(np.mean(y[-lag:]) for lag in HAR_LAGS)]))
    return np.exp(np.array(y[HAR_LAGS[-1]:])) * smearing


# -- GJR-GARCH (arch) ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GarchFit:
    """Maximum-likelihood parameters (in `GARCH_PARAMETERS` order, percent units) and scipy's verdict:
    ``flag`` 0 when the optimiser converged, else its status and ``message``."""

    parameters: tuple[float, ...]
    flag: int
    message: str


def _gjr_model(percent_returns: np.ndarray) -> object:
    from arch import arch_model  # heavy: imported on use

    return arch_model(percent_returns, mean="Constant", vol="GARCH", p=1, o=1, q=1, dist="skewt")


def fit_gjr_garch(percent_returns: np.ndarray) -> GarchFit:
    """GJR-GARCH(1,1) with skew-t errors and a constant mean, by arch, on returns in percent (100·r: arch's
    optimiser is tuned for that scale). arch's convergence warning is off: ``flag`` carries it to the caller."""
    result = _gjr_model(percent_returns).fit(disp="off", show_warning=False)  # type: ignore[attr-defined]
    return GarchFit(tuple(float(value) for value in result.params), int(result.convergence_flag),
                    str(result.optimization_result.message))


def gjr_garch_returns(percent_returns: np.ndarray, parameters: Sequence[float], horizon: int, paths: int,
                      generator: np.random.Generator) -> SampledReturns:
    """The distribution of the next ``horizon`` log returns (not percent) after ``percent_returns (n,)`` under
    fixed ``parameters``: arch filters the variance through the history; step 1 is μ + σ_{T+1}·F⁻¹(p) of the
    skew-t, later steps come from ``paths`` paths arch simulates with skew-t shocks drawn by ``generator``."""
    from arch.univariate import SkewStudent

    parameters = np.asarray(parameters, dtype=np.float64)
    mu, shape = parameters[0], parameters[-2:]
    fixed = _gjr_model(percent_returns).fix(parameters)  # type: ignore[attr-defined]
    if horizon == 1:
        forecast = fixed.forecast(horizon=1, reindex=False)
    else:
        shocks = SkewStudent(seed=generator).simulate(shape)  # size -> standardised skew-t draws
        forecast = fixed.forecast(horizon=horizon, method="simulation", simulations=paths, rng=shocks, reindex=False)
    variance1 = float(forecast.variance.to_numpy()[-1, 0])  # percent²; step 1 is not simulated
    skew_t = SkewStudent()

    def first(probs: np.ndarray) -> np.ndarray:
        return (mu + np.sqrt(variance1) * skew_t.ppf(probs, shape)) / 100.0

    samples = None if horizon == 1 else np.cumsum(forecast.simulations.values[-1], axis=1) / 100.0  # (P, h)
    return SampledReturns(variance1 / 1e4, first, samples)
