"""Is one model's forecast error significantly lower than another's? The Diebold–Mariano test.

For paired forecast errors e1_t (model) and e2_t (baseline), t = 1..n, of forecasts h steps ahead:

    d_t  = L(e1_t) − L(e2_t)                            loss differential, L(e) = e² or |e|
    d̄    = (1/n) Σ_t d_t
    γ_k  = (1/n) Σ_{t=k+1..n} (d_t − d̄)(d_{t−k} − d̄)     autocovariance at lag k
    V    = (γ_0 + 2 Σ_{k=1..h−1} γ_k) / n               long-run variance of d̄ (rectangular kernel)
    DM   = d̄ / √V
    DM*  = DM · √((n + 1 − 2h + h(h−1)/n) / n)          Harvey, Leybourne & Newbold (1997)
    p    = 2 · P(T_{n−1} > |DM*|)                       Student t, n − 1 degrees of freedom

An h-step forecast error is at most MA(h−1) under optimal forecasting, so autocovariances up to lag h−1
are the ones Diebold & Mariano (1995) keep. A negative statistic means the model's loss is lower.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

__all__ = ["LOSSES", "diebold_mariano", "dm_by_series"]

LOSSES = {"squared": np.square, "absolute": np.abs}
_PREDICTION_COLUMNS = ("symbol", "model", "fold", "step", "actual", "forecast")


def _check_errors(name: str, errors: np.ndarray) -> np.ndarray:
    errors = np.asarray(errors, dtype=np.float64)
    if errors.ndim != 1:
        raise ValueError(f"{name} (shape {errors.shape}) must be 1-D: one error per forecast point")
    bad = np.flatnonzero(~np.isfinite(errors))
    if len(bad):
        raise ValueError(f"{name} ({len(bad)} non-finite values, first at index {bad[0]}) must be finite")
    return errors


def _autocovariance(deviations: np.ndarray, lag: int) -> float:
    """γ_lag of already-centred values, divided by n (not n − lag), as in Diebold & Mariano (1995)."""
    n = len(deviations)
    return float(deviations[lag:] @ deviations[:n - lag]) / n


def diebold_mariano(errors_model: np.ndarray, errors_baseline: np.ndarray, horizon: int = 1,
                    loss: str = "squared") -> tuple[float, float]:
    """The Diebold–Mariano test of equal forecast accuracy, with the HLN small-sample correction.

    See the module docstring for the equations.

    Args:
        errors_model: forecast errors of the model, shape (n,), in time order.
        errors_baseline: forecast errors of the baseline on the same points, shape (n,).
        horizon: h, the steps ahead the forecasts were made; autocovariances up to lag h − 1 are used.
        loss: ``"squared"`` or ``"absolute"``.

    Returns:
        (statistic, two-sided p-value). Statistic < 0: the model's loss is lower than the baseline's.
        Degenerate cases:

        - the two losses are equal at every point (identical errors): ``(nan, 1.0)``, no difference to
          test, and a p-value that never counts as significant;
        - the loss differential is a nonzero constant (zero variance, nonzero mean): ``(±inf, 0.0)``,
          the limit of the statistic as its variance vanishes;
        - h > 1 and the long-run variance V is not positive (negative autocovariances can outweigh γ_0
          with the rectangular kernel): V falls back to the lag-0 variance γ_0 / n, and a
          ``RuntimeWarning`` says so.

    Raises:
        ValueError: errors that are not 1-D, of different shapes, non-finite, or fewer than 2; ``horizon``
            not in [1, n); an unknown ``loss``. The message names the argument, its value and the rule.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> statistic, p_value = diebold_mariano(rng.normal(0, 1, 300), rng.normal(0, 2, 300))
        >>> bool(statistic < 0 and p_value < 0.01)
        True
    """
    e1, e2 = _check_errors("errors_model", errors_model), _check_errors("errors_baseline", errors_baseline)
    if e1.shape != e2.shape:
        raise ValueError(f"errors_model (shape {e1.shape}) and errors_baseline (shape {e2.shape}) must have "
                         "the same shape: errors of the two models on the same points")
    n = len(e1)
    if n < 2:
        raise ValueError(f"errors_model ({n} {'point' if n == 1 else 'points'}) must hold at least 2 points "
                         "to estimate a variance")
    if not 1 <= horizon < n:
        # The HLN factor (h − n)(h − n − 1)/n² vanishes at h = n and would use lags beyond the data.
        raise ValueError(f"horizon ({horizon}) must be in [1, {n}): at least 1 and below the number of points")
    if loss not in LOSSES:
        raise ValueError(f"loss ({loss!r}) must be one of {sorted(LOSSES)}")
    d = LOSSES[loss](e1) - LOSSES[loss](e2)  # (n,)
    mean = float(d.mean())
    if np.ptp(d) == 0:
        return (float("nan"), 1.0) if mean == 0 else (float(np.copysign(np.inf, mean)), 0.0)
    deviations = d - mean
    gamma0 = _autocovariance(deviations, 0)
    variance = (gamma0 + 2 * sum(_autocovariance(deviations, k) for k in range(1, horizon))) / n
    if variance <= 0:
        warnings.warn(f"long-run variance ({variance:.3g}) of the loss differential is not positive with "
                      f"horizon {horizon}: using the lag-0 variance ({gamma0 / n:.3g}) instead",
                      RuntimeWarning, stacklevel=2)
        variance = gamma0 / n
    from scipy import stats  # ~0.2 s: imported when a test runs, not when evaluate is imported

    statistic = mean / np.sqrt(variance)
    statistic *= np.sqrt((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n)
    return float(statistic), float(2 * stats.t.sf(abs(statistic), df=n - 1))


def _paired_errors(frame: pd.DataFrame, model: str, baseline: str) -> pd.DataFrame:
    """One row per (symbol, fold, step) with both models' errors, in fold-step order within each symbol."""
    keys = ["symbol", "fold", "step"]
    sides = []
    for name in (model, baseline):
        rows = frame[frame["model"] == name]
        if rows.empty:
            raise ValueError(f"model ({name!r}) has no rows in frame; its models are "
                             f"{sorted(frame['model'].unique().tolist())}")
        if rows.duplicated(keys).any():
            first = rows[rows.duplicated(keys)].iloc[0]
            raise ValueError(f"model ({name!r}) has more than one row for symbol {first['symbol']!r}, fold "
                             f"{first['fold']}, step {first['step']}: (symbol, fold, step) must be unique")
        sides.append(rows.assign(error=rows["actual"] - rows["forecast"])[[*keys, "error"]])
    paired = sides[0].merge(sides[1], on=keys, how="outer", suffixes=("_model", "_baseline"), indicator=True)
    unpaired = paired[paired["_merge"] != "both"]
    if len(unpaired):
        first, side = unpaired.iloc[0], {"left_only": model, "right_only": baseline}[unpaired.iloc[0]["_merge"]]
        raise ValueError(f"frame has {len(unpaired)} (symbol, fold, step) points forecast by only one of "
                         f"{model!r} and {baseline!r} (first: symbol {first['symbol']!r}, fold {first['fold']}, "
                         f"step {first['step']}, only {side!r}): both must forecast the same points")
    return paired.drop(columns="_merge").sort_values(keys, kind="stable")


def dm_by_series(frame: pd.DataFrame, model: str, baseline: str = "naive", loss: str = "squared") -> pd.DataFrame:
    """The Diebold–Mariano test of ``model`` against ``baseline``, per symbol, over a backtest's folds.

    Errors are ``actual − forecast``, paired by (symbol, fold, step). Each fold holds an h-step path
    whose errors are correlated (they share one origin: a random walk's step-k error sums k shocks), so
    per symbol all (fold, step) points are pooled in fold-step order and the test uses h = the largest
    step: lags up to h − 1 then span every pair inside a fold. Folds that start h
    points apart (the backtest's default step) share no shocks, so the cross-fold pairs those lags also
    reach add only noise to V; folds that overlap (step < h) are correlated further apart, which this
    underestimates. Within a fold the loss grows with the step, which the test's stationarity assumes
    away; read p-values near the threshold with that in mind.

    Args:
        frame: predictions with columns symbol, model, fold, step, actual, forecast (a backtest's
            predictions with a symbol column added).
        model: the model to test.
        baseline: the model it is compared with.
        loss: as in `diebold_mariano`.

    Returns:
        DataFrame indexed by symbol with columns dm_stat, dm_pvalue, n (points compared).

    Example:
        >>> frame = pd.DataFrame({"symbol": "A", "model": ["lstm"] * 6 + ["naive"] * 6, "fold": [0, 0, 1, 1, 2, 2] * 2,
        ...                       "step": [1, 2] * 6, "actual": 1.0,
        ...                       "forecast": [1.1, 0.8, 1.0, 1.2, 0.9, 1.0, 1.5, 0.4, 1.3, 1.8, 0.6, 1.2]})
        >>> dm_by_series(frame, "lstm").round(3).to_dict(orient="index")
        {'A': {'dm_stat': -5.015, 'dm_pvalue': 0.004, 'n': 6}}
    """
    missing = [c for c in _PREDICTION_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"frame (columns {list(frame.columns)}) must have columns {list(_PREDICTION_COLUMNS)}; "
                         f"missing: {missing}")
    if model == baseline:
        raise ValueError(f"model ({model!r}) must differ from baseline ({baseline!r})")
    rows = {}
    for symbol, pairs in _paired_errors(frame, model, baseline).groupby("symbol", sort=True):
        horizon = int(pairs["step"].max())
        try:
            statistic, p_value = diebold_mariano(pairs["error_model"].to_numpy(),
                                                 pairs["error_baseline"].to_numpy(), horizon, loss)
        except ValueError as error:
            raise ValueError(f"symbol {symbol!r}: {error}") from None
        rows[symbol] = {"dm_stat": statistic, "dm_pvalue": p_value, "n": len(pairs)}
    result = pd.DataFrame.from_dict(rows, orient="index", columns=["dm_stat", "dm_pvalue", "n"])
    result.index.name = "symbol"
    return result.astype({"n": np.int64})
