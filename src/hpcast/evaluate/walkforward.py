"""Walk-forward backtest over a panel: expanding window, every model refitted per fold, all on the same folds.

Fold origins are dates on the panel's own time axis (every date any series has): fold k forecasts ``h``
points after origin date ``d_k`` for every series with ``h`` points after it, from the rows dated on or
before ``d_k`` only. Every model in ``models`` is refitted on that history each fold, scalers included
(networks as one global model over the panel, or one per series with ``scope="per-series"``), so nothing
after a cutoff is ever seen. Models already trained (``fitted``: a registry's champion and challenger) only
forecast from each fold's history.

Metrics pool all folds' points, per model and per model and series. MASE scales each series' fold by that
history's in-sample naive error, one step (m = 1) unless the frequency declares a season
(`hpcast.data.season_length`). Each series' model is set beside its own naive forecast with a
Diebold-Mariano test (`hpcast.evaluate.significance`). Interval coverage is reported for every model that
gives bands.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hpcast.config import RunConfig
from hpcast.data.frame import season_length
from hpcast.data.panel import Panel
from hpcast.evaluate.bands import adaptive_bands, band_coverage, var_backtests
from hpcast.evaluate.metrics import Scored, compute_metrics, mase_scale
from hpcast.evaluate.risk import es_levels
from hpcast.evaluate.scores import RANGE_COLUMNS, range_proxy, trailing_volatility, volatility_terciles
from hpcast.forecast.base import Forecaster, as_panel, fit_many
from hpcast.forecast.table import MODELS, estimator_for, model_spec

__all__ = [
    "BacktestPlan",
    "BacktestResult",
    "backtest",
    "default_models",
    "fold_dates",
    "fold_origins",
    "plan_backtest",
    "score",
    "tested_dates",
]

DEFAULT_MODELS = ("lstm", "naive", "seasonal_naive", "drift", "arima")


def fold_origins(n_points: int, test_size: int, horizon: int, step: int) -> list[int]:
    """History lengths at which each fold forecasts; every fold's ``horizon`` points lie inside the data."""
    if not horizon <= test_size < n_points:
        raise ValueError(f"test_size ({test_size}) must be in [horizon ({horizon}), points ({n_points}))")
    first = n_points - test_size
    return list(range(first, n_points - horizon + 1, step))


def tested_dates(config: RunConfig, freq: str) -> int:
    """The dates the folds cover: ``config.backtest.test_size``, else 3 horizons for daily data, 2 otherwise."""
    h = config.resolved(freq).horizon
    assert h is not None
    return config.backtest.test_size or (3 if freq in ("B", "D") else 2) * h


def fold_dates(panel: Panel, config: RunConfig) -> list[np.datetime64]:
    """Each fold's origin: the last date of its history, on the axis of every date any series has."""
    h = config.resolved(panel.freq).horizon
    assert h is not None
    axis = np.unique(panel.dates)  # every date any series has, sorted
    lengths = fold_origins(len(axis), tested_dates(config, panel.freq), h, config.backtest.step or h)
    return [axis[o - 1] for o in lengths]


def default_models(freq: str, network: str = "lstm") -> tuple[str, ...]:
    """``network`` and every baseline that applies to ``freq`` (seasonal naive only where a season is declared)."""
    season = season_length(freq)
    names = (network, *(m for m in DEFAULT_MODELS if m != "lstm"))
    return tuple(m for m in names if season > 1 or not model_spec(m).needs_season)


@dataclass(frozen=True)
class BacktestResult:
    """``predictions``: one row per (fold, series, model, step); ``metrics``: one row per model, pooled;
    ``per_series``: one row per (model, symbol), with the DM test against that series' naive forecast;
    ``coverage``: per model with bands, the share of actual values inside each interval level."""

    predictions: pd.DataFrame
    metrics: pd.DataFrame
    coverage: dict[str, dict[str, float]]
    origins: list[str]
    horizon: int
    season: int
    per_series: pd.DataFrame = field(default_factory=pd.DataFrame)
    refit_every: int = 1  # the models were refitted at every K-th origin (1: at every one)
    var: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # model -> symbol -> level -> test

    def to_dict(self) -> dict[str, Any]:
        def plain(frame: pd.DataFrame) -> Any:
            return frame.astype(object).where(frame.notna(), None)

        per_series: dict[str, Any] = {}
        for (model, symbol), row in plain(self.per_series).iterrows():
            per_series.setdefault(model, {})[symbol] = row.to_dict()
        return {"horizon": self.horizon, "season": self.season, "folds": self.origins, "refit_every": self.refit_every,
                **({"var": self.var} if self.var else {}),
                "metrics": plain(self.metrics).to_dict(orient="index"), "interval_coverage": self.coverage,
                "per_series": per_series}


def score(predictions: pd.DataFrame, by: tuple[str, ...] = ("model",)) -> pd.DataFrame:
    """Every metric of `hpcast.evaluate.metrics.METRICS`, pooled per group of a predictions frame, plus the
    ``points`` scored.

    The frame has columns model, actual, forecast, last, scale, and where a model gives them the bands
    ``lower_<L>``/``upper_<L>`` (quantiles; each level present fills the per-level columns, ``coverage_80``
    …) and ``variance`` (with an optional ``variance_proxy``, which the backtest writes from the day's range
    where the panel has open, high and low columns (`range_proxy`); else the squared log return). Where it has
    ``trailing_vol`` (the backtest writes each series' `trailing_volatility` at the fold origin: the 21 log
    returns up to the origin, from the fold's history only), the points fall into volatility terciles for
    the per-regime columns (``vol_coverage_80_low`` …).

    A metric that needs what a group's model does not give (quantiles, samples, a variance) is NaN there,
    and the group's ``skipped`` note names it with its need, e.g. ``"crps (needs quantiles)"``; the
    ``skipped`` column exists only when some metric was skipped somewhere.
    """
    rows = {}
    for key, group in predictions.groupby(list(by), sort=False):
        values, skipped = compute_metrics(_scored(group))
        rows[key[0] if len(by) == 1 else key] = {**values, "points": len(group),
                                                 **({"skipped": "; ".join(skipped)} if skipped else {})}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    if len(by) > 1 and len(frame):
        frame.index = pd.MultiIndex.from_tuples(frame.index, names=list(by))
    return frame


def _scored(group: pd.DataFrame) -> Scored:
    """One group's points as a metric record; a band level counts as two quantiles where it bands every point
    (a score pooled over some of the points only would not compare with the other models'), and so do the
    ``variance`` forecast and its ``variance_proxy``. Each point's volatility regime is its fold origin's
    ``trailing_vol`` tercile among its own series' origins in the group (`volatility_terciles`)."""
    quantiles = {}
    for column in group.columns:
        percent = column.removeprefix("lower_")  # lower_80 and upper_80 band 80% of the distribution
        upper = f"upper_{percent}"
        if percent.isdigit() and upper in group and group[[column, upper]].notna().to_numpy().all():
            quantiles[(100 - int(percent)) / 200] = group[column].to_numpy(dtype=float)
            quantiles[(100 + int(percent)) / 200] = group[upper].to_numpy(dtype=float)
    return Scored(actual=group["actual"].to_numpy(), forecast=group["forecast"].to_numpy(),
                  last=group["last"].to_numpy(), scale=group["scale"].to_numpy(), quantiles=quantiles,
                  regime=_regime(group), variance=_every(group, "variance"), proxy=_every(group, "variance_proxy"))


def _every(group: pd.DataFrame, column: str) -> np.ndarray | None:
    """``column`` where it has a value for every point of the group, else None."""
    if column in group and group[column].notna().all():
        return group[column].to_numpy(dtype=float)
    return None


def _regime(group: pd.DataFrame) -> np.ndarray | None:
    """Each point's volatility tercile among its own series' values (a calm asset's turbulent days are its own
    top third, not the top third of the panel), or None without a ``trailing_vol``."""
    if "trailing_vol" not in group or group["trailing_vol"].isna().all():
        return None
    vol = group["trailing_vol"].astype(float)
    if "symbol" not in group:
        return volatility_terciles(vol.to_numpy())
    terciles = vol.groupby(group["symbol"], sort=False).transform(lambda v: volatility_terciles(v.to_numpy()))
    return terciles.to_numpy(dtype=int)


@dataclass(frozen=True)
class BacktestPlan:
    """What a backtest runs, resolved once: each model's config, the fold origins, and the refit dates.

    ``refits[k]`` is the history the models are fitted on for the k-th refit (the data dated on or before
    ``origins[k · refit_every]``); fold ``i`` forecasts with the fits of refit ``i // refit_every`` from its
    own history ``panel.until(origins[i])``, so a model never sees data dated after its refit date, and a
    forecast never data after its origin.
    """

    configs: dict[str, RunConfig]
    origins: list[np.datetime64]
    refit_every: int
    refits: list[Panel]

    def refit_of(self, fold: int) -> int:
        return fold // self.refit_every


def plan_backtest(panel: Panel, config: RunConfig, models: tuple[str, ...]) -> BacktestPlan:
    """The `BacktestPlan` of ``models`` on ``panel`` (``config`` resolved for the panel's frequency)."""
    origins = fold_dates(panel, config)
    refit_every = config.backtest.refit_every or 1
    if refit_every > len(origins):
        raise ValueError(f"refit_every ({refit_every}) must be <= the {len(origins)} fold origins of the test span "
                         "(--test-size / --step): with more, the models would never be refitted")
    configs = {name: config.for_model(name) for name in models}
    return BacktestPlan(configs, origins, refit_every, [panel.until(d) for d in origins[::refit_every]])


def _fit(name: str, plan: BacktestPlan, on_fitted: Any = None) -> list[list[Forecaster]]:
    """``name`` fitted on every refit's history (one global model, or one per series): the fits of each refit.
    All go to `fit_many` at once, so a network's refits train together where that pays (`hpcast.train.many`);
    each still sees only its own history."""
    model_config = plan.configs[name]
    estimator = _estimator(name, model_config)
    data = [[history.select([s]) for s in history.symbols] if _fits_per_fold(name, model_config, history) > 1
            else [history] for history in plan.refits]  # per refit: the panels one model each is fitted on
    flat = [panel for refit in data for panel in refit]
    models = fit_many([estimator(model_config) for _ in flat], flat, on_fitted=on_fitted)
    fits, first = [], 0
    for refit in data:
        fits.append(models[first:first + len(refit)])
        first += len(refit)
    return fits


def _forecast(fits: list[Forecaster], history: Panel, horizon: int,
              tails: dict[float, tuple[float, ...]]) -> pd.DataFrame:
    """Each fit's forecast of ``horizon`` steps from the end of ``history``'s series it was fitted on, with
    the one-step ``variance`` and ``es_<1000·L>`` of a model with a distribution on each series' first step
    (`Forecaster.one_step_risk`; ``tails``: VaR level -> the tail quantile levels of its ES)."""
    frames = []
    for model in fits:
        symbols = [s for s in history.symbols if s in model.series]
        panel = history.select(symbols) if symbols != list(history.symbols) else history
        frame = model.predict(panel, horizon)
        first = frame.groupby("symbol", sort=False).cumcount().to_numpy() == 0  # each series' step 1
        for column, values in model.one_step_risk(panel, tails).items():
            by_symbol = dict(zip(panel.symbols, values, strict=True))
            frame[column] = np.where(first, frame["symbol"].map(by_symbol).to_numpy(dtype=float), np.nan)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


class _Counter:
    """Advances a progress bar by one per finished fit, whichever fold or model it was."""

    def __init__(self, progress: Any) -> None:
        self.progress, self.done = progress, 0

    def advance(self, _: int) -> None:
        self.progress.advance(self.done)
        self.done += 1


def _fits_per_fold(name: str, config: RunConfig, history: Panel) -> int:
    """Models fitted per fold for ``name``: one, or one per series for a network under ``scope=per-series``."""
    per_series = model_spec(name).network is not None and config.backtest.scope != "global"
    return history.n_series if per_series else 1


def _estimator(name: str, config: RunConfig) -> Any:
    """``name``'s estimator: a network's seed ensemble under ``--ensemble K`` (baselines are single models)."""
    return estimator_for(name, config.train.ensemble if model_spec(name).network is not None else 1)


def _per_series(predictions: pd.DataFrame) -> pd.DataFrame:
    """Metrics per (model, symbol), with the DM test of each model against that series' naive forecast (where
    the h-step long-run variance comes out negative the test falls back to the lag-0 variance, as
    `hpcast.evaluate.significance.diebold_mariano` documents)."""
    import warnings

    from hpcast.evaluate.significance import dm_by_series

    table = score(predictions, ("model", "symbol"))
    if "naive" not in set(predictions["model"]):
        return table
    tests = []
    for model in predictions["model"].unique():
        if model == "naive":
            continue
        for symbol in predictions["symbol"].unique():
            paired = predictions[predictions["model"].isin([model, "naive"]) & (predictions["symbol"] == symbol)]
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    result = dm_by_series(paired, model, "naive")
            except ValueError:  # too few points for the test (one fold of h steps): no p-value, not a failure
                continue
            tests.append(result.assign(model=model).set_index("model", append=True).swaplevel())
    if tests:
        table = table.join(pd.concat(tests)[["dm_stat", "dm_pvalue"]])
    return table


def backtest(data: Panel | pd.Series, freq: str | None = None, config: RunConfig | None = None, *,
             models: tuple[str, ...] | None = None, fitted: dict[str, Any] | None = None,
             progress: Any = None) -> BacktestResult:
    """Run every model in ``models`` on the same walk-forward folds of ``data`` (a panel, or one series
    sampled at ``freq``).

    ``models`` are names in `MODELS`, refitted on each fold's history; None means `default_models` for the
    config's network (refitted as a seed ensemble when ``config.train.ensemble`` > 1). ``fitted`` maps names
    to already-trained forecasters that are *not* refitted: only fold origins after their training data keep
    that honest; the caller chooses ``config.backtest.test_size`` so.

    Example:
        >>> from hpcast.data import load_bundled
        >>> result = backtest(load_bundled("air_passengers").series(), "MS", RunConfig())  # doctest: +SKIP
        >>> result.metrics.loc[["lstm", "seasonal_naive"], "mase"]  # doctest: +SKIP
    """
    config = config or RunConfig()
    panel = as_panel(data, freq)
    freq = panel.freq
    season = season_length(freq)
    network = config.kind if model_spec(config.kind).network is not None else "lstm"
    models = tuple(models) if models else default_models(freq, network)
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ValueError(f"models ({unknown}) must be among {list(MODELS)}")
    if season == 1 and any(model_spec(m).needs_season for m in models):
        raise ValueError(f"model 'seasonal_naive' needs a declared season; frequency {freq!r} has none "
                         "(only monthly and quarterly data declare one): leave it out")
    config = config.resolved(freq)
    if config.backtest.var:  # the VaR quantiles are the lower edges of central bands: make sure they are given
        levels = tuple(sorted({*config.interval_levels, *config.backtest.band_levels()}))
        config = dataclasses.replace(config, interval_levels=levels)
    h = config.horizon
    assert h is not None
    if config.backtest.adaptive and h != 1:
        raise ValueError(f"adaptive ({config.backtest.adaptive}) adapts one-step bands from each day's hit: pass "
                         f"--horizon 1 (got {h})")
    for name in models:
        _estimator(name, config.for_model(name))  # a network that cannot ensemble fails before the first fold
        fixed = model_spec(name).horizon
        if fixed is not None and h != fixed:
            raise ValueError(f"horizon ({h}) must be {fixed} to backtest {name} (it forecasts {fixed} step ahead): "
                             f"pass --horizon {fixed}, and every model is compared {fixed} step ahead")
    plan = plan_backtest(panel, config, models)
    if progress is not None:  # counts model fits: every refit refits every model (per series, too)
        progress.start(sum(_fits_per_fold(name, config, history) for name in models for history in plan.refits))
    on_fitted = None if progress is None else _Counter(progress).advance
    fits = {name: _fit(name, plan, on_fitted) for name in models}
    tails = {level: es_levels(level) for level in config.backtest.var}
    origins = plan.origins
    ranges = [panel.columns.index(c) for c in RANGE_COLUMNS] if set(RANGE_COLUMNS) <= set(panel.columns) else None
    rows: list[pd.DataFrame] = []
    for fold, origin in enumerate(origins):
        history = panel.until(origin)
        facts = {}
        for symbol in history.symbols:  # the series with h points after the origin are scored
            values = panel.values[panel.rows(symbol), 0]
            past = history.values[history.rows(symbol), 0]
            if len(values) >= len(past) + h:
                facts[symbol] = {"actual": values[len(past):len(past) + h], "last": past[-1],
                                 "scale": mase_scale(past, season), "trailing_vol": trailing_volatility(past),
                                 "date": panel.index(symbol)[len(past):len(past) + h]}
                if ranges is not None:  # the QLIKE proxy from the day's range (`range_proxy`)
                    ohlc = [panel.values[panel.rows(symbol), c][:len(past) + h] for c in ranges]
                    facts[symbol]["variance_proxy"] = range_proxy(values[:len(past) + h], *ohlc, known=len(past))
        forecasts = [(name, _forecast(fits[name][plan.refit_of(fold)], history, h, tails)) for name in models]
        forecasts += [(name, forecaster.predict(history, h)) for name, forecaster in (fitted or {}).items()]
        for name, forecast in forecasts:
            for symbol, group in forecast.groupby("symbol", sort=False):
                if symbol not in facts:
                    continue
                fact = facts[symbol]
                rows.append(pd.DataFrame({
                    "fold": fold, "origin": pd.Timestamp(origin), "symbol": symbol, "date": fact["date"],
                    "step": np.arange(1, h + 1), "model": name, "actual": fact["actual"], "last": fact["last"],
                    "scale": fact["scale"], "trailing_vol": fact["trailing_vol"],
                    **({"variance_proxy": fact["variance_proxy"]} if "variance_proxy" in fact else {}),
                    **{c: group[c].to_numpy() for c in group.columns if c not in ("symbol", "date")}}))
    if progress is not None:
        progress.finish()
    predictions = pd.concat(rows, ignore_index=True)
    if config.backtest.adaptive:
        predictions = pd.concat([predictions, adaptive_bands(predictions, config.interval_levels,
                                                             config.backtest.adaptive)], ignore_index=True)
    return BacktestResult(predictions=predictions, metrics=score(predictions),
                          coverage=band_coverage(predictions, config.interval_levels),
                          origins=[pd.Timestamp(o).date().isoformat() for o in origins], horizon=h, season=season,
                          per_series=_per_series(predictions), refit_every=plan.refit_every,
                          var=var_backtests(predictions, config.backtest.var))


def with_test_size(config: RunConfig, test_size: int) -> RunConfig:
    """``config`` with its backtest's ``test_size`` replaced."""
    return dataclasses.replace(config, backtest=dataclasses.replace(config.backtest, test_size=test_size))
