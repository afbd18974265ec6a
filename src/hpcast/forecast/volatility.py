"""The volatility baselines on the `Forecaster` protocol: ``garch``, ``ewma``, ``hist-sim`` and ``har`` (`MODELS`).

Each gives, per series, a predictive distribution of the next h log returns (equations in
`hpcast.models.volatility`) and reads its forecast and bands off it, in prices. With P_T the last price and
R_k = r_{T+1} + ... + r_{T+k} the cumulative log return to step k:

- forecast: the median price path P_T·exp(median R_k). The median, not the mean, because it commutes with
  exp: the forecast is a quantile of the same distribution as the bands and always lies inside them.
  EWMA and HAR have a zero mean, so their forecast is the last price (the random walk).
- bands ``lower_XX, upper_XX``: P_T·exp(quantile of R_k at (1 ∓ XX%)/2), from the model's own distribution,
  never conformal (`_columns`). Step 1 from the fitted distribution's quantile function (normal, skew-t,
  empirical); later steps analytic where the model's steps are normal (EWMA, HAR: the variances add up)
  and from ``paths`` simulated paths otherwise (GARCH: arch's simulation with skew-t shocks; hist-sim:
  returns resampled), seeded by ``train.seed`` and the symbol: reproducible, and a series' forecast does
  not depend on the other series in the panel. A simulated band that narrows from one step to the next
  (Monte Carlo noise, at long horizons) keeps the earlier width (`non_narrowing`).
- `quantiles` gives the same distribution at any levels, `variance` the one-step variance of the next log
  return, for the risk checks that read them.

The models:

- ``garch``: GJR-GARCH(1,1), skew-t errors, constant mean, fitted per series by arch on 100× log returns.
  The parameters go to the series' manifest entry (loading refits nothing); forecasting from another
  history filters it with them (arch's ``fix``). A fit whose optimiser did not converge (arch's
  ``convergence_flag != 0``) is kept in the entry but never used: the entry's ``notes`` say so, naming
  the series and the last date fitted, and that series is forecast by the EWMA (λ = 0.94, normal) instead
  (``fallback: "ewma"``). The note is logged too, so a backtest's per-fold refits show it.
- ``ewma``: nothing to fit; σ²_1 is the mean of the first 22 squared returns (its weight after the 100
  returns required is under 0.94^100 = 0.2%). RiskMetrics' square-root-of-time rule: R_k normal with
  variance k·σ²_{T+1}, exact if the variance stays at its forecast (as an IGARCH it does not, and the true
  multi-step tails are fatter).
- ``hist-sim``: nothing to fit; the empirical distribution of the last ``lookback`` (252) returns of the
  history forecast from. A history of fewer (but at least 100) returns uses them all, and a fit on one
  says so in its notes: 100, not 252, is the minimum because backtest folds and the model contract
  (tests/forecast/test_contract.py) forecast from histories of about a year.
- ``har``: OLS coefficients and smearing factor per series. The variance proxy is the Garman–Klass range
  variance where the panel has ``open``, ``high``, ``low`` and ``close`` columns (a long CSV's columns
  given as covariates) and the squared log return otherwise, which is always the case for the bundled
  datasets (their panels carry only the target). Garman–Klass misses the overnight gap, so it is scaled
  to the history's mean squared return. A proxy of 0 (no price change) is floored at 1e-4 × the mean
  proxy before the log. Steps are normal with zero mean and the iterated HAR variances (treated as known:
  multi-step tails are those of a normal).

Every model needs 100 log returns (101 prices) per series, to fit and to forecast from (GARCH's seven
parameters, HAR's 22-day mean and its regression rows), and positive prices.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from hpcast.data.panel import Panel
from hpcast.errors import DataError
from hpcast.forecast.base import Forecaster
from hpcast.forecast.calibration import interval_columns
from hpcast.models.volatility import (
    GARCH_PARAMETERS,
    RISKMETRICS_DECAY,
    NormalReturns,
    SampledReturns,
    bootstrap_returns,
    ewma_forecast,
    fit_gjr_garch,
    garman_klass,
    gjr_garch_returns,
    har_fit,
    har_variances,
    log_returns,
    non_narrowing,
)

__all__ = ["MIN_RETURNS", "VolatilityForecaster"]

MIN_RETURNS = 100
OHLC = ("open", "high", "low", "close")
_FLOOR = 1e-4  # of the mean proxy: log of a day without a price change

log = logging.getLogger(__name__)


class VolatilityForecaster(Forecaster):
    """A volatility model named by ``config.model.kind``: forecast and bands from its own predictive
    distribution of log returns (module docstring).

    Example:
        >>> from hpcast.config import RunConfig
        >>> from hpcast.data import load_bundled
        >>> f = VolatilityForecaster(RunConfig(horizon=5).for_model("ewma"))
        >>> frame = f.fit(load_bundled("sp500").series(), "B", calendar="NYSE").predict()
        >>> list(frame.columns)
        ['symbol', 'date', 'forecast', 'lower_80', 'upper_80', 'lower_95', 'upper_95']
    """

    min_history = MIN_RETURNS + 1  # prices, to fit and to forecast from

    # -- fitting -------------------------------------------------------------------------------------------
    def _fit(self, panel: Panel, context: Any) -> None:
        self.calibration = {"space": "log", "source": "the model's predictive distribution (no conformal calibration)"}
        for s, symbol in enumerate(panel.symbols):
            returns = self._returns(panel, s)
            end = panel.index(s)[-1].date().isoformat()
            self.series[symbol].update(self._fit_series(panel, s, returns, end))

    def _fit_series(self, panel: Panel, s: int, returns: np.ndarray, end: str) -> dict[str, Any]:
        symbol, model = panel.symbols[s], self.config.model
        if self.kind == "garch":
            fit = fit_gjr_garch(100.0 * returns)
            entry: dict[str, Any] = {"garch": {"parameters": dict(zip(GARCH_PARAMETERS, fit.parameters, strict=True)),
                                               "convergence_flag": fit.flag}, "fallback": None, "notes": []}
            if fit.flag != 0:
                note = (f"garch: the GJR-GARCH fit of series {symbol!r} on data through {end} did not converge "
                        f"(convergence_flag {fit.flag}: {fit.message}); this series is forecast by the EWMA "
                        f"fallback (RiskMetrics, λ = {RISKMETRICS_DECAY}, normal)")
                log.warning(note)
                entry.update(fallback="ewma", notes=[note])
            return entry
        if self.kind == "har":
            log_variance, proxy = self._log_variance(panel, s, returns)
            coefficients, smearing = har_fit(log_variance)
            return {"har": {"proxy": proxy, "coefficients": [float(c) for c in coefficients], "smearing": smearing},
                    "notes": []}
        if self.kind == "hist-sim" and len(returns) < model.lookback:
            return {"notes": [f"hist-sim: series {symbol!r} has {len(returns)} log returns through {end}, fewer than "
                              f"the lookback ({model.lookback}): its distribution uses all {len(returns)}"]}
        return {"notes": []}

    # -- the predictive distribution -----------------------------------------------------------------------
    def _returns(self, panel: Panel, s: int) -> np.ndarray:
        """Series ``s``'s log returns, once its prices are checked: enough of them, all positive, not constant."""
        prices, symbol = panel.values[panel.rows(s), 0], panel.symbols[s]
        if len(prices) < self.min_history:
            raise DataError(f"series {symbol!r}: history too short: {len(prices)} prices; {self.kind} needs at least "
                            f"{self.min_history} ({MIN_RETURNS} log returns)")
        _check_positive(prices, panel, s, panel.target, self.kind)
        returns = log_returns(prices)
        if not returns.any():
            raise DataError(f"series {symbol!r}: its {len(prices)} prices never change; {self.kind} needs price "
                            "changes to estimate a variance")
        return returns

    def _log_variance(self, panel: Panel, s: int, returns: np.ndarray) -> tuple[np.ndarray, str]:
        """HAR's log variance proxy ``(n,)`` for the days of ``returns``, and its name (module docstring)."""
        if all(name in panel.columns for name in OHLC):
            rows = panel.rows(s)
            ohlc = [panel.values[rows, panel.columns.index(name)][1:] for name in OHLC]  # the days of the returns
            for name, values in zip(OHLC, ohlc, strict=True):
                _check_positive(values, panel, s, name, self.kind, offset=1)
            range_variance = garman_klass(*ohlc)
            if not range_variance.any():
                raise DataError(f"series {panel.symbols[s]!r}: high equals low and open equals close on every day; "
                                "the Garman-Klass variance is 0 throughout")
            proxy, name = range_variance * (np.sum(returns**2) / np.sum(range_variance)), "garman-klass"
        else:
            proxy, name = returns**2, "squared returns"
        return np.log(np.maximum(proxy, _FLOOR * proxy.mean())), name

    def _predictive(self, panel: Panel, s: int, horizon: int) -> NormalReturns | SampledReturns:
        """The distribution of the next ``horizon`` log returns of series ``s`` of ``panel``."""
        symbol = self.model_symbol(panel.symbols[s], panel.n_series)
        entry, model = self.series[symbol], self.config.model
        returns = self._returns(panel, s)
        if self.kind == "ewma" or entry.get("fallback") == "ewma":
            return NormalReturns(np.full(horizon, ewma_forecast(returns, getattr(model, "decay", RISKMETRICS_DECAY))))
        if self.kind == "har":
            fitted = entry["har"]
            log_variance, _ = self._log_variance(panel, s, returns)
            coefficients = np.asarray(fitted["coefficients"])
            return NormalReturns(har_variances(log_variance, coefficients, fitted["smearing"], horizon))
        generator = np.random.default_rng([self.config.train.seed, zlib.crc32(symbol.encode())])
        if self.kind == "hist-sim":
            return bootstrap_returns(returns[-model.lookback:], horizon, model.paths, generator)
        parameters = [entry["garch"]["parameters"][name] for name in GARCH_PARAMETERS]
        return gjr_garch_returns(100.0 * returns, parameters, horizon, model.paths, generator)

    def _log_quantiles(self, panel: Panel, horizon: int, probs: Sequence[float]) -> np.ndarray:
        """``(S, L, h)`` quantiles of R_1..R_h at ``probs``, per series."""
        return np.stack([self._predictive(panel, s, horizon).quantiles(probs) for s in range(panel.n_series)])

    def _last_prices(self, panel: Panel) -> np.ndarray:
        return panel.values[panel.offsets[1:] - 1, 0]  # (S,)

    # -- the protocol's hooks ------------------------------------------------------------------------------
    def _paths(self, panel: Panel, horizon: int) -> np.ndarray:
        return self._columns(panel, horizon)["forecast"]

    def _columns(self, panel: Panel, horizon: int) -> dict[str, np.ndarray]:
        """The median path and the bands, read off one predictive distribution per series (a GARCH's paths are
        simulated once per forecast)."""
        levels = sorted(self.config.interval_levels)  # narrowest first, for non_narrowing
        probs = [0.5, *((1 - level) / 2 for level in levels), *((1 + level) / 2 for level in levels)]
        quantiles = self._log_quantiles(panel, horizon, probs)  # (S, 1 + 2K, h)
        lower, upper = non_narrowing(quantiles[:, 1:1 + len(levels)], quantiles[:, 1 + len(levels):])  # (S, K, h)
        last = self._last_prices(panel)[:, None]  # (S, 1)
        columns = {"forecast": last * np.exp(quantiles[:, 0])}
        for level in self.config.interval_levels:
            k, (lower_name, upper_name) = levels.index(level), interval_columns(level)
            columns[lower_name], columns[upper_name] = last * np.exp(lower[:, k]), last * np.exp(upper[:, k])
        return columns

    # -- for risk checks -----------------------------------------------------------------------------------
    def quantiles(self, levels: Sequence[float], horizon: int | None = None,
                  history: Panel | pd.Series | None = None) -> pd.DataFrame:
        """Quantiles of the predictive distribution at any ``levels``, per series and step: a long frame
        ``symbol, date, step, level, log_return, price``, where ``log_return`` is R_step, the cumulative log
        return from the last price of ``history`` (default: the fitted data), and ``price`` is
        last · exp(log_return). Step 1's ``log_return`` is the next return's quantile (a one-day VaR at
        ``level``). Sampled quantiles use the same seeded paths as `predict`; no band widening is applied.

        Example:
            >>> f.quantiles([0.01, 0.99], horizon=1)  # doctest: +SKIP
        """
        from hpcast.data.calendars import future_dates

        levels = [float(level) for level in levels]
        if not levels or any(not 0 < level < 1 for level in levels):
            raise ValueError(f"levels ({levels}) must be one or more probabilities in (0, 1)")
        panel = self.history_panel(history)
        horizon = self.check_horizon(horizon)
        quantiles = self._log_quantiles(panel, horizon, levels)  # (S, L, h)
        last = self._last_prices(panel)
        frames = []
        for s, given in enumerate(panel.symbols):
            info = self.series[self.model_symbol(given, panel.n_series)]
            dates = future_dates(panel.index(s), self.freq, horizon, info.get("calendar"))
            for k, level in enumerate(levels):
                frames.append(pd.DataFrame({"symbol": given, "date": dates, "step": np.arange(1, horizon + 1),
                                            "level": level, "log_return": quantiles[s, k],
                                            "price": last[s] * np.exp(quantiles[s, k])}))
        return pd.concat(frames, ignore_index=True)

    def one_step_risk(self, panel: Panel, tails: dict[float, Sequence[float]] | None = None) -> dict[str, np.ndarray]:
        """The one-step variance and, per VaR level, the expected shortfall of the next log return
        (`Forecaster.one_step_risk`): the mean of the distribution's quantiles below the VaR. One
        distribution per series serves every level."""
        predictive = [self._predictive(panel, s, 1) for s in range(panel.n_series)]
        out = {"variance": np.array([p.variance1 for p in predictive])}
        for level, levels in (tails or {}).items():
            out[f"es_{round(level * 1000)}"] = np.array([p.quantiles(list(levels))[:, 0].mean() for p in predictive])
        return out

    def variance(self, history: Panel | pd.Series | None = None) -> pd.Series:
        """The one-step variance forecast of the next log return (not percent), per series of ``history``
        (default: the fitted data), indexed by symbol: σ²_{T+1} of GARCH (or its EWMA fallback), EWMA and
        HAR; the variance of the empirical distribution (ddof 0) for hist-sim."""
        panel = self.history_panel(history)
        values = [self._predictive(panel, s, 1).variance1 for s in range(panel.n_series)]
        return pd.Series(values, index=pd.Index(panel.symbols, name="symbol"), name="variance")


def _check_positive(values: np.ndarray, panel: Panel, s: int, column: str, kind: str, offset: int = 0) -> None:
    bad = np.flatnonzero(values <= 0)
    if len(bad):
        date = panel.index(s)[bad[0] + offset].date()
        raise DataError(f"series {panel.symbols[s]!r}: {column} is {values[bad[0]]:g} on {date}; {kind} models log "
                        "returns, which need every price > 0")
