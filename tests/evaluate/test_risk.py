"""VaR/ES and their backtests against hand computations, closed forms, scipy and the Basel table."""

import json
import math

import numpy as np
import pytest
from scipy import stats

from hpcast.evaluate.risk import (
    christoffersen_independence,
    conditional_coverage,
    es_from_quantiles,
    es_from_samples,
    es_levels,
    exceptions,
    kupiec_pof,
    traffic_light,
    traffic_light_limits,
    traffic_light_windows,
    var_backtest,
    var_from_quantiles,
    var_from_samples,
)

Z_01 = stats.norm.ppf(0.01)
NORMAL_ES_01 = -stats.norm.pdf(Z_01) / 0.01  # E[X | X < z] = −φ(z)/α for X ~ N(0, 1): about −2.665


# -- VaR and ES -------------------------------------------------------------------------------------------------
def test_var_from_quantiles_matches_a_given_level_despite_float_rounding():
    lower = np.array([-0.03, -0.05])
    # 1 - 0.99 is 0.010000000000000009, not the key 0.01
    np.testing.assert_array_equal(var_from_quantiles({0.01: lower, 0.5: np.zeros(2)}, 0.99), lower)


def test_var_from_quantiles_interpolates_linearly_between_the_levels_around_it():
    quantiles = {0.005: np.array([-3.0, -6.0]), 0.025: np.array([-2.0, -2.0]), 0.975: np.array([2.0, 2.0])}
    # tail 0.01 is a quarter of the way from 0.005 to 0.025: −3 + 0.25·1 = −2.75, −6 + 0.25·4 = −5
    np.testing.assert_allclose(var_from_quantiles(quantiles, 0.99), [-2.75, -5.0], rtol=1e-12)


def test_var_from_quantiles_refuses_to_extrapolate():
    with pytest.raises(ValueError, match=r"quantiles \(levels \[0\.05, 0\.5\]\) must include or bracket "
                                         r"1 - level \(0\.01\)"):
        var_from_quantiles({0.05: [-1.0], 0.5: [0.0]}, 0.99)


def test_var_and_es_from_samples_of_a_standard_normal_match_the_closed_forms():
    samples = np.random.default_rng(7).standard_normal(1_000_000)
    assert float(var_from_samples(samples, 0.99)) == pytest.approx(Z_01, abs=0.01)
    assert float(es_from_samples(samples, 0.99)) == pytest.approx(NORMAL_ES_01, abs=0.02)
    assert float(es_from_samples(samples, 0.975)) == pytest.approx(-stats.norm.pdf(stats.norm.ppf(0.025)) / 0.025,
                                                                   abs=0.02)


def test_es_from_samples_by_hand_and_per_day():
    samples = np.array([[5.0, -1.0, 3.0, -4.0, 0.0], [1.0, 2.0, 3.0, 4.0, 5.0]])  # (n=2, S=5)
    # level 0.75: the 25% quantile (linear, position 0.25·4 = 1) is −1 and 2; the samples at or below it
    # are {−4, −1} and {1, 2}
    np.testing.assert_allclose(var_from_samples(samples, 0.75), [-1.0, 2.0])
    np.testing.assert_allclose(es_from_samples(samples, 0.75), [-2.5, 1.5])
    # a tail thinner than one sample still holds the smallest
    np.testing.assert_allclose(es_from_samples(samples, 0.999), [-4.0, 1.0])


def test_es_from_quantiles_of_a_normal_approaches_the_closed_form():
    levels = es_levels(0.99, 20)
    assert levels[0] == pytest.approx(0.01 * 0.5 / 20) and levels[-1] == pytest.approx(0.01 * 19.5 / 20)
    quantiles = {u: np.full(3, stats.norm.ppf(u)) for u in levels} | {0.5: np.zeros(3), 0.9: np.ones(3)}
    np.testing.assert_allclose(es_from_quantiles(quantiles, 0.99), NORMAL_ES_01, rtol=2e-3)
    assert np.all(es_from_quantiles(quantiles, 0.99) < var_from_quantiles({0.01: np.full(3, Z_01)}, 0.99))


def test_es_from_quantiles_averages_only_the_tail_levels():
    quantiles = {0.002: np.array([-4.0]), 0.006: np.array([-3.0]), 0.01: np.array([-2.0]), 0.5: np.array([0.0])}
    np.testing.assert_allclose(es_from_quantiles(quantiles, 0.99), [-3.0])  # (−4 − 3 − 2) / 3; 0.5 ignored
    # 1 - 0.9 is 0.09999999999999998, just below the key 0.1, which still counts as the tail's edge
    np.testing.assert_allclose(es_from_quantiles({0.02: [-3.0], 0.1: [-1.0], 0.5: [0.0]}, 0.9), [-2.0])
    np.testing.assert_allclose(var_from_quantiles({0.1: [-1.0], 0.5: [0.0]}, 0.9), [-1.0])
    with pytest.raises(ValueError, match=r"quantiles \(levels \[0\.05, 0\.5\]\) must include a level in "
                                         r"\(0, 1 - level\] = \(0, 0\.01\]"):
        es_from_quantiles({0.05: [-1.0], 0.5: [0.0]}, 0.99)


# -- exceptions and Kupiec --------------------------------------------------------------------------------------
def test_exceptions_are_strictly_below_the_var_line():
    hits = exceptions([-0.031, -0.03, 0.02, -0.5], [-0.03, -0.03, -0.03, -0.03])
    assert hits.tolist() == [True, False, False, True]


def test_kupiec_by_hand_250_days_8_exceptions():
    n, x, p = 250, 8, 0.01
    log_null = (n - x) * math.log(1 - p) + x * math.log(p)
    log_fitted = (n - x) * math.log(1 - x / n) + x * math.log(x / n)
    statistic = -2 * (log_null - log_fitted)
    # by hand: 242·log 0.99 + 8·log 0.01 = −2.43218 − 36.84136 = −39.27354;
    # 242·log 0.968 + 8·log 0.032 = −7.87062 − 27.53615 = −35.40677; LR = −2·(−39.27354 + 35.40677) = 7.7335
    assert statistic == pytest.approx(7.7335, abs=1e-4)
    assert kupiec_pof(x, n, 0.99) == pytest.approx((statistic, stats.chi2.sf(statistic, 1)), rel=1e-10)


def test_kupiec_without_and_with_only_exceptions_is_finite():
    statistic, p_value = kupiec_pof(0, 250, 0.99)
    assert statistic == pytest.approx(-2 * 250 * math.log(0.99), rel=1e-12)
    assert p_value == pytest.approx(stats.chi2.sf(statistic, 1), rel=1e-10)
    statistic, p_value = kupiec_pof(20, 20, 0.99)
    assert statistic == pytest.approx(-2 * 20 * math.log(0.01), rel=1e-12)
    assert 0 < p_value < 1e-30


def test_kupiec_at_the_expected_rate_does_not_reject():
    assert kupiec_pof(5, 500, 0.99) == (0.0, 1.0)
    assert kupiec_pof(2, 500, 0.99)[1] > 0.05 and kupiec_pof(9, 500, 0.99)[1] > 0.05
    assert kupiec_pof(15, 500, 0.99)[1] < 0.01 and kupiec_pof(0, 1000, 0.99)[1] < 0.01


# -- Christoffersen ---------------------------------------------------------------------------------------------
def test_christoffersen_independence_by_hand():
    hits = [0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 0]
    # pairs: 00 01 11 10 00 00 01 11 11 10 00 00 00 01 10 -> n00 = 6, n01 = 3, n10 = 3, n11 = 3
    n00, n01, n10, n11 = 6, 3, 3, 3
    pi01, pi11, pi = n01 / (n00 + n01), n11 / (n10 + n11), (n01 + n11) / 15
    log_independent = (n00 + n10) * math.log(1 - pi) + (n01 + n11) * math.log(pi)
    log_markov = (n00 * math.log(1 - pi01) + n01 * math.log(pi01)
                  + n10 * math.log(1 - pi11) + n11 * math.log(pi11))
    statistic = -2 * (log_independent - log_markov)
    assert statistic > 0.4  # π01 ≠ π11: a case where the statistic is not 0
    assert christoffersen_independence(hits) == pytest.approx((statistic, stats.chi2.sf(statistic, 1)), rel=1e-10)
    # conditional coverage at 90%: 6 exceptions in 16 days
    pof = -2 * (10 * math.log(0.9) + 6 * math.log(0.1) - 10 * math.log(10 / 16) - 6 * math.log(6 / 16))
    assert conditional_coverage(np.array(hits, dtype=bool), 0.9) == pytest.approx(
        (pof + statistic, stats.chi2.sf(pof + statistic, 2)), rel=1e-10)


def test_christoffersen_with_an_empty_transition_row_by_hand():
    # pairs: 11 10 00 00 00 -> n00 = 3, n01 = 0, n10 = 1, n11 = 1; π01 = 0 (0 · log 0 = 0), π11 = 1/2, π = 1/5
    statistic = -2 * (4 * math.log(0.8) + math.log(0.2) - 2 * math.log(0.5))
    assert christoffersen_independence([1, 1, 0, 0, 0, 0]) == pytest.approx(
        (statistic, stats.chi2.sf(statistic, 1)), rel=1e-10)


@pytest.mark.parametrize("hits", [[0] * 50, [1] * 50, [0, 0, 0, 1], [1, 0, 0, 0], [1], [0], []],
                         ids=["none", "all", "last only", "first only", "one day hit", "one day", "empty"])
def test_christoffersen_degenerate_counts_give_no_evidence_and_no_nan(hits):
    assert christoffersen_independence(hits) == (0.0, 1.0)


def test_clustered_exceptions_reject_independence_and_iid_ones_do_not():
    clustered = np.zeros(2500, dtype=bool)
    for start in (100, 700, 1300, 1900, 2400):
        clustered[start:start + 5] = True  # 25 exceptions: the expected count, in 5 runs of 5
    assert kupiec_pof(25, 2500, 0.99)[1] == 1.0
    assert christoffersen_independence(clustered)[1] < 1e-6
    assert conditional_coverage(clustered, 0.99)[1] < 1e-5

    iid = np.random.default_rng(3).random(2500) < 0.01
    assert christoffersen_independence(iid)[1] > 0.2
    assert conditional_coverage(iid, 0.99)[1] > 0.2


# -- the traffic light ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("count", "zone"), [(0, "green"), (4, "green"), (5, "yellow"), (9, "yellow"), (10, "red"),
                                             (30, "red")])
def test_basel_zones_at_250_days(count, zone):
    assert traffic_light(count, 250, 0.99) == zone


def _binomial_cdf(x: int, n: int, p: float) -> float:
    return sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(x + 1))


def test_the_binomial_rule_reproduces_the_basel_table_and_scales_with_n():
    # The Basel Committee's (1996) cumulative probabilities at 250 days: 4 -> 89.22%, 5 -> 95.88%, 9 -> 99.97%,
    # 10 -> 99.99%; the cuts sit where they pass 95% and 99.99%.
    assert [round(100 * _binomial_cdf(x, 250, 0.01), 2) for x in (4, 5, 9, 10)] == [89.22, 95.88, 99.97, 99.99]
    assert traffic_light_limits(250, 0.99) == (4, 9)
    for n, level in [(100, 0.99), (500, 0.99), (1000, 0.99), (250, 0.975)]:
        cumulative = [_binomial_cdf(x, n, 1 - level) for x in range(60)]
        expected = (max(x for x, c in enumerate(cumulative) if c < 0.95),
                    max(x for x, c in enumerate(cumulative) if c < 0.9999))
        assert traffic_light_limits(n, level) == expected, (n, level)
        green_max, yellow_max = expected
        assert [traffic_light(x, n, level) for x in (green_max, green_max + 1, yellow_max, yellow_max + 1)] == [
            "green", "yellow", "yellow", "red"]


def test_zero_exceptions_is_green_even_where_the_binomial_rule_says_yellow():
    assert _binomial_cdf(0, 5, 0.01) >= 0.95  # the rule alone would call a perfect 5-day record yellow
    assert traffic_light(0, 5, 0.99) == "green"
    assert traffic_light(1, 5, 0.99) == "yellow"


def test_windows_are_non_overlapping_with_a_partial_last_one():
    hits = np.zeros(600, dtype=bool)
    hits[[10, 20, 30, 40]] = True  # window 1: 4
    hits[250:260] = True  # window 2: 10
    hits[[510, 520, 530]] = True  # 100 days: 3 (at 99% over 100 days: yellow from 3, red from 6)
    windows = traffic_light_windows(hits)
    assert [(w.start, w.stop, w.exceptions, w.zone, w.partial) for w in windows] == [
        (0, 250, 4, "green", False), (250, 500, 10, "red", False), (500, 600, 3, "yellow", True)]
    assert [w.partial for w in traffic_light_windows(hits[:500])] == [False, False]


# -- one backtest -----------------------------------------------------------------------------------------------
def test_var_backtest_collects_every_test_and_is_json_ready():
    rng = np.random.default_rng(11)
    returns = rng.standard_normal(1000)
    var_line, es = np.full(1000, Z_01), np.full(1000, NORMAL_ES_01)
    hits = returns < Z_01
    result = var_backtest(returns, var_line, 0.99, es=es)
    assert (result.n, result.exceptions, result.level) == (1000, int(hits.sum()), 0.99)
    assert result.expected == pytest.approx(10) and result.rate == hits.sum() / 1000
    assert (result.kupiec_stat, result.kupiec_p) == kupiec_pof(int(hits.sum()), 1000, 0.99)
    assert (result.independence_stat, result.independence_p) == christoffersen_independence(hits)
    assert (result.coverage_stat, result.coverage_p) == conditional_coverage(hits, 0.99)
    assert result.zone == traffic_light(int(hits.sum()), 1000, 0.99)
    assert [w.stop for w in result.windows] == [250, 500, 750, 1000]
    assert result.mean_es == pytest.approx(NORMAL_ES_01)
    assert result.mean_tail_return == pytest.approx(returns[hits].mean())
    assert result.mean_tail_return == pytest.approx(NORMAL_ES_01, abs=0.3)  # a right ES matches on average
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["exceptions"] == result.exceptions and data["windows"][0] == {
        "start": 0, "stop": 250, "exceptions": int(hits[:250].sum()), "zone": result.windows[0].zone, "partial": False}


def test_var_backtest_without_exceptions_or_es_has_no_nan():
    result = var_backtest(np.zeros(300), np.full(300, -1.0), 0.99)
    assert (result.exceptions, result.mean_es, result.mean_tail_return, result.zone) == (0, None, None, "green")
    assert result.independence_p == 1.0
    assert result.kupiec_stat == pytest.approx(-2 * 300 * math.log(0.99))
    json.dumps(result.to_dict(), allow_nan=False)


# -- errors -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("call", "message"), [
    (lambda: var_backtest(np.zeros(5), np.zeros(4), 0.99),
     r"returns \(length 5\) and var_line \(length 4\) must have the same length"),
    (lambda: var_backtest(np.zeros(5), np.full(5, -1.0), 0.99, es=np.full(4, -2.0)),
     r"es \(length 4\) and returns \(length 5\) must have the same length"),
    (lambda: var_backtest(np.zeros(5), np.full(5, -1.0), 1.2), r"level \(1\.2\) must be in \(0, 1\)"),
    (lambda: var_backtest(np.zeros(5), np.full(5, -1.0), 0.0), r"level \(0\.0\) must be in \(0, 1\)"),
    (lambda: var_backtest(np.array([0.0, np.nan, 1.0]), np.zeros(3), 0.99),
     r"returns \(1 non-finite values, first at flat index 1\) must be finite"),
    (lambda: var_backtest(np.zeros(3), np.array([0.0, 0.0, np.inf]), 0.99),
     r"var_line \(1 non-finite values, first at flat index 2\) must be finite"),
    (lambda: var_backtest(np.zeros(3), np.full(3, -1.0), 0.99, es=np.array([-2.0, 2.0, -2.0])),
     r"es \(2 at index 1\) must be <= var_line there"),
    (lambda: kupiec_pof(12, 10, 0.99), r"count \(12\) must be in \[0, n\] = \[0, 10\]"),
    (lambda: kupiec_pof(0, 0, 0.99), r"n \(0\) must be >= 1"),
    (lambda: christoffersen_independence([0, 2, 1]), r"hits \(values \[0, 1, 2\]\) must be booleans or 0/1"),
    (lambda: traffic_light_windows([0, 1], window=0), r"window \(0\) must be >= 1"),
    (lambda: es_from_samples(np.array([[0.0, np.nan]]), 0.99), r"samples \(1 non-finite values"),
    (lambda: var_from_quantiles({1.5: [0.0]}, 0.99), r"quantiles \(level 1\.5\) must have levels in \(0, 1\)"),
    (lambda: var_from_quantiles({0.01: [0.0], 0.5: [0.0, 1.0]}, 0.99), r"quantiles \(shapes .*\) must all have one"),
    (lambda: es_levels(0.99, 0), r"count \(0\) must be >= 1"),
])
def test_errors_name_the_argument_its_value_and_the_rule(call, message):
    with pytest.raises(ValueError, match=message):
        call()
