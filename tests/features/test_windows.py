import pytest
import torch

from hpcast.features.windows import sliding_windows, supervised_windows


def test_windows_are_views_with_the_right_values():
    x = torch.arange(20.0).reshape(10, 2)  # (N, F)
    X = sliding_windows(x, 4)
    assert X.shape == (7, 4, 2)
    assert X.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()  # no copy
    for b in range(7):
        assert torch.equal(X[b], x[b:b + 4])


def test_supervised_pairs_match_a_plain_loop():
    x = torch.arange(12.0)
    X, Y = supervised_windows(x[:, None], x * 10, window=3, horizon=2)
    assert X.shape == (8, 3, 1) and Y.shape == (8, 2)
    for b in range(8):
        assert X[b, :, 0].tolist() == x[b:b + 3].tolist()
        assert Y[b].tolist() == (x[b + 3:b + 5] * 10).tolist()


def test_too_short_series_is_explained():
    with pytest.raises(ValueError, match=r"too short for window \(5\) \+ horizon \(3\); need at least 8"):
        supervised_windows(torch.zeros(7, 1), torch.zeros(7), 5, 3)
