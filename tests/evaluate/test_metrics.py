import numpy as np
import pandas as pd
import pytest

from hpcast.evaluate import (
    HEADLINE,
    METRICS,
    Metric,
    Scored,
    directional_accuracy,
    mae,
    mape,
    mase_scale,
    rmse,
    score,
    smape,
)
from hpcast.report import backtest_table, render_report

A, P = np.array([100.0, 110.0, 90.0]), np.array([110.0, 110.0, 60.0])


def test_hand_computed_point_metrics():
    assert mae(A, P) == pytest.approx(40 / 3)
    assert rmse(A, P) == pytest.approx(np.sqrt(1000 / 3))
    assert mape(A, P) == pytest.approx(100 * (0.1 + 0 + 1 / 3) / 3)
    assert smape(A, P) == pytest.approx(100 * (20 / 210 + 0 + 60 / 150) / 3)


def test_mape_undefined_at_zero_and_smape_zero_over_zero():
    assert np.isnan(mape(np.array([0.0, 1.0]), np.array([1.0, 1.0])))
    assert smape(np.array([0.0]), np.array([0.0])) == 0.0


def test_mase_scale_is_the_in_sample_seasonal_naive_error():
    history = np.array([1.0, 3.0, 2.0, 5.0, 4.0])
    assert mase_scale(history, 1) == pytest.approx((2 + 1 + 3 + 1) / 4)
    assert mase_scale(history, 2) == pytest.approx((1 + 2 + 2) / 3)
    assert mase_scale(history, 12) == mase_scale(history, 1)  # too short for the season


def test_directional_accuracy_counts_called_directions_only():
    last = np.array([100.0, 100.0, 100.0, 100.0])
    actual = np.array([101.0, 99.0, 101.0, 99.0])
    predicted = np.array([102.0, 98.0, 98.0, 100.0])  # right, right, wrong, no call
    assert directional_accuracy(actual, predicted, last) == pytest.approx(2 / 3)
    assert np.isnan(directional_accuracy(actual, last, last))  # naive calls nothing


# The metric table (`METRICS`): every entry is computed by `score`, shown by the report, skipped by name
# where a model lacks what it needs.
LAST, SCALE = np.array([100.0, 100.0, 100.0]), np.array([10.0, 10.0, 20.0])
HAND = {  # every metric of the table on A, P, LAST, SCALE, by hand: a metric added to the table needs its value
    "mae": (10 + 0 + 30) / 3,
    "rmse": np.sqrt((100 + 0 + 900) / 3),
    "mape": 100 * (10 / 100 + 0 / 110 + 30 / 90) / 3,
    "smape": 100 * (20 / 210 + 0 / 220 + 60 / 150) / 3,
    "mase": (10 / 10 + 0 / 10 + 30 / 20) / 3,
    "directional_accuracy": 2 / 3,  # calls up, up, down from 100; actual flat (wrong), up, down
}


def _predictions(**bands) -> pd.DataFrame:
    """One series' three points forecast by model ``m``, with optional band columns."""
    return pd.DataFrame({"model": "m", "symbol": "aaa", "actual": A, "forecast": P, "last": LAST, "scale": SCALE,
                         **bands})


def test_every_metric_of_the_table_is_scored_and_reported_as_computed_by_hand():
    assert set(HAND) == set(METRICS), "each metric in the table needs its hand-computed value in HAND"
    row = score(_predictions()).loc["m"]
    for name, value in HAND.items():
        assert row[name] == pytest.approx(value), name
    assert row["points"] == 3 and "skipped" not in row
    table = backtest_table(score(_predictions()).to_dict(orient="index")).splitlines()
    assert table[0] == "| model | " + " | ".join(metric.label for metric in METRICS.values()) + " |"
    cells = [f"{HAND[name] * (100 if metric.percent else 1):.3f}" for name, metric in METRICS.items()]
    assert table[2] == "| **m** | " + " | ".join(cells) + " |"  # m is no baseline: a network, in bold


def test_the_demo_reports_columns_keep_their_order_labels_and_numbers():
    header, _, row = backtest_table(score(_predictions()).to_dict(orient="index")).splitlines()
    assert header.startswith("| model | MAE | RMSE | MAPE % | sMAPE % | MASE | Direction % |")
    assert row.startswith("| **m** | 13.333 | 18.257 | 14.444 | 16.508 | 0.833 | 66.667 |")


def _inside(scored: Scored) -> float:
    lower, upper = scored.interval(0.8)
    return float(np.mean((scored.actual >= lower) & (scored.actual <= upper)))


def test_a_metric_that_needs_quantiles_is_skipped_by_name_for_a_model_without_them(monkeypatch, tmp_path):
    monkeypatch.setitem(METRICS, "inside_80", Metric("inside_80", "Inside 80 %", _inside, needs="quantiles",
                                                     lower_is_better=False, percent=True))
    banded = _predictions(lower_80=[95.0, 100.0, 95.0], upper_80=[105.0, 120.0, 100.0])  # 90 falls below
    plain = _predictions(lower_80=np.nan, upper_80=np.nan).assign(model="naive")
    bare = _predictions().assign(model="drift")  # no band columns at all
    scores = score(pd.concat([banded, plain, bare], ignore_index=True))
    assert scores.loc["m", "inside_80"] == pytest.approx(2 / 3)
    assert pd.isna(scores.loc["m", "skipped"])
    for model in ("naive", "drift"):
        assert np.isnan(scores.loc[model, "inside_80"])
        assert scores.loc[model, "skipped"] == "inside_80 (needs quantiles)"
        assert scores.loc[model, "mase"] == pytest.approx(HAND["mase"])  # the point metrics are still there
    metrics = scores.astype(object).where(scores.notna(), None).to_dict(orient="index")  # as in metrics.json
    table = backtest_table(metrics).splitlines()
    assert table[0].endswith("| Direction % | Inside 80 % |")
    assert table[2].endswith("| 66.667 | 66.667 |") and table[3].endswith("| 66.667 | — |")  # m, then naive
    report = render_report(tmp_path, {}, {"backtest": {"folds": ["2020-01-01"], "horizon": 3, "season": 1,
                                                       "metrics": metrics, "interval_coverage": {}}})
    assert ("Blank (—) where a model gives nothing the metric reads: naive: inside_80 (needs quantiles); "
            "drift: inside_80 (needs quantiles).") in report


def test_the_report_columns_come_from_the_table(monkeypatch, tmp_path):
    worst = Metric("max_error", "Max error", lambda s: float(np.max(np.abs(s.actual - s.forecast))),
                   per_series="max err")
    monkeypatch.setitem(METRICS, "max_error", worst)
    scores = score(_predictions())
    assert scores.loc["m", "max_error"] == 30.0
    header, _, row = backtest_table(scores.to_dict(orient="index")).splitlines()
    assert header.endswith("| MASE | Direction % | Max error |") and row.endswith("| 30.000 |")
    per_series = {"m": {"aaa": {"mase": 0.5, "directional_accuracy": 0.25, "max_error": 30.0}},
                  "naive": {"bbb": {"mase": 1.0, "directional_accuracy": None, "max_error": 40.0}}}
    report = render_report(tmp_path, {}, {"backtest": {"folds": ["2020-01-01"], "horizon": 3, "season": 1,
                                                       "metrics": scores.to_dict(orient="index"),
                                                       "interval_coverage": {}, "per_series": per_series}})
    assert "| model | series | MASE | direction | max err | DM p |" in report
    assert "| m | aaa | 0.500 | 25.0% | 30.000 | — |" in report
    fewer = {name: metric for name, metric in METRICS.items() if name not in ("rmse", "max_error")}
    monkeypatch.setattr("hpcast.report.METRICS", fewer)  # a copy: deleting from the table would reorder it on undo
    assert backtest_table({"m": {}}).splitlines()[0] == "| model | MAE | MAPE % | sMAPE % | MASE | Direction % |"


def test_a_record_gives_quantiles_from_bands_or_samples_and_says_which_it_lacks():
    one = np.array([1.0, 2.0])
    points = Scored(actual=one, forecast=one, last=one, scale=one)
    assert points.gives("points") and not points.gives("quantiles") and not points.gives("samples")
    with pytest.raises(ValueError, match=r"quantile \(0.1\) must be one of the levels given \(\[\]\)"):
        points.quantile(0.1)
    samples = Scored(actual=one, forecast=one, last=one, scale=one, samples=np.array([[0.0, 10.0], [5.0, 5.0]]))
    assert samples.gives("quantiles") and samples.gives("samples")
    np.testing.assert_allclose(samples.quantile(0.5), [5.0, 5.0])  # (n, S) -> (n,)
    banded = score(_predictions(lower_95=[90.0, 91.0, 92.0], upper_95=[130.0, 131.0, 132.0]))
    assert list(banded.columns) == [*METRICS, "points"]  # nothing needed quantiles: nothing skipped


def test_the_band_columns_become_the_quantiles_of_a_central_interval(monkeypatch):
    seen = {}
    monkeypatch.setitem(METRICS, "levels", Metric("levels", "levels", lambda s: seen.update(s.quantiles) or 0.0,
                                                  needs="quantiles"))
    score(_predictions(lower_80=[1.0, 2.0, 3.0], upper_80=[4.0, 5.0, 6.0], lower_95=0.0, upper_95=9.0))
    assert sorted(seen) == [0.025, 0.1, 0.9, 0.975]
    np.testing.assert_array_equal(seen[0.1], [1.0, 2.0, 3.0])


def test_a_metric_names_what_it_needs_and_the_headline_pools_across_series():
    with pytest.raises(ValueError, match=r"needs \('paths'\) of metric 'x' must be one of \['points', 'quantiles', "
                                         r"'samples'\]"):
        Metric("x", "X", _inside, needs="paths")  # type: ignore[arg-type]
    assert HEADLINE is METRICS["mase"] and HEADLINE.scaled and HEADLINE.lower_is_better
    assert METRICS["directional_accuracy"].better(0.6, 0.5) and not HEADLINE.better(0.6, 0.5)
