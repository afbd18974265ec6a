"""The allocation simulator: an amount, weights and a horizon in, a distribution of outcomes after inflation out.

Method (every input is known on the as-of date; nothing after it is read):

1. **Expected path** per asset (`hpcast.invest.outlook`): the point forecast of the registry champion
   that serves it (its own, or a global model's that covers it) for the steps it covers, then the asset's
   historical average daily log return; with no usable champion, the historical average throughout (the
   drift baseline). A champion with a distribution head gives more than a path: over the steps it covers
   the simulated values are its own sample paths, placed on the joint noise's ranks (`_from_samples`), so
   the expected path and the spread come from one model.
2. **Joint noise** from the daily log returns of the chosen assets on their *common* dates over the last
   `LOOKBACK_YEARS` years, resampled in blocks of `BLOCK` consecutive days. A block is one stretch of
   calendar shared by all assets, so their correlation carries into the portfolio: two perfectly
   correlated assets split 50/50 give the band of either one (exactly with the bootstrap, to the GARCH
   fit's optimiser tolerance with filtered noise). By default (``noise="filtered"``)
   the returns are standardised by each asset's volatility at the time and rescaled by its volatility
   forecast from the as-of date (`hpcast.invest.conditional`: filtered historical simulation), so the
   range is today's; ``noise="bootstrap"`` resamples the centred returns themselves (the spread of the
   last five years whatever today looks like; kept as the reference the calibration compares against).
   The answer also places today's volatility of the allocation among the last `REGIME_YEARS` years.
3. **Cash** grows at the Treasury rate known on the as-of date; **real** values divide by projected CPI
   (`hpcast.invest.inflation`).

The grid is business days from the day after the as-of date to as-of + ``months``; the fan chart keeps
every fifth day. A fixed seed makes the same request give the same numbers, in the API and on the page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from hpcast.errors import InputError
from hpcast.invest.conditional import (
    Candidates,
    VolatilityView,
    candidates,
    choose,
    filtered_paths,
    regime,
    standardised,
)
from hpcast.invest.inflation import Inflation, cash_rate, growth, project_inflation
from hpcast.invest.market import CASH, AsOfRange, Market
from hpcast.invest.outlook import BASELINE, Outlook, Outlooks

__all__ = ["BLOCK", "LOOKBACK_YEARS", "MAX_AMOUNT", "NOISE", "PATHS", "REGIME_YEARS", "Plan", "Simulation", "plan",
           "simulate", "warm"]

PATHS = 4000
BLOCK = 20
LOOKBACK_YEARS = 5
REGIME_YEARS = 20
NOISE = ("filtered", "bootstrap")  # the first is the default
VOLATILITY_MEMO = 512  # fitted volatility models kept (assets × as-of dates; each some 40 kB)
SEED = 20261121
MAX_AMOUNT = 1e12
MAX_MONTHS = 12
FAN_EVERY = 5
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
_Q_NAMES = ("p5", "p25", "median", "p75", "p95")
_CASH_OUTLOOK = {"source": "Treasury rate", "version": None, "beats_naive": None,
                 "skill": "no model needed: it earns the rate known on the as-of date", "model": None, "covers": []}


@dataclass(frozen=True)
class Plan:
    """A validated request: weights are fractions (zero weights dropped), ``as_of`` is a date with data."""

    amount: float
    weights: dict[str, float]
    months: int
    as_of: pd.Timestamp
    as_of_given: bool
    window: AsOfRange


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:  # an int beyond float range
        return math.inf


def plan(market: Market, amount: Any, allocation: Any, horizon_months: Any = 6, as_of: Any = None) -> Plan:
    """Check every input against its rule and report all broken rules at once (`InputError`)."""
    errors: list[tuple[str, str]] = []
    value = _number(amount)
    if value is None or not math.isfinite(value) or not 0 < value <= MAX_AMOUNT:
        errors.append(("amount", f"amount must be a finite number > 0 and <= {MAX_AMOUNT:g} (got {amount!r})"))

    weights: dict[str, float] = {}
    known = market.names()
    if not isinstance(allocation, dict) or not allocation:
        errors.append(("allocation", "allocation must map one or more assets to percentages, e.g. "
                                     '{"sp500": 60, "gold": 40}'))
    else:
        unknown = [repr(str(k)[:40]) for k in allocation if k not in known][:5]  # echo a little, not everything
        bad = [f"{k} ({v!r})" for k, v in allocation.items()
               if (w := _number(v)) is None or not math.isfinite(w) or w < 0]
        if unknown:
            errors.append(("allocation", f"allocation has unknown asset(s) {', '.join(unknown)}; "
                                         f"known: {', '.join(known)}"))
        elif bad:
            errors.append(("allocation", f"allocation percentages must be finite numbers >= 0: {', '.join(bad)}"))
        else:
            total = sum(float(v) for v in allocation.values())
            if abs(total - 100.0) > 0.01:
                errors.append(("allocation", f"allocation must sum to 100 (±0.01); it sums to {total:g}"))
            else:
                weights = {k: float(v) / total for k, v in allocation.items() if float(v) > 0}

    months = _number(horizon_months)
    if months is None or not math.isfinite(months) or months != int(months) or not 1 <= months <= MAX_MONTHS:
        errors.append(("horizon_months", f"horizon_months must be a whole number of months from 1 to {MAX_MONTHS} "
                                         f"(got {horizon_months!r})"))

    window, day = None, None
    given = as_of not in (None, "")
    if given:
        try:
            day = pd.Timestamp(date.fromisoformat(str(as_of)) if not isinstance(as_of, date) else as_of)
        except ValueError:
            errors.append(("as_of", f"as_of must be a date written YYYY-MM-DD (got {as_of!r})"))
    if weights:
        window = market.as_of_range(list(weights))
        if window.empty:
            errors.append(("allocation", window.why))
        elif day is None and not given:
            day = window.last
        elif day is not None and not window.first <= day <= window.last:
            errors.append(("as_of", f"as_of must be between {window.first.date()} and {window.last.date()} "
                                    f"for {', '.join(weights)} (got {day.date()}): {window.why}"))
    if errors:
        raise InputError(errors)
    assert window is not None and day is not None and value is not None and months is not None
    return Plan(value, weights, int(months), day.normalize(), given, window)


@dataclass
class Simulation:
    """Simulated portfolio values at the fan dates (``paths × points``) and what went into them."""

    plan: Plan
    dates: pd.DatetimeIndex  # the as-of date, then every fifth business day and the horizon end
    nominal: np.ndarray  # (paths, points)
    real: np.ndarray  # (paths, points)
    deflator: np.ndarray  # (points,)
    asset_returns: dict[str, np.ndarray]  # simple return at the horizon per path, per asset
    outlooks: dict[str, Outlook]
    inflation: Inflation
    cash: dict[str, Any] | None = None
    business_days: int = 0
    common_days: int = 0
    notes: list[str] = field(default_factory=list)
    noise: str = NOISE[0]
    volatility: dict[str, VolatilityView] = field(default_factory=dict)  # per priced asset (filtered noise)
    regime: dict[str, Any] | None = None  # today's volatility of the allocation among the last 20 years

    @property
    def horizon_end(self) -> pd.Timestamp:
        return self.dates[-1]

    def fan(self) -> dict[str, np.ndarray]:
        """Quantiles of the nominal and real values at each fan date (real ones are nominal / deflator)."""
        nominal = quantiles(self.nominal)
        return {"nominal": nominal, "real": nominal / self.deflator}

    def summary(self, fan: np.ndarray, values: np.ndarray) -> dict[str, float]:
        return {**{n: float(v) for n, v in zip(_Q_NAMES, fan[:, -1], strict=True)}, "mean": float(values[:, -1].mean())}

    def to_dict(self) -> dict[str, Any]:
        """The JSON answer: headline numbers, the fan chart, the per-asset table and every caveat."""
        amount = self.plan.amount
        real_end = self.real[:, -1]
        assets = []
        for name, weight in self.plan.weights.items():
            returns = self.asset_returns[name]
            q = quantiles(returns[:, None], (0.05, 0.5, 0.95))[:, 0]
            outlook = self.outlooks.get(name)
            assets.append({
                "asset": name, "weight": weight * 100, "start_value": amount * weight,
                "median_return": float(q[1]), "p5_return": float(q[0]), "p95_return": float(q[2]),
                "expected_return": float(returns.mean()), "contribution": float(weight * returns.mean()),
                "median_value": amount * weight * (1 + float(q[1])),
                "volatility": self.volatility[name].to_dict() if name in self.volatility else None,
                **(outlook.to_dict() if outlook else _CASH_OUTLOOK),
            })
        bands = self.fan()
        fan = {kind: {n: [float(v) for v in row] for n, row in zip(_Q_NAMES, bands[kind], strict=True)}
               for kind in bands}
        return {
            "amount": amount, "allocation": {k: v * 100 for k, v in self.plan.weights.items()},
            "as_of": self.plan.as_of.date().isoformat(), "as_of_was_given": self.plan.as_of_given,
            "as_of_range": self.plan.window.to_dict(),
            "horizon": {"months": self.plan.months, "end": self.horizon_end.date().isoformat(),
                        "business_days": self.business_days},
            "nominal": self.summary(bands["nominal"], self.nominal), "real": self.summary(bands["real"], self.real),
            "probability_real_loss": float((real_end < amount).mean()),
            "expected_real_return": float(real_end.mean() / amount - 1),
            "inflation": {**self.inflation.to_dict(), "deflator": float(self.deflator[-1])},
            "cash": self.cash,
            "fan": {"dates": [d.date().isoformat() for d in self.dates], **fan},
            "assets": assets, "notes": self.notes, "regime": self.regime,
            "method": {"paths": int(self.nominal.shape[0]), "block_days": BLOCK, "lookback_years": LOOKBACK_YEARS,
                       "common_days": self.common_days, "noise": self.noise},
        }


def _grid(as_of: pd.Timestamp, months: int) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Business days after ``as_of`` through as-of + ``months`` and the step numbers the fan keeps."""
    end = as_of + pd.DateOffset(months=months)
    days = pd.bdate_range(as_of + pd.Timedelta(days=1), end)
    steps = np.unique(np.r_[np.arange(FAN_EVERY, len(days), FAN_EVERY), len(days)])
    return days, steps


def _business_log_closes(market: Market, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Dates (int64 ns) and log closes of ``name`` on business days only, computed once per market."""
    def compute() -> tuple[np.ndarray, np.ndarray]:
        series = market.prices[name]
        weekdays = series[series.index.day_of_week < 5]
        return weekdays.index.as_unit("ns").asi8, np.log(weekdays.to_numpy(dtype=np.float64))

    return market.memo(("business_log_closes", name), compute)


def _joint_returns(market: Market, names: list[str], as_of: pd.Timestamp,
                   years: int = LOOKBACK_YEARS) -> tuple[np.ndarray, np.ndarray]:
    """Dates (int64 ns, ``(n,)``) and log returns ``(n, A)`` between consecutive business days on which every
    asset traded, over the last ``years`` years.

    The grid counts business days, so a weekend's move (bitcoin trades every day) folds into Monday's.
    Plain arrays and sorted-date intersections: this runs on every simulation that misses the memo.
    """
    first = (as_of - pd.DateOffset(years=years)).as_unit("ns").value
    last = as_of.as_unit("ns").value
    spans = []
    for name in names:
        dates, logs = _business_log_closes(market, name)
        lo, hi = np.searchsorted(dates, first), np.searchsorted(dates, last, side="right")  # first..as_of
        spans.append((dates[lo:hi], logs[lo:hi]))
    common = spans[0][0]
    for dates, _ in spans[1:]:
        common = np.intersect1d(common, dates, assume_unique=True)
    closes = np.column_stack([logs[np.searchsorted(dates, common)] for dates, logs in spans])  # (n+1, A)
    return common[1:], np.diff(closes, axis=0)


def bootstrap(returns: np.ndarray, steps: np.ndarray, paths: int, block: int, rng: np.random.Generator) -> np.ndarray:
    """Cumulative sums of block-resampled rows of centred ``returns (n, A)`` at ``steps``: ``(A, paths, K)``.

    Every path lays blocks of ``block`` consecutive rows end to end (the same rows for all assets).
    Prefix sums make any stretch a difference of two entries, so only the kept steps are computed, and
    each asset gathers from its own small 1-D prefix array (cache-resident: ~3x faster than row gathers).
    """
    n, assets = returns.shape
    block = min(block, n)
    prefix = np.zeros((assets, n + 1))
    np.cumsum((returns - returns.mean(axis=0)).T, axis=1, out=prefix[:, 1:])
    blocks = -(-int(steps[-1]) // block)
    starts = rng.integers(0, n - block + 1, size=(paths, blocks))  # (paths, blocks)
    k = (steps - 1) // block  # block each kept step falls in
    first = starts[:, k]  # (paths, K)
    last = first + (steps - k * block)  # steps taken inside that block: 1..block
    later = k > 0
    out = np.empty((assets, paths, len(steps)))
    for a in range(assets):
        p = prefix[a]
        whole = np.cumsum(p[starts + block] - p[starts], axis=1)  # (paths, blocks): sums of complete blocks
        out[a] = p[last] - p[first]
        out[a][:, later] += whole[:, k[later] - 1]
    return out


def _expected(outlook: Outlook, spot: float, mean: float, days: pd.DatetimeIndex, steps: np.ndarray) -> np.ndarray:
    """Expected cumulative log return at ``steps``: the model's forecast where it reaches, then drift."""
    if outlook.forecast is None:
        return mean * steps
    forecast = outlook.forecast
    reach = int(np.searchsorted(days.values, forecast.index[-1].to_datetime64(), side="right"))  # steps it covers
    out = np.empty(len(steps))
    for i, step in enumerate(steps):
        if step <= reach:
            known = forecast[forecast.index <= days[step - 1]]
            out[i] = math.log(known.iloc[-1] / spot) if len(known) else 0.0
        else:
            out[i] = math.log(forecast.iloc[-1] / spot) + mean * (step - reach)
    return out


def _from_samples(outlook: Outlook, spot: float, noise: np.ndarray, mean: float, days: pd.DatetimeIndex,
                  steps: np.ndarray) -> np.ndarray:
    """Cumulative log returns ``(paths, K)`` at ``steps`` where the champion gives sample paths: at each kept
    step it covers, the champion's own distribution of that date (its samples' quantile function), placed on
    the paths by the ranks of the simulated ``noise (paths, K)`` at that step (an empirical copula: each
    asset's values are its model's, their dependence across assets and days is the joint noise's). Past the
    champion's last date, the noise's increments and the drift continue from its last covered step. A
    champion that does not reach the first kept step is read as its point forecast (`_expected`)."""
    assert outlook.samples is not None and outlook.forecast is not None
    dates = outlook.forecast.index.values
    covered = [i for i, step in enumerate(steps) if days[step - 1].to_datetime64() <= dates[-1]]
    if not covered:
        return noise + _expected(outlook, spot, mean, days, steps)
    paths = noise.shape[0]
    out = np.empty_like(noise)
    for i in covered:
        j = int(np.searchsorted(dates, days[steps[i] - 1].to_datetime64(), side="right")) - 1
        column = outlook.samples[:, j] if j >= 0 else np.zeros(1)
        ranks = np.argsort(np.argsort(noise[:, i], kind="stable"), kind="stable")
        out[:, i] = np.quantile(column, (ranks + 0.5) / paths)
    last = covered[-1]
    later = np.arange(last + 1, len(steps))
    out[:, later] = (out[:, [last]] + noise[:, later] - noise[:, [last]]
                     + mean * (steps[later] - steps[last])[None, :])
    return out


def quantiles(values: np.ndarray, qs: tuple[float, ...] = QUANTILES) -> np.ndarray:
    """``np.quantile(values, qs, axis=0)`` (linear interpolation) from one sort: ``(len(qs), columns)``."""
    ordered = np.sort(np.ascontiguousarray(values.T), axis=1)  # (columns, n): rows sort faster
    position = (ordered.shape[1] - 1) * np.asarray(qs)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, ordered.shape[1] - 1)
    return (ordered[:, low] + (position - low) * (ordered[:, high] - ordered[:, low])).T


def _noise(market: Market, names: tuple[str, ...], as_of: pd.Timestamp, steps: np.ndarray, paths: int,
           seed: int, noise: str) -> tuple[np.ndarray, np.ndarray, int, list[VolatilityView]]:
    """Joint noise ``(A, paths, K)``, mean daily log returns ``(A,)``, the common days used and, for filtered
    noise, each asset's volatility model."""
    dates, joint = _joint_returns(market, list(names), as_of)
    if len(joint) < 2 * BLOCK:
        raise InputError([("as_of", f"{', '.join(names)} share only {len(joint)} trading days in the "
                                    f"{LOOKBACK_YEARS} years before {as_of.date()}; choose a later date")])
    rng = np.random.default_rng(seed)
    if noise == "bootstrap":
        return bootstrap(joint, steps, paths, BLOCK, rng), joint.mean(axis=0), len(joint), []
    views = [choose(_volatility(market, name, as_of), int(steps[-1])) for name in names]
    shocks = standardised(views, joint, np.column_stack([view.sigma_at(dates) for view in views]))
    return filtered_paths(views, shocks, steps, paths, BLOCK, rng), joint.mean(axis=0), len(joint), views


def warm(market: Market) -> None:
    """Fit every priced asset's volatility models at its latest date, the as-of date a new visitor asks first
    (about 25 ms an asset, once): the server does this before it answers."""
    for name, prices in market.prices.items():
        _volatility(market, name, prices.index[-1].normalize())


def _volatility(market: Market, name: str, as_of: pd.Timestamp) -> Candidates:
    """``name``'s volatility models on its own business-day returns over the lookback, kept in the market's
    memo: fitted once per asset and as-of date, whatever it is held with and however far ahead (a GARCH fit
    is the costly part)."""
    def fit() -> Candidates:
        dates, returns = _joint_returns(market, [name], as_of)
        return candidates(returns[:, 0], dates)

    return market.memo(("volatility", name, as_of), fit, size=VOLATILITY_MEMO)


def _regime(market: Market, weights: dict[str, float], as_of: pd.Timestamp) -> dict[str, Any]:
    """Today's realised volatility of the allocation (cash moves nothing) among the last `REGIME_YEARS` years;
    the joint returns are kept per set of assets and date, the weights change with every request."""
    names = tuple(n for n in weights if n != CASH)
    dates, joint = market.memo(("regime", names, as_of), lambda: _joint_returns(market, list(names), as_of,
                                                                              REGIME_YEARS))
    return regime(joint @ np.array([weights[n] for n in names]), pd.Timestamp(dates[0]).date().isoformat())


def simulate(market: Market, outlooks: Outlooks, request: Plan, *, paths: int = PATHS, seed: int = SEED,
             noise: str = NOISE[0]) -> Simulation:
    """Simulate ``request`` (see the module docstring): portfolio values at the fan dates, nominal and real;
    ``noise`` one of `NOISE`."""
    if noise not in NOISE:
        raise ValueError(f"noise ({noise!r}) must be one of {', '.join(NOISE)}")
    as_of, amount = request.as_of, request.amount
    days, steps = _grid(as_of, request.months)
    elapsed = np.r_[0, (days[steps - 1] - as_of).days.to_numpy()]  # calendar days at each fan date
    inflation = market.memo(("inflation", as_of), lambda: project_inflation(market, as_of))
    deflator = inflation.deflator(elapsed)
    nominal = np.zeros((paths, len(steps) + 1))
    asset_returns: dict[str, np.ndarray] = {}
    chosen: dict[str, Outlook] = {}
    notes = [inflation.note] if inflation.note else []
    names = tuple(n for n in request.weights if n != CASH)
    common_days, views, today = 0, [], None
    if names:
        key = ("noise", noise, names, as_of, len(days), paths, seed)
        shocks, means, common_days, views = market.memo(
            key, lambda: _noise(market, names, as_of, steps, paths, seed, noise))
        today = _regime(market, request.weights, as_of)
        for a, name in enumerate(names):
            history = market.prices[name][:as_of]
            chosen[name] = outlooks.get(name, history, as_of)
            spot = float(history.iloc[-1])
            if chosen[name].samples is not None:
                growth_path = np.exp(_from_samples(chosen[name], spot, shocks[a], means[a], days, steps))
            else:
                growth_path = np.exp(shocks[a] + _expected(chosen[name], spot, means[a], days, steps))
            nominal[:, 1:] += amount * request.weights[name] * growth_path
            asset_returns[name] = growth_path[:, -1] - 1
            if chosen[name].source == BASELINE and chosen[name].skill not in notes:
                notes.append(chosen[name].skill)
    cash = None
    if CASH in request.weights:
        rate, quoted = cash_rate(market, as_of)
        cash_growth = growth(rate, elapsed[1:])
        nominal[:, 1:] += amount * request.weights[CASH] * cash_growth
        asset_returns[CASH] = np.full(paths, cash_growth[-1] - 1)
        cash = {"annual_rate": rate, "series": market.rate_symbol, "quoted": quoted.date().isoformat()}
    nominal[:, 0] = amount
    dates = pd.DatetimeIndex([as_of, *days[steps - 1]])
    return Simulation(request, dates, nominal, nominal / deflator, deflator, asset_returns, chosen, inflation,
                      cash, len(days), common_days, notes, noise, dict(zip(names, views, strict=False)), today)
