"""The metric table: every forecast metric declared once, in `METRICS`, and read by all that shows one.

`hpcast.evaluate.walkforward.score` computes each metric of the table for every model (and every model and
series), `BacktestResult.to_dict` writes them to ``metrics.json``, `hpcast.report` heads its columns with
their labels in the table's order, and ``hpcast backtest --help`` lists them. `METRICS` is the only place
a metric is chosen by name; `HEADLINE` is the one that verdicts rank models by.

A metric's function takes one `Scored` record: the points of one scored group (a model, or a model and a
series, pooled over folds) with what was forecast for them. Every record has point forecasts; the
quantiles of a forecast distribution, sample paths and variance forecasts come with the models that give
them, and each point's volatility regime with a backtest that can tell it. A metric declares what it
``needs`` (one of `NEEDS`); where a record does not give it, the backtest leaves the value NaN and names
the metric in the row's ``skipped`` note instead of computing it from something else.

A metric with ``per_level`` is a family computed once per central interval level the record gives (its
function takes the level too): ``coverage`` becomes the columns ``coverage_80`` and ``coverage_95``,
labelled "Cov 80 %" and "Cov 95 %", for the configured levels 0.8 and 0.95 (`Metric.expand`). One with
``per_regime`` is further computed on the points of each volatility tercile alone (``vol_coverage_80_low``
…; the terciles of `hpcast.evaluate.scores.volatility_terciles`). `shown_columns` picks the columns a
table of scores shows: every point metric, and the others where some model has a value, so a run of point
forecasts only shows the table it always did.

To add a metric: write its function of a `Scored` record, add one `Metric` line to `METRICS`, and add its
hand-computed value to ``HAND`` (point metrics) or ``HAND_DISTRIBUTION`` (the others, per column) in
``tests/evaluate/test_metrics.py`` (a test fails until it is there). The backtest,
``metrics.json``, the report and the CLI help pick it up unaided.

The point metrics take ``actual`` and ``predicted`` of the same shape. MASE divides by the in-sample mean
absolute error of the naive forecast on the training history (Hyndman & Koehler, 2006): one step ahead
(m = 1) unless the series declares a season m (12 monthly, 4 quarterly), then the seasonal naive's. MASE
< 1 means better than that naive method was in-sample. Directional accuracy counts the steps where the
forecast's direction of change from the last observed value matches the actual one, over the steps where
the forecast calls a direction (a flat forecast calls none, so naive has no directional score).

The distribution and variance scores are defined in `hpcast.evaluate.scores`: CRPS (from sample paths
where a record has them, else approximated from its quantiles), the mean weighted quantile loss, the
interval (Winkler) score and central coverage per level, and QLIKE of a variance forecast.

Shapes: ``n`` points in a record, ``S`` sample paths.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from hpcast.evaluate.scores import (
    REGIMES,
    covered,
    crps_quantiles,
    crps_samples,
    interval_score,
    qlike,
    squared_log_return,
    weighted_quantile_loss,
)

__all__ = ["HEADLINE", "METRICS", "NEEDS", "QUANTILE_LEVELS", "Metric", "Scored", "compute_metrics",
           "directional_accuracy", "mae", "mape", "mase", "mase_scale", "rmse", "shown_columns", "smape"]

Needs = Literal["points", "quantiles", "samples", "regime", "variance"]
NEEDS: tuple[Needs, ...] = ("points", "quantiles", "samples", "regime", "variance")

QUANTILE_LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
"""The levels the quantile scores read off sample paths where a record gives no quantiles (GluonTS's)."""


def mae(actual: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(np.abs(actual - predicted)))


def rmse(actual: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.sqrt(np.mean((actual - predicted) ** 2)))


def mape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute percentage error, in percent (undefined when an actual value is 0)."""
    if np.any(actual == 0):
        return float("nan")
    return float(100 * np.mean(np.abs((actual - predicted) / actual)))


def smape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Symmetric MAPE in percent, 0..200: 200·|a-p| / (|a|+|p|), 0 where both are 0."""
    denominator = np.abs(actual) + np.abs(predicted)
    ratio = np.divide(2 * np.abs(actual - predicted), denominator, out=np.zeros_like(denominator, dtype=float),
                      where=denominator > 0)
    return float(100 * np.mean(ratio))


def mase_scale(history: np.ndarray, season: int) -> float:
    """In-sample MAE of the naive forecast at lag ``season`` (1: one-step; lag 1 when the history is too short)."""
    lag = season if len(history) > season else 1
    return float(np.mean(np.abs(history[lag:] - history[:-lag])))


def mase(actual: np.ndarray, predicted: np.ndarray, scale: np.ndarray) -> float:
    """Mean of each point's absolute error over its own series' `mase_scale` (so series pool unit-free)."""
    return float(np.mean(np.abs(actual - predicted) / scale))


def directional_accuracy(actual: np.ndarray, predicted: np.ndarray, last: np.ndarray) -> float:
    """Share (0..1) of called directions that were right; NaN if the forecast never calls one."""
    called = np.sign(predicted - last)
    mask = called != 0
    if not mask.any():
        return float("nan")
    return float(np.mean(called[mask] == np.sign(actual - last)[mask]))


@dataclass(frozen=True)
class Scored:
    """The points of one scored group and what was forecast for them; every array is ``(n,)`` but samples.

    Attributes:
        actual: the values that came.
        forecast: the point forecasts.
        last: the last value observed before each point's fold origin (the naive forecast).
        scale: each point's MASE scale: its series' in-sample naive error on that fold's history.
        quantiles: quantile level q in (0, 1) → the forecast's q-quantile, for models that give them (a
            central interval at level L gives q = (1 - L) / 2 and (1 + L) / 2).
        samples: ``(n, S)`` sample paths' values, for models that give them.
        regime: each point's volatility tercile at its fold origin, 0 (low), 1 (mid), 2 (high), −1 unknown
            (`hpcast.evaluate.scores.volatility_terciles`), where the backtest can tell them.
        variance: the forecast variance of each point's log return from ``last`` to ``actual``, for models
            that forecast one (one step ahead: that day's return).
        proxy: each point's realised-variance proxy for that return; None: the squared log return
            log(actual / last)² (`hpcast.evaluate.scores.range_proxy` gives one from open, high, low and close).
    """

    actual: np.ndarray
    forecast: np.ndarray
    last: np.ndarray
    scale: np.ndarray
    quantiles: dict[float, np.ndarray] = field(default_factory=dict)
    samples: np.ndarray | None = None
    regime: np.ndarray | None = None
    variance: np.ndarray | None = None
    proxy: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.actual)
        for name in ("samples", "regime", "variance", "proxy"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ValueError(f"{name} ({len(value)} points) must have one row per actual value ({n})")

    def gives(self, needs: Needs) -> bool:
        """Whether this record holds what a metric that ``needs`` it reads (samples give quantiles too)."""
        if needs == "points":
            return True
        if needs == "quantiles":
            return bool(self.quantiles) or self.samples is not None
        if needs == "regime":
            return self.regime is not None and bool(np.any(self.regime >= 0))
        if needs == "variance":
            return self.variance is not None
        return self.samples is not None

    def quantile(self, q: float) -> np.ndarray:
        """The forecast's ``q``-quantile per point ``(n,)``: given, or read off the samples."""
        if q in self.quantiles:
            return self.quantiles[q]
        if self.samples is not None:
            return np.quantile(self.samples, q, axis=1)  # (n, S) -> (n,)
        raise ValueError(f"quantile ({q}) must be one of the levels given ({sorted(self.quantiles)}) "
                         "when there are no samples")

    def quantile_set(self) -> dict[float, np.ndarray]:
        """The quantiles the quantile scores average over: those given, else `QUANTILE_LEVELS` off the samples."""
        return self.quantiles or {q: self.quantile(q) for q in QUANTILE_LEVELS}

    def interval(self, level: float) -> tuple[np.ndarray, np.ndarray]:
        """The central interval holding ``level`` (e.g. 0.8) of the forecast distribution: lower, upper."""
        percent = round(level * 100)
        return self.quantile((100 - percent) / 200), self.quantile((100 + percent) / 200)

    def levels(self) -> tuple[float, ...]:
        """The central interval levels whose two quantiles are both given, ascending (0.8 from 0.1 and 0.9)."""
        percents = sorted({round((1 - 2 * q) * 100) for q in self.quantiles if q < 0.5})
        return tuple(p / 100 for p in percents
                     if 0 < p < 100 and (100 - p) / 200 in self.quantiles and (100 + p) / 200 in self.quantiles)

    def select(self, mask: np.ndarray) -> Scored:
        """The points where ``mask`` holds, with all that was forecast for them."""
        def pick(value: Any) -> Any:
            if isinstance(value, dict):
                return {key: array[mask] for key, array in value.items()}
            return None if value is None else value[mask]

        return Scored(**{f.name: pick(getattr(self, f.name)) for f in dataclasses.fields(self)})


@dataclass(frozen=True)
class Metric:
    """One metric: how it is computed from a `Scored` record, what it needs, and how it is shown.

    Attributes:
        name: its key in score frames and ``metrics.json`` (a family's columns add ``_<level %>`` and
            ``_<regime>``: ``coverage_80``, ``vol_coverage_80_low``).
        label: the heading of its column in the report's backtest table (a family's columns add the level
            and the regime: "Cov 80 %", "Cov 80 % low vol").
        function: computes it from one record (and, with ``per_level``, a level: ``function(scored, level)``).
        needs: what the record must give, one of `NEEDS`.
        lower_is_better: False for a metric where higher is better (directional accuracy).
        percent: the value is a share in 0..1, shown as a percentage (×100 in the table).
        per_series: the heading of its column in the report's per-series table; None: not shown there.
        scaled: divided by each series' own in-sample naive error (MASE): free of the series' units, so it
            pools and compares across series.
        description: what it is, in a few words (the CLI help lists it).
        per_level: a family with one column per central interval level the record gives (`expand`).
        per_regime: computed again on the points of each volatility tercile alone; it needs the regime too.
            These columns are not in the pooled table (the report gives them a line of their own).
        calibrates: the value should equal its interval level (coverage): closer is better, so `better` and
            `best` rank by the distance to ``level`` instead of ``lower_is_better``.
        level: the interval level of one column of a ``per_level`` family (set by `expand`).
        regime: the volatility tercile of one column of a ``per_regime`` family (set by `expand`).
    """

    name: str
    label: str
    function: Callable[..., float]
    needs: Needs = "points"
    lower_is_better: bool = True
    percent: bool = False
    per_series: str | None = None
    scaled: bool = False
    description: str = ""
    per_level: bool = False
    per_regime: bool = False
    calibrates: bool = False
    level: float | None = None
    regime: str | None = None

    def __post_init__(self) -> None:
        if self.needs not in NEEDS:
            raise ValueError(f"needs ({self.needs!r}) of metric {self.name!r} must be one of {list(NEEDS)}")
        if self.calibrates and not (self.per_level or self.level is not None):
            raise ValueError(f"calibrates of metric {self.name!r} needs per_level: a value calibrates to a level")

    @property
    def requires(self) -> tuple[Needs, ...]:
        """Everything a record must give for this metric: its ``needs``, and the regime where per regime."""
        return (self.needs, "regime") if self.per_regime or self.regime is not None else (self.needs,)

    def __call__(self, scored: Scored) -> float:
        if self.per_level:
            raise ValueError(f"metric {self.name!r} is computed per level: call a column of its expand(levels)")
        return float(self.function(scored))

    def expand(self, levels: Sequence[float] = ()) -> list[Metric]:
        """The columns this metric fills: itself, or one per level in ``levels`` (× each volatility tercile).

        Example:
            >>> [column.label for column in METRICS["coverage"].expand((0.8, 0.95))]
            ['Cov 80 %', 'Cov 95 %']
        """
        columns = [self._at_level(level) for level in levels] if self.per_level else [self]
        return [column._in_regime(k) for column in columns for k in range(len(REGIMES))] if self.per_regime \
            else columns

    def _at_level(self, level: float) -> Metric:
        percent = round(level * 100)
        return dataclasses.replace(self, name=f"{self.name}_{percent}",
                                   label=f"{self.label} {percent}{' %' if self.percent else ''}",
                                   function=functools.partial(self.function, level=level), per_level=False,
                                   level=level)

    def _in_regime(self, tercile: int) -> Metric:
        function = self.function

        def in_regime(scored: Scored) -> float:
            mask = scored.regime == tercile
            return function(scored.select(mask)) if mask.any() else float("nan")

        return dataclasses.replace(self, name=f"{self.name}_{REGIMES[tercile]}",
                                   label=f"{self.label} {REGIMES[tercile]} vol", function=in_regime,
                                   per_regime=False, regime=REGIMES[tercile])

    def _distance(self, value: float) -> float:
        if self.level is None:
            raise ValueError(f"metric {self.name!r} ranks by the distance to its level: rank one of its "
                             "expand(levels) columns")
        return abs(value - self.level)

    def better(self, value: float, other: float) -> bool:
        """Whether ``value`` is strictly better than ``other`` on this metric."""
        if self.calibrates:
            return self._distance(value) < self._distance(other)
        return value < other if self.lower_is_better else value > other

    def best(self, values: dict[str, float]) -> str:
        """The key of the best value (the first of equals)."""
        if self.calibrates:
            return min(values, key=lambda key: self._distance(values[key]))
        return min(values, key=values.get) if self.lower_is_better else max(values, key=values.get)


def _table(*metrics: Metric) -> dict[str, Metric]:
    table: dict[str, Metric] = {}
    for metric in metrics:
        if metric.name in table:
            raise ValueError(f"metric name ({metric.name!r}) must be unique in the table")
        table[metric.name] = metric
    return table


def _crps(scored: Scored) -> float:
    if scored.samples is not None:
        return float(np.mean(crps_samples(scored.actual, scored.samples)))
    return float(np.mean(crps_quantiles(scored.actual, scored.quantiles)))


def _interval_score(scored: Scored, level: float) -> float:
    return float(np.mean(interval_score(scored.actual, *scored.interval(level), level)))


def _coverage(scored: Scored, level: float) -> float:
    return float(np.mean(covered(scored.actual, *scored.interval(level))))


def _qlike(scored: Scored) -> float:
    assert scored.variance is not None
    proxy = squared_log_return(scored.actual, scored.last) if scored.proxy is None else scored.proxy
    return qlike(proxy, scored.variance)


METRICS: dict[str, Metric] = _table(
    Metric("mae", "MAE", lambda s: mae(s.actual, s.forecast), description="mean absolute error"),
    Metric("rmse", "RMSE", lambda s: rmse(s.actual, s.forecast), description="root mean squared error"),
    Metric("mape", "MAPE %", lambda s: mape(s.actual, s.forecast), description="mean absolute percentage error"),
    Metric("smape", "sMAPE %", lambda s: smape(s.actual, s.forecast), description="symmetric MAPE, 0..200"),
    Metric("mase", "MASE", lambda s: mase(s.actual, s.forecast, s.scale), per_series="MASE", scaled=True,
           description="MAE over the in-sample naive MAE"),
    Metric("directional_accuracy", "Direction %", lambda s: directional_accuracy(s.actual, s.forecast, s.last),
           lower_is_better=False, percent=True, per_series="direction",
           description="directional accuracy: the share of called directions that were right"),
    Metric("crps", "CRPS", _crps, needs="quantiles",
           description="continuous ranked probability score, from sample paths where a model gives them, else "
                       "2 × the pinball loss averaged over its quantiles"),
    Metric("wql", "wQL", lambda s: weighted_quantile_loss(s.actual, s.quantile_set()), needs="quantiles",
           description="mean weighted quantile loss, 2 × the summed pinball loss over the summed |actual|, "
                       "averaged over the quantile levels"),
    Metric("interval_score", "IS", _interval_score, needs="quantiles", per_level=True,
           description="interval (Winkler) score per interval level L (IS 80, IS 95): the width plus "
                       "2/(1 - L) × the distance by which the actual value fell outside"),
    Metric("coverage", "Cov", _coverage, needs="quantiles", per_level=True, percent=True, calibrates=True,
           description="the share of actual values inside each central interval (Cov 80 %), best at its level"),
    Metric("vol_coverage", "Cov", _coverage, needs="quantiles", per_level=True, per_regime=True, percent=True,
           calibrates=True, description="the same per tercile of each series' trailing 21-day realised "
                                        "volatility at the fold origins (Cov 80 % low vol)"),
    Metric("qlike", "QLIKE", _qlike, needs="variance",
           description="QLIKE loss of a variance forecast against a realised-variance proxy (the squared log "
                       "return unless a range proxy is given)"),
)
"""Every metric, by name, in the order the report shows them."""

HEADLINE: Metric = METRICS["mase"]
"""The metric that verdicts rank models by: scaled per series, so it pools over a panel."""


def compute_metrics(scored: Scored, levels: Sequence[float] | None = None) -> tuple[dict[str, float], list[str]]:
    """Every metric of the table on one record: values by column name (NaN where skipped), and a note per
    metric skipped because the record does not give what it needs, e.g. ``"crps (needs quantiles)"``.

    A ``per_level`` family fills a column per level in ``levels`` (None: the record's own, `Scored.levels`);
    skipped for want of levels, it has no columns, only its note.

    Example:
        >>> one = np.array([1.0])
        >>> compute_metrics(Scored(actual=one, forecast=one + 1, last=one, scale=one))[0]["mae"]
        1.0
    """
    levels = scored.levels() if levels is None else tuple(levels)
    values, skipped = {}, []
    for name, metric in METRICS.items():
        missing = next((need for need in metric.requires if not scored.gives(need)), None)
        if missing is None and metric.per_level and not levels:
            missing = "interval levels"
        for column in metric.expand(levels):
            values[column.name] = float("nan") if missing else column(scored)
        if missing:
            skipped.append(f"{name} (needs {missing})")
    return values, skipped


def _is_value(value: Any) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and not np.isnan(value)


def shown_columns(rows: Iterable[Mapping[str, Any]],
                  table: Mapping[str, Metric] | None = None) -> dict[str, list[Metric]]:
    """The columns a table of score rows shows (a row per model, as in ``metrics.json``), by metric of
    ``table`` (default `METRICS`) in its order: every point metric, blank or not as it always was, and each
    column of the other metrics that some row has a value for, per level and tercile; a metric with no such
    column is left out. A run of point forecasts only so shows the table it always did.

    Example:
        >>> [name for name in shown_columns([{"mae": 1.0, "crps": float("nan"), "coverage_80": 0.75}])]
        ['mae', 'rmse', 'mape', 'smape', 'mase', 'directional_accuracy', 'coverage']
    """
    table = METRICS if table is None else table
    given = {key for row in rows for key, value in row.items() if _is_value(value)}
    shown = {}
    for name, metric in table.items():
        if metric.requires == ("points",) and not metric.per_level:
            shown[name] = [metric]
            continue
        suffix = re.compile(rf"{re.escape(name)}_(\d+)(?:_[a-z]+)?")
        levels = sorted({int(match[1]) / 100 for key in given if (match := suffix.fullmatch(key))})
        columns = [column for column in metric.expand(levels) if column.name in given]
        if columns:
            shown[name] = columns
    return shown
