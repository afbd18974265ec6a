"""The metric table: every forecast metric declared once, in `METRICS`, and read by all that shows one.

`hpcast.evaluate.backtest.score` computes each metric of the table for every model (and every model and
series), `BacktestResult.to_dict` writes them to ``metrics.json``, `hpcast.report` heads its columns with
their labels in the table's order, and ``hpcast backtest --help`` lists them. `METRICS` is the only place
a metric is chosen by name; `HEADLINE` is the one that verdicts rank models by.

A metric's function takes one `Scored` record: the points of one scored group (a model, or a model and a
series, pooled over folds) with what was forecast for them. Every record has point forecasts; the
quantiles of a forecast distribution and sample paths come with the models that give them. A metric
declares what it ``needs`` (``"points"``, ``"quantiles"`` or ``"samples"``); where a record does not
give it, the backtest leaves the value NaN and names the metric in the row's ``skipped`` note instead of
computing it from something else.

To add a metric: write its function of a `Scored` record, add one `Metric` line to `METRICS`, and add its
hand-computed value to ``tests/evaluate/test_metrics.py`` (a test fails until it is there). The backtest,
``metrics.json``, the report and the CLI help pick it up unaided.

The point metrics take ``actual`` and ``predicted`` of the same shape. MASE divides by the in-sample mean
absolute error of the naive forecast on the training history (Hyndman & Koehler, 2006): one step ahead
(m = 1) unless the series declares a season m (12 monthly, 4 quarterly), then the seasonal naive's. MASE
< 1 means better than that naive method was in-sample. Directional accuracy counts the steps where the
forecast's direction of change from the last observed value matches the actual one, over the steps where
the forecast calls a direction (a flat forecast calls none, so naive has no directional score).

Shapes: ``n`` points in a record, ``S`` sample paths.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

__all__ = ["HEADLINE", "METRICS", "NEEDS", "Metric", "Scored", "compute_metrics", "directional_accuracy", "mae", "mape",
           "mase", "mase_scale", "rmse", "smape"]

Needs = Literal["points", "quantiles", "samples"]
NEEDS: tuple[Needs, ...] = ("points", "quantiles", "samples")


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
    """

    actual: np.ndarray
    forecast: np.ndarray
    last: np.ndarray
    scale: np.ndarray
    quantiles: dict[float, np.ndarray] = field(default_factory=dict)
    samples: np.ndarray | None = None

    def gives(self, needs: Needs) -> bool:
        """Whether this record holds what a metric that ``needs`` it reads (samples give quantiles too)."""
        if needs == "points":
            return True
        if needs == "quantiles":
            return bool(self.quantiles) or self.samples is not None
        return self.samples is not None

    def quantile(self, q: float) -> np.ndarray:
        """The forecast's ``q``-quantile per point ``(n,)``: given, or read off the samples."""
        if q in self.quantiles:
            return self.quantiles[q]
        if self.samples is not None:
            return np.quantile(self.samples, q, axis=1)  # (n, S) -> (n,)
        raise ValueError(f"quantile ({q}) must be one of the levels given ({sorted(self.quantiles)}) "
                         "when there are no samples")

    def interval(self, level: float) -> tuple[np.ndarray, np.ndarray]:
        """The central interval holding ``level`` (e.g. 0.8) of the forecast distribution: lower, upper."""
        percent = round(level * 100)
        return self.quantile((100 - percent) / 200), self.quantile((100 + percent) / 200)


@dataclass(frozen=True)
class Metric:
    """One metric: how it is computed from a `Scored` record, what it needs, and how it is shown.

    Attributes:
        name: its key in score frames and ``metrics.json``.
        label: the heading of its column in the report's backtest table.
        function: computes it from one record.
        needs: what the record must give: ``"points"``, ``"quantiles"`` or ``"samples"``.
        lower_is_better: False for a metric where higher is better (directional accuracy).
        percent: the value is a share in 0..1, shown as a percentage (×100 in the table).
        per_series: the heading of its column in the report's per-series table; None: not shown there.
        scaled: divided by each series' own in-sample naive error (MASE): free of the series' units, so it
            pools and compares across series.
        description: what it is, in a few words (the CLI help lists it).
    """

    name: str
    label: str
    function: Callable[[Scored], float]
    needs: Needs = "points"
    lower_is_better: bool = True
    percent: bool = False
    per_series: str | None = None
    scaled: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        if self.needs not in NEEDS:
            raise ValueError(f"needs ({self.needs!r}) of metric {self.name!r} must be one of {list(NEEDS)}")

    def __call__(self, scored: Scored) -> float:
        return float(self.function(scored))

    def better(self, value: float, other: float) -> bool:
        """Whether ``value`` is strictly better than ``other`` on this metric."""
        return value < other if self.lower_is_better else value > other

    def best(self, values: dict[str, float]) -> str:
        """The key of the best value (the first of equals)."""
        return min(values, key=values.get) if self.lower_is_better else max(values, key=values.get)


def _table(*metrics: Metric) -> dict[str, Metric]:
    table: dict[str, Metric] = {}
    for metric in metrics:
        if metric.name in table:
            raise ValueError(f"metric name ({metric.name!r}) must be unique in the table")
        table[metric.name] = metric
    return table


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
)
"""Every metric, by name, in the order the report shows them."""

HEADLINE: Metric = METRICS["mase"]
"""The metric that verdicts rank models by: scaled per series, so it pools over a panel."""


def compute_metrics(scored: Scored) -> tuple[dict[str, float], list[str]]:
    """Every metric of the table on one record: values by name (NaN where skipped), and a note per metric
    skipped because the record does not give what it needs, e.g. ``"crps (needs quantiles)"``.

    Example:
        >>> one = np.array([1.0])
        >>> compute_metrics(Scored(actual=one, forecast=one + 1, last=one, scale=one))[0]["mae"]
        1.0
    """
    values, skipped = {}, []
    for name, metric in METRICS.items():
        if scored.gives(metric.needs):
            values[name] = metric(scored)
        else:
            values[name] = float("nan")
            skipped.append(f"{name} (needs {metric.needs})")
    return values, skipped
