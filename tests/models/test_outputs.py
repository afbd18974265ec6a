"""The output heads against independent references: torch.distributions, scipy, hand-computed pinball losses."""

from __future__ import annotations

import math
import typing

import numpy as np
import pytest
import torch
from scipy import stats

from hpcast.forecast.spec import Distribution
from hpcast.models.outputs import OUTPUTS, make_output

LEVELS = (0.05, 0.25, 0.5, 0.75, 0.95)


def _raw(head_name: str, B: int = 6, h: int = 3, seed: int = 0) -> torch.Tensor:
    head = make_output(head_name, LEVELS)
    return torch.randn(B, h * head.width, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_the_heads_are_the_configs_choices():
    assert tuple(OUTPUTS) == typing.get_args(Distribution)


def test_normal_and_student_t_losses_are_the_negative_log_likelihoods():
    y = torch.randn(6, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    normal = make_output("normal")
    mu, sigma = normal._params(_raw("normal"))
    expected = -torch.distributions.Normal(mu, sigma).log_prob(y)
    torch.testing.assert_close(normal.loss(_raw("normal"), y), expected, rtol=1e-12, atol=1e-12)
    t = make_output("student-t")
    mu, sigma, nu = t._params(_raw("student-t"))
    assert (nu > 2).all() and (sigma > 0).all()
    expected = -torch.distributions.StudentT(nu, mu, sigma).log_prob(y)
    torch.testing.assert_close(t.loss(_raw("student-t"), y), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("q", [0.01, 0.1, 0.5, 0.9, 0.99])
def test_quantiles_are_scipys(q):
    normal, t = make_output("normal"), make_output("student-t")
    mu, sigma = normal._params(_raw("normal"))
    expected = stats.norm.ppf(q, mu.numpy(), sigma.numpy())
    np.testing.assert_allclose(normal.quantile(_raw("normal"), q).numpy(), expected, rtol=1e-10)
    mu, sigma, nu = t._params(_raw("student-t"))
    expected = stats.t.ppf(q, nu.numpy(), mu.numpy(), sigma.numpy())
    np.testing.assert_allclose(t.quantile(_raw("student-t"), q).numpy(), expected, rtol=1e-10)


@pytest.mark.parametrize("name", ["normal", "student-t", "quantiles"])
def test_samples_have_the_heads_quantiles(name):
    """Each step's empirical quantiles of 40,000 draws match the head's quantile function (within the sampling
    error of a quantile: a few hundredths of the spread)."""
    head = make_output(name, LEVELS)
    raw = _raw(name, B=2, h=2)
    draws = head.sample(raw, 40_000, torch.Generator().manual_seed(3))  # (B, h, n)
    assert draws.shape == (2, 2, 40_000)
    spread = head.spread(raw)
    for q in (0.1, 0.25, 0.5, 0.75, 0.9):
        error = (torch.quantile(draws, q, dim=-1) - head.quantile(raw, q)).abs() / spread
        assert float(error.max()) < 0.05, (name, q, float(error.max()))


def test_pinball_loss_by_hand():
    head = make_output("quantiles", (0.1, 0.5, 0.9))
    raw = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64)  # one step: quantiles 1, 2, 3
    y = torch.tensor([[2.5]], dtype=torch.float64)
    # errors y - q: 1.5, 0.5, -0.5 -> losses 0.1*1.5, 0.5*0.5, (0.9-1)*(-0.5) = 0.15, 0.25, 0.05
    assert float(head.loss(raw, y)) == pytest.approx((0.15 + 0.25 + 0.05) / 3, rel=1e-12)
    assert float(head.point(raw)) == 2.0
    assert float(head.quantile(raw, 0.3)) == pytest.approx(1.5)  # halfway between the 0.1 and 0.5 quantiles
    assert float(head.quantile(raw, 0.01)) == 1.0  # flat beyond the extreme level


def test_crossed_quantiles_are_sorted_at_prediction():
    head = make_output("quantiles", (0.1, 0.5, 0.9))
    raw = torch.tensor([[3.0, 1.0, 2.0]], dtype=torch.float64)
    assert float(head.point(raw)) == 2.0 and float(head.quantile(raw, 0.1)) == 1.0


def test_a_point_head_says_it_has_no_distribution():
    head = make_output("point")
    assert head.width == 1 and not head.distribution
    with pytest.raises(ValueError, match="the point head gives no quantiles"):
        head.quantile(torch.zeros(1, 3), 0.5)


@pytest.mark.parametrize(("levels", "rule"), [((0.1, 0.9), "must include 0.5"), ((0.5, 0.1), "increasing"),
                                               ((0.0, 0.5), "in \\(0, 1\\)")])
def test_bad_quantile_levels_are_named(levels, rule):
    with pytest.raises(ValueError, match=rule):
        make_output("quantiles", levels)


def test_an_unknown_head_lists_the_known():
    with pytest.raises(ValueError, match="distribution \\('gamma'\\) must be one of point, normal, student-t"):
        make_output("gamma")


def test_student_t_tails_are_heavier_than_the_normals():
    raw = torch.zeros(1, 3, dtype=torch.float64)  # mu 0, sigma softplus(0), nu 2 + softplus(0)
    t = make_output("student-t")
    nu = 2 + math.log(2)
    assert float(t.quantile(raw, 0.99)) == pytest.approx(stats.t.ppf(0.99, nu) * (math.log(2) + 1e-4), rel=1e-9)
    normal_q = stats.norm.ppf(0.99) * (math.log(2) + 1e-4)
    assert float(t.quantile(raw, 0.99)) > normal_q


@pytest.mark.parametrize("name", ["normal", "student-t"])
def test_each_heads_crps_is_the_crps_of_its_own_samples(name):
    """A head's closed-form CRPS against the energy form on 20,000 of its own draws
    (``properscoring.crps_ensemble``, an independent implementation)."""
    import properscoring

    head = make_output(name, LEVELS)
    raw = _raw(name, B=3, h=2)
    y = torch.randn(3, 2, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    draws = head.sample(raw, 20_000, torch.Generator().manual_seed(8)).numpy()  # (B, h, n)
    reference = properscoring.crps_ensemble(y.numpy(), draws)
    closed = head.crps(raw, y)
    assert closed.shape == (3, 2)
    np.testing.assert_allclose(closed, reference, rtol=0.02)


def test_the_quantile_heads_crps_is_twice_its_mean_pinball_loss():
    """At its own levels, by hand: 2 · mean over q of max(q·e, (q − 1)·e), e = y − ŷ_q."""
    head = make_output("quantiles", LEVELS)
    raw = _raw("quantiles", B=3, h=2)
    y = torch.randn(3, 2, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    by_hand = np.zeros((3, 2))
    for q in LEVELS:
        error = (y - head.quantile(raw, q)).numpy()
        by_hand += 2 * np.maximum(q * error, (q - 1) * error) / len(LEVELS)
    np.testing.assert_allclose(head.crps(raw, y), by_hand, rtol=1e-12)


def test_a_point_heads_crps_is_its_absolute_error():
    head = make_output("point")
    raw = torch.tensor([[1.0, -2.0]], dtype=torch.float64)
    np.testing.assert_allclose(head.crps(raw, torch.tensor([[0.5, 1.0]], dtype=torch.float64)), [[0.5, 3.0]])
