"""Adaptive conformal inference against a simulated change of regime, beside split conformal."""

from __future__ import annotations

import numpy as np
import pytest

from hpcast.forecast.calibration import _conformal_quantile, adaptive_conformal


def _regime_switch(seed: int = 0) -> np.ndarray:
    """Absolute errors of a model whose error scale doubles at t = 1500 (calm, then a storm)."""
    rng = np.random.default_rng(seed)
    return np.abs(np.concatenate([rng.normal(0, 1, 1500), rng.normal(0, 2, 1500)]))


def test_adaptive_conformal_covers_on_both_sides_of_a_volatility_doubling():
    scores = _regime_switch()
    _, covered = adaptive_conformal(scores, 0.9, gamma=0.01, window=250)
    calm, storm = covered[250:1500].mean(), covered[1700:].mean()  # after 200 days to adapt
    assert abs(calm - 0.9) < 0.03 and abs(storm - 0.9) < 0.03, (calm, storm)
    fixed = _conformal_quantile(scores[:250, None], 0.9)[0]  # split conformal, calibrated in the calm
    storm_fixed = (scores[1700:] <= fixed).mean()
    assert storm_fixed < 0.7, storm_fixed  # a fixed band: P(|2Z| <= 1.645) = P(|Z| <= 0.82) ≈ 0.59


def test_the_miss_rate_stays_near_alpha_whatever_the_scores_do():
    """Gibbs & Candès' bound: over T steps the share of misses is within (max a - min a + gamma) / (gamma T)
    of alpha; with a_t bounded in [-gamma, 1 + gamma] that is at most (1 + 3 gamma) / (gamma T)."""
    rng = np.random.default_rng(1)
    scores = np.abs(rng.standard_cauchy(4000)) * np.repeat(rng.uniform(0.1, 10, 40), 100)  # wild and shifting
    gamma = 0.02
    _, covered = adaptive_conformal(scores, 0.8, gamma=gamma, window=100)
    misses = 1 - covered[100:].mean()
    assert abs(misses - 0.2) <= (1 + 3 * gamma) / (gamma * 3900)


def test_a_band_is_the_conformal_rank_of_the_past_scores():
    scores = np.arange(1.0, 12.0)  # 1..11
    thresholds, covered = adaptive_conformal(scores, 0.8, window=10, start=10)
    # at t = 10: past scores 1..10, a = 0.2, rank ceil(11 * 0.8) = 9 -> 9; score 11 > 9: a miss
    assert thresholds[10] == 9.0 and not covered[10] and np.isnan(thresholds[:10]).all()


@pytest.mark.parametrize(("kwargs", "rule"), [({"level": 1.2}, r"level \(1.2\) must be in \(0, 1\)"),
                                               ({"level": 0.9, "gamma": 0}, r"gamma \(0\) must be > 0"),
                                               ({"level": 0.9, "start": 0}, r"start \(0\) must be in")])
def test_bad_arguments_are_named(kwargs, rule):
    with pytest.raises(ValueError, match=rule):
        adaptive_conformal(np.ones(20), **kwargs)
