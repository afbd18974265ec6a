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
from hpcast.evaluate.metrics import QUANTILE_LEVELS, compute_metrics, shown_columns
from hpcast.evaluate.scores import crps_samples
from hpcast.report import backtest_table, regime_coverage_lines, render_report

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


LOWER_80, UPPER_80 = np.array([95.0, 100.0, 95.0]), np.array([105.0, 120.0, 100.0])  # 90 falls below its band
VOL = np.array([0.01, 0.02, 0.03])  # one fold origin per point: terciles low, mid, high
PROXY, VARIANCE = np.array([2.0, 1.0, 4.0]), np.array([1.0, 1.0, 2.0])  # proxy / variance: 2, 1, 2
HAND_DISTRIBUTION = {  # the other metrics on A with LOWER_80/UPPER_80 (q = 0.1, 0.9), VOL, PROXY, VARIANCE, by hand
    # pinball q=0.1: 0.1·5, 0.1·10, 0.9·5 = 0.5, 1, 4.5; q=0.9: 0.1·5, 0.1·10, 0.1·10 = 0.5, 1, 1
    "crps": (2 * (0.5 + 0.5) / 2 + 2 * (1 + 1) / 2 + 2 * (4.5 + 1) / 2) / 3,
    "wql": (2 * 6 / 300 + 2 * 2.5 / 300) / 2,  # Σ|y| = 300
    "interval_score_80": (10 + 20 + (5 + 10 * 5)) / 3,  # 2/α = 10; 90 lies 5 below 95
    "coverage_80": 2 / 3,
    "vol_coverage_80_low": 1.0, "vol_coverage_80_mid": 1.0, "vol_coverage_80_high": 0.0,
    "qlike": ((2 - np.log(2) - 1) + 0 + (2 - np.log(2) - 1)) / 3,
}


def _distribution() -> pd.DataFrame:
    return _predictions(lower_80=LOWER_80, upper_80=UPPER_80, trailing_vol=VOL, variance=VARIANCE,
                        variance_proxy=PROXY)


def test_every_metric_of_the_table_is_scored_and_reported_as_computed_by_hand():
    columns = {column.name for metric in METRICS.values() for column in metric.expand((0.8,))}
    assert set(HAND) | set(HAND_DISTRIBUTION) == columns, "each column of the table needs its hand-computed value"
    point = [metric for metric in METRICS.values() if metric.requires == ("points",)]
    assert [metric.name for metric in point] == list(HAND)
    row = score(_predictions()).loc["m"]
    for name, value in HAND.items():
        assert row[name] == pytest.approx(value), name
    assert row["points"] == 3
    table = backtest_table(score(_predictions()).to_dict(orient="index")).splitlines()
    assert table[0] == "| model | " + " | ".join(metric.label for metric in point) + " |"  # no blank columns
    cells = [f"{HAND[metric.name] * (100 if metric.percent else 1):.3f}" for metric in point]
    assert table[2] == "| **m** | " + " | ".join(cells) + " |"  # m is no baseline: a network, in bold
    full = score(_distribution()).loc["m"]
    for name, value in {**HAND, **HAND_DISTRIBUTION}.items():
        assert full[name] == pytest.approx(value), name
    assert "skipped" not in full
    header, _, cells_row = backtest_table(score(_distribution()).to_dict(orient="index")).splitlines()
    assert header.endswith("| Direction % | CRPS | wQL | IS 80 | Cov 80 % | QLIKE |")  # per regime: own lines
    assert cells_row.endswith("| 66.667 | 2.833 | 0.028 | 28.333 | 66.667 | 0.205 |")


def test_the_demo_reports_columns_keep_their_order_labels_and_numbers():
    header, _, row = backtest_table(score(_predictions()).to_dict(orient="index")).splitlines()
    assert header == "| model | MAE | RMSE | MAPE % | sMAPE % | MASE | Direction % |"
    assert row == "| **m** | 13.333 | 18.257 | 14.444 | 16.508 | 0.833 | 66.667 |"


POINT_ONLY_SKIPPED = ("crps (needs quantiles); wql (needs quantiles); interval_score (needs quantiles); "
                      "coverage (needs quantiles); vol_coverage (needs quantiles); qlike (needs variance)")


def test_a_point_model_skips_the_distribution_metrics_by_name_and_a_banded_one_scores_them(tmp_path):
    banded = _predictions(lower_80=LOWER_80, upper_80=UPPER_80)
    plain = _predictions(lower_80=np.nan, upper_80=np.nan).assign(model="naive")
    bare = _predictions().assign(model="drift")  # no band columns at all
    scores = score(pd.concat([banded, plain, bare], ignore_index=True))
    for name in ("crps", "wql", "interval_score_80", "coverage_80"):  # CRPS from the two quantiles
        assert scores.loc["m", name] == pytest.approx(HAND_DISTRIBUTION[name]), name
    assert scores.loc["m", "skipped"] == "vol_coverage (needs regime); qlike (needs variance)"
    for model in ("naive", "drift"):
        assert scores.loc[model, ["crps", "wql", "interval_score_80", "coverage_80", "qlike"]].isna().all()
        assert scores.loc[model, "skipped"] == POINT_ONLY_SKIPPED
        assert scores.loc[model, "mase"] == pytest.approx(HAND["mase"])  # the point metrics are still there
    metrics = scores.astype(object).where(scores.notna(), None).to_dict(orient="index")  # as in metrics.json
    table = backtest_table(metrics).splitlines()
    assert table[0].endswith("| Direction % | CRPS | wQL | IS 80 | Cov 80 % |")  # no model gives a variance
    assert table[2].endswith("| 66.667 | 2.833 | 0.028 | 28.333 | 66.667 |")
    assert table[3].endswith("| 66.667 | — | — | — | — |")  # m, then naive
    report = render_report(tmp_path, {}, {"backtest": {"folds": ["2020-01-01"], "horizon": 3, "season": 1,
                                                       "metrics": metrics, "interval_coverage": {}}})
    assert "Blank (—) where a model gives nothing the metric reads: naive, drift give no quantiles." in report
    assert "low / mid / high" not in report  # nobody has a regime


def test_a_point_only_run_reports_the_table_and_text_it_always_did(tmp_path):
    scores = score(pd.concat([_predictions(), _predictions().assign(model="naive")], ignore_index=True))
    assert (scores["skipped"] == POINT_ONLY_SKIPPED).all()  # in metrics.json, by name
    metrics = scores.astype(object).where(scores.notna(), None).to_dict(orient="index")
    report = render_report(tmp_path, {}, {"backtest": {"folds": ["2020-01-01"], "horizon": 3, "season": 1,
                                                       "metrics": metrics, "interval_coverage": {}}})
    assert "| model | MAE | RMSE | MAPE % | sMAPE % | MASE | Direction % |\n|---|---|---|---|---|---|---|\n" in report
    assert "Blank (—)" not in report and "CRPS" not in report  # nothing shown that needs explaining


def test_per_level_metrics_fill_a_column_per_level_given_in_order():
    scores = score(_predictions(lower_80=LOWER_80, upper_80=UPPER_80, lower_95=LOWER_80 - 5, upper_95=UPPER_80 + 5))
    assert scores.loc["m", "interval_score_95"] == pytest.approx((20 + 30 + 15) / 3)  # all inside (90 in [90, 105])
    assert scores.loc["m", "coverage_95"] == 1.0
    header = backtest_table(scores.to_dict(orient="index")).splitlines()[0]
    assert header.endswith("| Direction % | CRPS | wQL | IS 80 | IS 95 | Cov 80 % | Cov 95 % |")
    shown = shown_columns(scores.to_dict(orient="index").values())
    assert [column.label for column in shown["coverage"]] == ["Cov 80 %", "Cov 95 %"]
    assert "vol_coverage" not in shown and "qlike" not in shown  # NaN for every model: no column


def test_volatility_regimes_are_each_series_own_terciles(tmp_path):
    aaa = _predictions(lower_80=LOWER_80, upper_80=UPPER_80, trailing_vol=VOL)  # in, in, out
    bbb = _predictions(lower_80=[101.0, 100.0, 85.0], upper_80=[105.0, 120.0, 100.0],  # out, in, in
                       trailing_vol=10 * VOL).assign(symbol="bbb")
    scores = score(pd.concat([aaa, bbb], ignore_index=True))
    # low: aaa's first (in) and bbb's first (out); pooled terciles would put bbb's all above aaa's
    assert scores.loc["m", ["vol_coverage_80_low", "vol_coverage_80_mid", "vol_coverage_80_high"]].tolist() == \
        [0.5, 1.0, 0.5]
    assert scores.loc["m", "coverage_80"] == pytest.approx(4 / 6)
    metrics = scores.to_dict(orient="index")
    assert regime_coverage_lines(metrics) == ["m: Cov 80 % 50.0 / 100.0 / 50.0"]
    report = render_report(tmp_path, {}, {"backtest": {"folds": ["2020-01-01"], "horizon": 3, "season": 1,
                                                       "metrics": metrics, "interval_coverage": {}}})
    assert ("Coverage in the low / mid / high tercile of each series' trailing 21-day realised volatility at the "
            "fold origins:\n\n- m: Cov 80 % 50.0 / 100.0 / 50.0\n") in report
    assert "Cov 80 % low vol" not in report  # not a column of the table


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
    assert list(banded.columns) == [*HAND, "crps", "wql", "interval_score_95", "coverage_95", "vol_coverage_95_low",
                                    "vol_coverage_95_mid", "vol_coverage_95_high", "qlike", "points", "skipped"]
    assert banded.loc["m", "skipped"] == "vol_coverage (needs regime); qlike (needs variance)"


def test_the_band_columns_become_the_quantiles_of_a_central_interval(monkeypatch):
    seen = {}
    monkeypatch.setitem(METRICS, "levels", Metric("levels", "levels", lambda s: seen.update(s.quantiles) or 0.0,
                                                  needs="quantiles"))
    score(_predictions(lower_80=[1.0, 2.0, 3.0], upper_80=[4.0, 5.0, 6.0], lower_95=0.0, upper_95=9.0))
    assert sorted(seen) == [0.025, 0.1, 0.9, 0.975]
    np.testing.assert_array_equal(seen[0.1], [1.0, 2.0, 3.0])


def test_a_metric_names_what_it_needs_and_the_headline_pools_across_series():
    with pytest.raises(ValueError, match=r"needs \('paths'\) of metric 'x' must be one of \['points', 'quantiles', "
                                         r"'samples', 'regime', 'variance'\]"):
        Metric("x", "X", lambda s: 0.0, needs="paths")  # type: ignore[arg-type]
    assert HEADLINE is METRICS["mase"] and HEADLINE.scaled and HEADLINE.lower_is_better
    assert METRICS["directional_accuracy"].better(0.6, 0.5) and not HEADLINE.better(0.6, 0.5)


def test_a_record_of_sample_paths_scores_crps_from_them_and_intervals_at_the_levels_asked():
    rng = np.random.default_rng(7)
    samples = rng.normal(100.0, 10.0, size=(3, 257))  # (n, S)
    record = Scored(actual=A, forecast=P, last=LAST, scale=SCALE, samples=samples)
    values, skipped = compute_metrics(record)
    assert values["crps"] == pytest.approx(np.mean(crps_samples(A, samples)))  # the samples, not quantiles
    wql = np.mean([2 * np.sum(np.maximum(q * (A - np.quantile(samples, q, axis=1)),
                                         (q - 1) * (A - np.quantile(samples, q, axis=1)))) / np.sum(A)
                   for q in QUANTILE_LEVELS])
    assert values["wql"] == pytest.approx(wql)
    assert "interval_score_80" not in values  # no level given: no column, only its note
    assert skipped == ["interval_score (needs interval levels)", "coverage (needs interval levels)",
                       "vol_coverage (needs regime)", "qlike (needs variance)"]
    at_80, _ = compute_metrics(record, levels=(0.8,))
    lower, upper = np.quantile(samples, 0.1, axis=1), np.quantile(samples, 0.9, axis=1)
    inside = (lower <= A) & (upper >= A)
    assert at_80["coverage_80"] == pytest.approx(np.mean(inside))
    assert at_80["interval_score_80"] == pytest.approx(np.mean(upper - lower + 10 * np.maximum(lower - A, 0)
                                                               + 10 * np.maximum(A - upper, 0)))


def test_a_record_gives_the_levels_whose_two_quantiles_it_has_and_checks_its_lengths():
    one = np.array([1.0, 2.0])
    quantiles = {0.1: one, 0.9: one, 0.025: one, 0.25: one, 0.75: one}  # 0.975 missing: no 95% interval
    assert Scored(actual=one, forecast=one, last=one, scale=one, quantiles=quantiles).levels() == (0.5, 0.8)
    with pytest.raises(ValueError, match=r"variance \(3 points\) must have one row per actual value \(2\)"):
        Scored(actual=one, forecast=one, last=one, scale=one, variance=np.ones(3))
    unknown = Scored(actual=one, forecast=one, last=one, scale=one, regime=np.array([-1, -1]))
    assert not unknown.gives("regime")  # every origin's volatility unknown: no regime to score


def test_qlike_reads_the_squared_log_return_unless_a_proxy_is_given():
    actual, last = np.array([110.0, 90.0]), np.array([100.0, 100.0])
    variance = np.array([np.log(1.1) ** 2, np.log(0.9) ** 2 / 2])  # proxy / variance: 1, 2
    record = Scored(actual=actual, forecast=last, last=last, scale=np.ones(2), variance=variance)
    assert compute_metrics(record)[0]["qlike"] == pytest.approx((0 + 2 - np.log(2) - 1) / 2)
    given = Scored(actual=actual, forecast=last, last=last, scale=np.ones(2), variance=variance, proxy=variance)
    assert compute_metrics(given)[0]["qlike"] == pytest.approx(0.0, abs=1e-12)
    assert score(_predictions(variance=1e-3)).loc["m", "qlike"] > 0  # a variance column on every point
    assert np.isnan(score(_predictions(variance=[1e-3, np.nan, 1e-3])).loc["m", "qlike"])  # one missing: skipped


def test_coverage_ranks_models_by_the_distance_to_its_level():
    coverage_80, coverage_95 = METRICS["coverage"].expand((0.8, 0.95))
    assert coverage_80.level == 0.8 and coverage_95.name == "coverage_95"
    assert coverage_80.better(0.78, 0.9) and coverage_80.better(0.85, 0.7) and not coverage_80.better(0.95, 0.7)
    assert coverage_95.best({"narrow": 0.8, "calibrated": 0.94, "wide": 1.0}) == "calibrated"
    assert METRICS["interval_score"].expand((0.8,))[0].better(20.0, 30.0)  # lower is better
    with pytest.raises(ValueError, match=r"metric 'coverage' ranks by the distance to its level"):
        METRICS["coverage"].better(0.8, 0.9)
    with pytest.raises(ValueError, match=r"metric 'coverage' is computed per level"):
        METRICS["coverage"](Scored(actual=A, forecast=P, last=LAST, scale=SCALE))
    with pytest.raises(ValueError, match=r"calibrates of metric 'x' needs per_level"):
        Metric("x", "X", lambda s: 0.0, calibrates=True)


def test_the_backtest_writes_each_folds_trailing_volatility_from_its_history_only():
    from hpcast.config import BacktestConfig, RunConfig
    from hpcast.evaluate import backtest
    from hpcast.evaluate.scores import trailing_volatility

    values = 100 * np.exp(np.cumsum(np.random.default_rng(3).normal(0, 0.01, 60)))
    series = pd.Series(values, index=pd.bdate_range("2020-01-01", periods=60), name="value")
    config = RunConfig(horizon=3, backtest=BacktestConfig(test_size=9))
    predictions = backtest(series, "B", config, models=("naive", "drift")).predictions
    for fold, origin in enumerate((51, 54, 57)):  # history lengths
        rows = predictions[predictions["fold"] == fold]
        assert (rows["trailing_vol"] == trailing_volatility(values[:origin])).all()
    changed = series.copy()
    changed.iloc[51:] *= 1.5  # everything after the first origin
    again = backtest(changed, "B", config, models=("naive", "drift")).predictions
    first = predictions.loc[predictions["fold"] == 0, "trailing_vol"]
    assert again.loc[again["fold"] == 0, "trailing_vol"].equals(first)
    assert not again.loc[again["fold"] == 2, "trailing_vol"].equals(predictions.loc[predictions["fold"] == 2,
                                                                                   "trailing_vol"])
    assert score(predictions).loc["naive", "skipped"] == POINT_ONLY_SKIPPED  # the first need it lacks
    banded = score(predictions.assign(lower_80=predictions["forecast"] - 1, upper_80=predictions["forecast"] + 1))
    regimes = banded.loc["naive", ["vol_coverage_80_low", "vol_coverage_80_mid", "vol_coverage_80_high"]]
    assert regimes.notna().all()  # three origins: one per tercile
    assert banded.loc["naive", "skipped"] == "qlike (needs variance)"
