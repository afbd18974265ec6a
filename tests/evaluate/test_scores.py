"""The distribution and variance scores against independent references: properscoring for the normal and
sample CRPS, a numerical integral of (F(x) − 1{x ≥ y})² for the Student-t, and hand-computed cases."""

import math

import numpy as np
import properscoring
import pytest
from scipy import integrate, stats

from hpcast.evaluate.scores import (
    covered,
    crps_normal,
    crps_quantiles,
    crps_samples,
    crps_student_t,
    interval_score,
    pinball,
    qlike,
    range_proxy,
    squared_log_return,
    trailing_volatility,
    volatility_terciles,
    weighted_quantile_loss,
)
from hpcast.models.volatility import garman_klass

RNG = np.random.default_rng(1823)
Y, MU, SIGMA = RNG.normal(0, 3, 37), RNG.normal(0, 1, 37), RNG.uniform(0.1, 5, 37)  # irregular n


def test_crps_normal_matches_properscoring():
    np.testing.assert_allclose(crps_normal(Y, MU, SIGMA), properscoring.crps_gaussian(Y, mu=MU, sig=SIGMA),
                               rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match=r"sigma \(0.0\) must be > 0"):
        crps_normal(Y, MU, 0.0)


@pytest.mark.parametrize("size", [1, 2, 101])
def test_crps_of_samples_matches_properscoring_ensemble(size):
    samples = RNG.standard_t(3, size=(37, size)) * SIGMA[:, None] + MU[:, None]  # (n, S)
    samples[:, : size // 2] = np.round(samples[:, : size // 2])  # ties too
    np.testing.assert_allclose(crps_samples(Y, samples), properscoring.crps_ensemble(Y, samples), rtol=1e-10,
                               atol=1e-12)


def _crps_by_integral(y: float, mu: float, sigma: float, nu: float) -> float:
    """∫ (F(x) − 1{x ≥ y})² dx, split at y where the indicator jumps."""
    def cdf(x: float) -> float:
        return stats.t.cdf(x, nu, loc=mu, scale=sigma)

    below, _ = integrate.quad(lambda x: cdf(x) ** 2, -np.inf, y, epsabs=1e-12, epsrel=1e-10, limit=200)
    above, _ = integrate.quad(lambda x: (1 - cdf(x)) ** 2, y, np.inf, epsabs=1e-12, epsrel=1e-10, limit=200)
    return below + above


@pytest.mark.parametrize(("y", "mu", "sigma", "nu"), [(0.0, 0.0, 1.0, 3.0), (2.5, -0.3, 0.7, 1.5),
                                                      (-4.0, 1.0, 2.0, 5.0), (0.3, 0.1, 1.3, 30.0),
                                                      (12.0, 0.0, 1.0, 2.2)])
def test_crps_student_t_matches_the_integral_of_its_definition(y, mu, sigma, nu):
    closed = crps_student_t(np.array([y]), mu, sigma, nu)[0]
    assert closed == pytest.approx(_crps_by_integral(y, mu, sigma, nu), rel=1e-6)


def test_crps_student_t_tends_to_the_normal_and_needs_a_finite_mean():
    np.testing.assert_allclose(crps_student_t(Y, MU, SIGMA, 1e7), crps_normal(Y, MU, SIGMA), rtol=1e-5)
    with pytest.raises(ValueError, match=r"nu \(1.0\) must be > 1"):
        crps_student_t(Y, MU, SIGMA, 1.0)


def test_pinball_and_crps_from_quantiles_by_hand():
    y = np.array([10.0, 10.0, 10.0])
    np.testing.assert_allclose(pinball(y, np.array([8.0, 10.0, 13.0]), 0.1), [0.2, 0.0, 2.7])  # 0.1·2; 0.9·3
    quantiles = {0.1: np.array([8.0, 10.0, 13.0]), 0.9: np.array([11.0, 9.0, 14.0])}  # 0.9: 0.1·1, 0.9·1, 0.1·4
    np.testing.assert_allclose(crps_quantiles(y, quantiles), [2 * (0.2 + 0.1) / 2, 2 * (0 + 0.9) / 2,
                                                              2 * (2.7 + 0.4) / 2])


def test_crps_from_many_quantiles_approaches_the_closed_form():
    levels = (np.arange(200) + 0.5) / 200  # the midpoint rule on (0, 1)
    quantiles = {q: stats.norm.ppf(q, loc=MU, scale=SIGMA) for q in levels}
    np.testing.assert_allclose(crps_quantiles(Y, quantiles), crps_normal(Y, MU, SIGMA), rtol=2e-3, atol=1e-3)


def test_weighted_quantile_loss_by_hand():
    y = np.array([10.0, -20.0, 30.0])  # Σ|y| = 60
    quantiles = {0.1: np.array([12.0, -25.0, 30.0]),  # pinball 0.9·2, 0.1·5, 0: 2.3
                 0.5: np.array([10.0, -10.0, 20.0])}  # 0, 0.5·10, 0.5·10: 10
    assert weighted_quantile_loss(y, quantiles) == pytest.approx((2 * 2.3 / 60 + 2 * 10 / 60) / 2)
    assert np.isnan(weighted_quantile_loss(np.zeros(2), {0.5: np.ones(2)}))
    with pytest.raises(ValueError, match=r"quantiles \(\{\}\) must give at least one level"):
        weighted_quantile_loss(y, {})


def test_interval_score_and_coverage_by_hand():
    y = np.array([5.0, 9.0, 10.0, 13.0])
    lower, upper = np.full(4, 8.0), np.full(4, 10.0)
    # α = 0.2, 2/α = 10: below by 3, inside, on the upper end, above by 3
    np.testing.assert_allclose(interval_score(y, lower, upper, 0.8), [2 + 30, 2, 2, 2 + 30])
    np.testing.assert_allclose(interval_score(y, lower, upper, 0.95), [2 + 120, 2, 2, 2 + 120])  # 2/α = 40
    assert covered(y, lower, upper).tolist() == [False, True, True, False]
    with pytest.raises(ValueError, match=r"level \(80\) must be in \(0, 1\)"):
        interval_score(y, lower, upper, 80)


def test_qlike_by_hand():
    proxy, variance = np.array([2.0, 1.0, 0.5]), np.array([1.0, 1.0, 1.0])
    assert qlike(proxy, variance) == pytest.approx(((2 - math.log(2) - 1) + 0 + (0.5 - math.log(0.5) - 1)) / 3)
    assert qlike(variance, variance) == 0.0
    # a zero proxy (no price change): log σ̂² taken at the smallest positive proxy, 1 here: (0 + 0 − 0 − 1 + 0) / 2
    assert qlike(np.array([0.0, 1.0]), np.ones(2)) == pytest.approx(-0.5)
    # ... which leaves the difference between two forecasts exactly Patton's: the mean of p/h + log h
    zeros, first, second = np.array([0.0, 0.3, 2.0]), np.array([0.5, 1.0, 1.5]), np.array([1.0, 0.2, 3.0])
    assert qlike(zeros, first) - qlike(zeros, second) == pytest.approx(
        np.mean(zeros / first + np.log(first) - zeros / second - np.log(second)))
    with pytest.raises(ValueError, match=r"proxy \(-1.0\) must be >= 0"):
        qlike(np.array([-1.0, 1.0]), np.ones(2))
    with pytest.raises(ValueError, match=r"variance \(0.0\) must be > 0"):
        qlike(proxy, np.array([1.0, 0.0, 1.0]))


def test_garman_klass_on_a_hand_computed_day():
    # open 100, high 102, low 99, close 101: log(102/99) = 0.0298530, squared and halved 0.000445600;
    # log(101/100) = 0.00995033, squared 0.0000990091, times 2 log 2 − 1 = 0.386294: 0.0000382466
    day = garman_klass(np.array([100.0]), np.array([102.0]), np.array([99.0]), np.array([101.0]))
    assert day[0] == pytest.approx(0.000445600 - 0.0000382466, rel=1e-5)
    flat = garman_klass(np.array([50.0]), np.array([50.0]), np.array([50.0]), np.array([50.0]))
    assert flat[0] == 0.0


def test_the_range_proxy_is_garman_klass_scaled_to_the_known_days_squared_returns():
    """By hand on four days: the scale is Σ r² / Σ GK over days 1..2 (known = 3), and day 3 (after the
    origin) never enters it."""
    close, open_ = np.array([100.0, 101.0, 100.0, 102.0]), np.array([100.0, 100.5, 100.8, 100.2])
    high, low = np.array([101.0, 102.0, 101.5, 103.0]), np.array([99.0, 100.0, 99.5, 100.0])
    gk = [0.5 * math.log(high[d] / low[d]) ** 2 - (2 * math.log(2) - 1) * math.log(close[d] / open_[d]) ** 2
          for d in range(4)]
    scale = (math.log(1.01) ** 2 + math.log(100 / 101) ** 2) / (gk[1] + gk[2])
    np.testing.assert_allclose(range_proxy(close, open_, high, low, known=3), [scale * gk[3]], rtol=1e-12)
    later, wider = close.copy(), high.copy()
    later[3] = wider[3] = 150.0  # a storm after the origin changes that day's range, never the scale
    storm = 0.5 * math.log(150 / low[3]) ** 2 - (2 * math.log(2) - 1) * math.log(150 / open_[3]) ** 2
    np.testing.assert_allclose(range_proxy(later, open_, wider, low, known=3), [scale * storm], rtol=1e-12)
    np.testing.assert_allclose(squared_log_return(np.array([101.0]), np.array([100.0])), [math.log(1.01) ** 2])


def test_trailing_volatility_reads_the_last_window_of_returns():
    calm = 100 * np.exp(np.cumsum(np.tile([0.01, -0.01], 15)))  # 30 values, every return ±0.01 after the first
    assert trailing_volatility(calm) == pytest.approx(0.01)
    shocked = np.concatenate([[1.0, 1000.0], calm])  # a huge move 30 returns back: outside the 21
    assert trailing_volatility(shocked) == pytest.approx(0.01)
    assert trailing_volatility(shocked, window=40) > 1
    assert trailing_volatility(np.array([100.0, 110.0, 100.0])) == pytest.approx(math.log(1.1))
    assert np.isnan(trailing_volatility(np.array([100.0, 101.0])))  # one return
    assert np.isnan(trailing_volatility(np.array([1.0, -1.0, 2.0])))  # no log return of a sign change


def test_volatility_terciles_split_the_distinct_origins():
    assert volatility_terciles(np.array([0.6, 0.1, 0.5, 0.2, 0.4, 0.3])).tolist() == [2, 0, 2, 0, 1, 1]
    per_point = np.repeat([0.3, 0.1, 0.2], 4)  # three origins of four steps each
    assert volatility_terciles(per_point).tolist() == [2] * 4 + [0] * 4 + [1] * 4
    assert volatility_terciles(np.array([0.1, 0.2])).tolist() == [0, 2]
    assert volatility_terciles(np.array([0.1, 0.1])).tolist() == [1, 1]  # one origin: mid
    assert volatility_terciles(np.array([np.nan, 0.2, np.nan])).tolist() == [-1, 1, -1]
    assert volatility_terciles(np.array([np.nan])).tolist() == [-1]
