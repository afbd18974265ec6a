import numpy as np
import pandas as pd
import pytest

from hpcast.features import decode, encode, log_returns, moving_average, returns


@pytest.fixture
def prices():
    return pd.Series([100.0, 110.0, 99.0, 99.0], index=pd.bdate_range("2021-01-04", periods=4))


def test_returns_hand_computed(prices):
    assert returns(prices).tolist() == pytest.approx([0.1, -0.1, 0.0])
    assert log_returns(prices).tolist() == pytest.approx([np.log(1.1), np.log(0.9), 0.0])
    assert log_returns(prices).index[0] == prices.index[1]


def test_moving_average_is_trailing(prices):
    ma = moving_average(prices, 2)
    assert np.isnan(ma.iloc[0])
    assert ma.iloc[1:].tolist() == [105.0, 104.5, 99.0]


def test_log_returns_need_positive_prices():
    with pytest.raises(ValueError, match="prices must be > 0"):
        log_returns(pd.Series([1.0, 0.0], index=pd.bdate_range("2021-01-04", periods=2)))


@pytest.mark.parametrize("target", ["log_return", "level"])
def test_decode_inverts_encode(target):
    values = np.array([10.0, 11.0, 12.1, 11.0])
    z = encode(values, target)
    start = 1 if target == "log_return" else 0
    path = decode(z[start:] if target == "level" else z, values[0], target)
    np.testing.assert_allclose(path, values[1:] if target == "log_return" else values, rtol=1e-12)


def test_log_return_target_refuses_non_positive_values():
    with pytest.raises(ValueError, match=r"needs positive values.*use --target level"):
        encode(np.array([1.0, -1.0, 2.0]), "log_return")
