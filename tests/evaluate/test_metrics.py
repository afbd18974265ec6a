import numpy as np
import pytest

from hpcast.evaluate import directional_accuracy, mae, mape, mase_scale, rmse, smape

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
