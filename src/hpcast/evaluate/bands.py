"""What a backtest reads off its predictions' bands, beside the metric table: coverage per model and level,
the adaptive (ACI) twin of each banded model, and the VaR lines with their backtests.

A predictions frame is `hpcast.evaluate.walkforward.backtest`'s: one row per (fold, series, step, model) with
``actual``, ``last``, ``forecast`` and ``lower_XX``/``upper_XX`` per level, and where a model gives them the
one-step ``es_<1000·L>``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["adaptive_bands", "band_coverage", "var_backtests", "var_returns"]


def adaptive_bands(predictions: pd.DataFrame, levels: tuple[float, ...], gamma: float,
                   first: int = 20) -> pd.DataFrame:
    """Each banded model's one-step rows again as ``<model>+aci``, every band rescaled by adaptive conformal
    inference over its series' origins in date order (`adaptive_conformal`): a score is the log error over
    the band's own half-width on its side, so a band that held has a score <= 1, and from the ``first``-th
    origin on each band is the adapted quantile of the past scores times its half-widths (where ACI asks for
    a band that covers anything, the widest score seen so far). Each origin's band uses the hits of the
    origins before it only."""
    from hpcast.forecast.calibration import adaptive_conformal

    out = []
    for (model, _), rows in predictions.groupby(["model", "symbol"], sort=False):
        rows = rows.sort_values("date", kind="stable").copy()
        banded = False
        for level in levels:
            lower, upper = f"lower_{round(level * 100)}", f"upper_{round(level * 100)}"
            if lower not in rows or rows[lower].isna().any() or len(rows) <= first:
                continue
            forecast, actual = rows["forecast"].to_numpy(), rows["actual"].to_numpy()
            below, above = np.log(forecast / rows[lower].to_numpy()), np.log(rows[upper].to_numpy() / forecast)
            error = np.log(actual / forecast)
            scores = np.where(error < 0, -error / below, error / above)
            thresholds, _ = adaptive_conformal(scores, level, gamma=gamma, start=first)
            widest = np.maximum.accumulate(np.concatenate([[1.0], scores[:-1]]))  # the largest score before each
            factor = np.where(np.isnan(thresholds), 1.0, np.where(np.isinf(thresholds), widest, thresholds))
            rows[lower], rows[upper] = forecast * np.exp(-factor * below), forecast * np.exp(factor * above)
            banded = True
        if banded:
            out.append(rows.assign(model=f"{model}+aci"))
    return pd.concat(out, ignore_index=True) if out else predictions.iloc[:0]


def var_returns(predictions: pd.DataFrame, level: float) -> pd.DataFrame:
    """The one-step rows of ``predictions`` with a VaR at ``level``: ``model, symbol, date, return, var, es`` (log
    returns from the last observed value: realised, the lower edge of the ``2·level - 1`` band, and the
    expected shortfall where the model gives one), in date order per model and series; models without that
    band give no rows."""
    lower, es = f"lower_{round((2 * level - 1) * 100)}", f"es_{round(level * 1000)}"
    if lower not in predictions:
        return pd.DataFrame(columns=["model", "symbol", "date", "return", "var", "es"])
    rows = predictions[(predictions["step"] == 1) & predictions[lower].notna()]
    frame = pd.DataFrame({"model": rows["model"], "symbol": rows["symbol"], "date": rows["date"],
                          "return": np.log(rows["actual"] / rows["last"]), "var": np.log(rows[lower] / rows["last"]),
                          "es": rows.get(es, np.nan)})
    return frame.sort_values(["model", "symbol", "date"], kind="stable")


def var_backtests(predictions: pd.DataFrame, levels: tuple[float, ...]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per model, series and VaR level: `hpcast.evaluate.risk.var_backtest` of the one-step forecasts
    (exceptions, Kupiec, Christoffersen, the traffic light per 250 days, the mean ES on the exception days
    beside the mean realised return there), JSON-ready. An ES above the VaR line (a sampled tail's noise) is
    taken as the line."""
    from hpcast.evaluate.risk import var_backtest

    tests: dict[str, dict[str, dict[str, Any]]] = {}
    for level in levels:
        for (model, symbol), rows in var_returns(predictions, level).groupby(["model", "symbol"], sort=False):
            es = rows["es"].to_numpy(dtype=float)
            result = var_backtest(rows["return"].to_numpy(), rows["var"].to_numpy(), level,
                                  es=None if np.isnan(es).any() else np.minimum(es, rows["var"].to_numpy()))
            tests.setdefault(str(model), {}).setdefault(str(symbol), {})[f"{level:g}"] = result.to_dict()
    return tests


def band_coverage(predictions: pd.DataFrame, levels: tuple[float, ...]) -> dict[str, dict[str, float]]:
    """Per model and level, the share of its banded points inside the band (``interval_coverage`` of a backtest)."""
    coverage: dict[str, dict[str, float]] = {}
    for model, group in predictions.groupby("model", sort=False):
        for level in levels:
            lower, upper = f"lower_{round(level * 100)}", f"upper_{round(level * 100)}"
            if lower in group and group[lower].notna().any():
                inside = (group["actual"] >= group[lower]) & (group["actual"] <= group[upper])
                coverage.setdefault(str(model), {})[f"{level:g}"] = float(inside[group[lower].notna()].mean())
    return coverage
