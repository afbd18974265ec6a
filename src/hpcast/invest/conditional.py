"""Today's volatility in the simulator: filtered historical simulation (Barone-Adesi, Giannopoulos & Vosper, 1999).

The plain block bootstrap gives the spread of the last five years whatever today looks like: too wide in a
calm month, too narrow the week after a crash. Here, per asset (returns r_t over the lookback, known on
the as-of date T):

1. **A volatility model** filters σ_t, each day's volatility known the day before: GJR-GARCH(1,1) fitted by
   `arch` (Gaussian quasi-likelihood, constant mean) on the lookback's returns, or RiskMetrics' EWMA
   (λ = 0.94). The one kept is the one that forecast the variance of the *simulated horizon's* summed
   returns better out of sample (`choose`): over the lookback's last two years (`HELD_OUT`), at every
   fifth day whose next h returns are known, each model's expected h-day variance
   (`VolatilityView.horizon_variance`: GARCH reverts to its long-run level, EWMA persists) against the
   realised sum of squares, scored by QLIKE (`hpcast.evaluate.scores.qlike`). GARCH is fitted once, on the
   three years before those two (fitted on all five, its long-run level would match the lookback's own
   average and flatter its score), and the same parameters filter today's volatility through the last two
   years: the model scored out of sample is the model simulated. A GARCH fit that did not converge is not
   a candidate (the answer says so).
2. **Standardised shocks** z_t = (r_t − μ) / σ_t, centred, taken jointly: a block of 20 consecutive common
   days is resampled for all assets at once, so cross-asset dependence (and what the model left of
   volatility clustering) survives.
3. **Rescaled by the forecast path**: each simulated day's shock is scaled by the model's volatility on that
   path, σ_{T+1} from the filter on day one, then the model's own recursion on the simulated returns, so
   a path that meets a shock grows more volatile, and today's level decays towards the long-run one as the
   model says (GARCH) or persists (EWMA).

The simulated returns have zero mean: the expected path (a champion's forecast or the drift) is added by
`hpcast.invest.simulate`, as for the bootstrap.

Legend: n lookback days, A assets, P paths, T simulated days, K kept steps.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from numba import njit

from hpcast.evaluate.scores import qlike
from hpcast.models.volatility import EWMA_START, RISKMETRICS_DECAY, ewma_variance

__all__ = ["REGIME_WINDOW", "Candidates", "VolatilityView", "candidates", "choose", "filtered_paths",
           "horizon_qlike", "regime", "rolling_volatility", "standardised"]

REGIME_WINDOW = 21  # trading days of the allocation's realised volatility that place today in a regime
_TRADING_DAYS = 252
_THIRDS = ("bottom", "middle", "top")
_WIDTH = {"bottom": "narrower than usual", "middle": "about as wide as usual", "top": "wider than usual"}


@dataclass(frozen=True)
class VolatilityView:
    """One asset's volatility model at the as-of date: its filtered ``sigma (n,)`` of every lookback return, the
    next day's ``next_sigma``, its recursion's parameters and why it was chosen."""

    model: str  # "gjr-garch" or "ewma"
    sigma: np.ndarray  # (n,)
    next_sigma: float
    mean: float  # μ, the daily mean the shocks are centred on
    omega: float = 0.0  # GJR-GARCH in return units (not percent); EWMA: alpha = 1 − λ, beta = λ
    alpha: float = 1.0 - RISKMETRICS_DECAY
    gamma: float = 0.0
    beta: float = RISKMETRICS_DECAY
    scores: tuple[tuple[str, float], ...] = ()  # (model, QLIKE over the scored days), each candidate
    why: str = ""
    dates: np.ndarray | None = None  # (n,) int64 ns: the day of each return, where the caller gave them

    def sigma_at(self, dates: np.ndarray) -> np.ndarray:
        """σ of the returns ending on ``dates`` (a subset of `dates`: an allocation's common days)."""
        assert self.dates is not None
        return self.sigma[np.searchsorted(self.dates, dates)]

    @property
    def label(self) -> str:
        return "GJR-GARCH(1,1)" if self.model == "gjr-garch" else "EWMA (RiskMetrics, λ = 0.94)"

    @property
    def persistence(self) -> float:
        """How much of today's excess variance is left tomorrow, in expectation: α + γ/2 + β (γ/2: half the
        shocks are negative, for a symmetric shock distribution). EWMA's is 1: it never reverts."""
        return self.alpha + self.gamma / 2 + self.beta

    def horizon_variance(self, first: np.ndarray | float, horizon: int) -> np.ndarray:
        """Expected variance of the sum of the next ``horizon`` returns from next-day variances ``first``:
        Σ_k E σ²_{t+k} = h·V + (σ²_{t+1} − V)(1 − p^h)/(1 − p), V = ω/(1 − p) the long-run variance; h·σ²_{t+1}
        for EWMA (p = 1, ω = 0)."""
        first = np.asarray(first, dtype=np.float64)
        p = self.persistence
        if p >= 1.0 - 1e-9:
            return horizon * first + self.omega * horizon * (horizon - 1) / 2
        long_run = self.omega / (1.0 - p)
        return horizon * long_run + (first - long_run) * (1.0 - p**horizon) / (1.0 - p)

    def annual(self) -> float:
        """Tomorrow's volatility, annualised (√252 trading days)."""
        return self.next_sigma * np.sqrt(_TRADING_DAYS)

    def to_dict(self) -> dict[str, object]:
        return {"model": self.model, "label": self.label, "annual_volatility": float(self.annual()),
                "qlike": dict(self.scores), "why": self.why}


def _ewma(returns: np.ndarray, mean: float) -> tuple[np.ndarray, float]:
    """EWMA's σ of each centred return (known the day before) and tomorrow's."""
    centred = returns - mean
    variances = ewma_variance(centred, RISKMETRICS_DECAY, float(np.mean(centred[:EWMA_START] ** 2)))
    return np.sqrt(variances[:-1]), float(np.sqrt(variances[-1]))


def _gjr(returns: np.ndarray) -> VolatilityView | None:
    """GJR-GARCH(1,1) parameters fitted on ``returns`` (arch, on percent returns, in return units here), or
    None where the fit did not converge; its σ come from `_through`."""
    import warnings

    from arch import arch_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # arch's scaling and convergence warnings: the flag below decides
        fit = arch_model(100.0 * returns, mean="Constant", vol="GARCH", p=1, o=1, q=1, dist="normal",
                         rescale=False).fit(disp="off", show_warning=False)
    if fit.convergence_flag != 0:
        return None
    mu, omega, alpha, gamma, beta = (float(fit.params[k]) for k in ("mu", "omega", "alpha[1]", "gamma[1]", "beta[1]"))
    return VolatilityView("gjr-garch", np.empty(0), float("nan"), mu / 100.0, omega / 1e4, alpha, gamma, beta)


HELD_OUT = 504  # the lookback's last two years: the models' horizon forecasts are scored there, GARCH fitted before


@dataclass(frozen=True)
class Candidates:
    """The volatility models of one asset's lookback ``returns (n,)`` (days ``dates``, int64 ns): EWMA always,
    GJR-GARCH where its fit on the days before ``first_scored`` (the lookback less its last `HELD_OUT`)
    converged, filtered with those parameters through every day to the as-of date. The days from
    ``first_scored`` on score both models out of sample (`choose`); the fit is the costly part."""

    returns: np.ndarray
    dates: np.ndarray | None
    views: tuple[VolatilityView, ...]
    first_scored: int


def _through(view: VolatilityView, returns: np.ndarray) -> VolatilityView:
    """``view``'s parameters filtered through every one of ``returns``: σ of each (known the day before, from
    the mean square of the first `EWMA_START` centred returns) and tomorrow's."""
    centred = np.asarray(returns, dtype=np.float64) - view.mean
    variance, sigma = float(np.mean(centred[:EWMA_START] ** 2)), np.empty(len(centred))
    for t, e in enumerate(centred):
        sigma[t] = np.sqrt(variance)
        variance = view.omega + (view.alpha + view.gamma * (e < 0)) * e * e + view.beta * variance
    return dataclasses.replace(view, sigma=sigma, next_sigma=float(np.sqrt(variance)))


def candidates(returns: np.ndarray, dates: np.ndarray | None = None) -> Candidates:
    """The volatility models of one asset's lookback ``returns (n,)``, fitted on the asset's own days (so one
    fit serves every allocation that holds it). Every σ is floored at a tenth of the lookback's standard
    deviation (calm markets sit at a quarter or more of it): a price that sat still for weeks has σ = 0 under
    EWMA, where its still days would standardise to 0/0, its first move to an infinite shock, and a still
    price today to a range of zero."""
    returns = np.asarray(returns, dtype=np.float64)
    mean = float(returns.mean())
    sigma, next_sigma = _ewma(returns, mean)
    views = [VolatilityView("ewma", sigma, next_sigma, mean, dates=dates)]
    first = max(EWMA_START, len(returns) - HELD_OUT)
    early = _gjr(returns[:first]) if first >= 250 else None
    if early is not None:  # None: no converged fit, or too short a lookback to fit one before the scored days
        views.insert(0, dataclasses.replace(_through(early, returns), dates=dates))
    floor = 0.1 * float(returns.std()) + 1e-12
    floored = (dataclasses.replace(view, sigma=np.maximum(view.sigma, floor), next_sigma=max(view.next_sigma, floor))
               for view in views)
    return Candidates(returns, dates, tuple(floored), first)


def horizon_qlike(view: VolatilityView, returns: np.ndarray, horizon: int, first: int = EWMA_START,
                  every: int = 5) -> float:
    """QLIKE of ``view``'s forecasts of the variance of the next ``horizon`` days' summed returns, at every
    ``every``-th day from ``first`` whose next ``horizon`` returns are known, against their realised sum of
    squares (centred on the model's mean)."""
    centred = (np.asarray(returns, dtype=np.float64) - view.mean) ** 2
    sums = np.concatenate([[0.0], np.cumsum(centred)])
    origins = np.arange(first, len(returns) - horizon + 1, every)
    realised = sums[origins + horizon] - sums[origins]
    return qlike(realised, view.horizon_variance(view.sigma[origins] ** 2, horizon))


def choose(fitted: Candidates, horizon: int) -> VolatilityView:
    """The model whose variance forecasts over ``horizon`` days scored the lower `horizon_qlike` on the
    lookback's last days (module docstring, step 1), with its scores and the reason in words."""
    n, first = len(fitted.returns), fitted.first_scored
    days = max(1, min(horizon, n - first - 100))  # at least 20 origins, every fifth day
    scores = tuple((view.model, horizon_qlike(view, fitted.returns, days, first)) for view in fitted.views)
    best = min(range(len(scores)), key=lambda k: scores[k][1])
    if len(scores) == 1:
        why = ("the GJR-GARCH fit did not converge (or the history is too short to fit and score one), so EWMA "
               "sets the width")
    else:
        other = scores[1 - best][1]
        why = (f"its forecasts of the variance over the next {days} trading days scored the lower QLIKE over the "
               f"last {n - first} days, GARCH fitted on the days before them ({scores[best][1]:.3f} against "
               f"{other:.3f})")
    return dataclasses.replace(fitted.views[best], scores=scores, why=why)


def standardised(views: list[VolatilityView], returns: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Centred shocks ``(n, A)`` of the joint ``returns (n, A)`` with each day's ``sigma (n, A)``: (r − μ) / σ
    per asset, minus their mean."""
    shocks = (returns - np.array([view.mean for view in views])) / sigma
    return shocks - shocks.mean(axis=0)


def filtered_paths(views: list[VolatilityView], shocks: np.ndarray, steps: np.ndarray, paths: int, block: int,
                   rng: np.random.Generator) -> np.ndarray:
    """Cumulative simulated log returns ``(A, P, K)`` at ``steps`` (1-based days, increasing) from the joint
    standardised ``shocks (n, A)`` (`standardised`) of the assets ``views`` describe (module docstring, steps
    2 and 3). Every path lays blocks of ``block`` consecutive lookback days end to end, the same days for all
    assets; the models' recursion runs in `_recursion`."""
    n = len(shocks)
    block = min(block, n)
    days = int(steps[-1])
    starts = rng.integers(0, n - block + 1, size=(paths, -(-days // block)))  # (P, blocks)
    parameters = np.array([[view.next_sigma**2, view.omega, view.alpha, view.gamma, view.beta] for view in views])
    out = np.empty((len(views), paths, len(steps)))
    _recursion(np.ascontiguousarray(shocks.T, dtype=np.float64), starts, block, np.asarray(steps, dtype=np.int64),
               parameters, out)
    return out


@njit(cache=True, nogil=True)
def _recursion(shocks: np.ndarray, starts: np.ndarray, block: int, steps: np.ndarray, parameters: np.ndarray,
               out: np.ndarray) -> None:  # pragma: no cover - compiled; tests/invest replay it by hand
    """Each asset (``shocks (A, n)``) and path, day by day: r = σ·z with z the replayed day's shock,
    σ² ← ω + (α + γ·1[r < 0])·r² + β·σ² from ``parameters[a] = (σ²_{T+1}, ω, α, γ, β)``; the running sum at each
    kept step into ``out``. Compiled without the GIL, so the page's simulation threads run it side by side."""
    paths = starts.shape[0]
    for a in range(shocks.shape[0]):
        variance0, omega, alpha, gamma, beta = parameters[a]
        series = shocks[a]
        variance = np.full(paths, variance0)
        total = np.zeros(paths)
        kept = 0
        for t in range(steps[-1]):  # days outer, paths inner: the paths are independent, so no latency chain
            block_of, offset = t // block, t % block
            for p in range(paths):
                r = np.sqrt(variance[p]) * series[starts[p, block_of] + offset]
                total[p] += r
                variance[p] = omega + (alpha + gamma * (r < 0.0)) * r * r + beta * variance[p]
            if t + 1 == steps[kept]:
                out[a, :, kept] = total
                kept += 1


def rolling_volatility(portfolio: np.ndarray, window: int = REGIME_WINDOW) -> np.ndarray:
    """Annualised root mean square of each ``window`` consecutive daily log returns of ``portfolio (n,)``:
    ``(n − window + 1,)``, the last entry the one known on the as-of date."""
    squares = np.concatenate([[0.0], np.cumsum(np.asarray(portfolio, dtype=np.float64) ** 2)])
    return np.sqrt((squares[window:] - squares[:-window]) / window * _TRADING_DAYS)


def regime(portfolio: np.ndarray, since: str) -> dict[str, object]:
    """Where today's realised volatility of an allocation (its daily log returns ``portfolio (n,)`` up to the
    as-of date, the first dated ``since``) sits among every 21-day stretch of that history, in words."""
    rolling = rolling_volatility(portfolio)
    today = float(rolling[-1])
    low, high = np.quantile(rolling, [1 / 3, 2 / 3])
    third = _THIRDS[int(today > low) + int(today > high)]
    years = len(portfolio) / _TRADING_DAYS
    sentence = (f"Volatility is in the {third} third of the last {years:.0f} years (the allocation's last "
                f"{REGIME_WINDOW} trading days moved at {today:.0%} a year; the median since {since} is "
                f"{float(np.median(rolling)):.0%}), so the range is {_WIDTH[third]}.")
    return {"third": third, "annual_volatility": today, "median_annual_volatility": float(np.median(rolling)),
            "percentile": float(np.mean(rolling <= today)), "since": since, "sentence": sentence}
