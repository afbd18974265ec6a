import pytest
import torch

from hpcast.features.windows import every_step_targets, sliding_windows, supervised_windows


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


def test_every_step_targets_are_the_values_after_each_step():
    target = torch.arange(12.0)  # N = 12, T = 4, h = 2: B = 7 windows
    Y_all = every_step_targets(target, 4, 2)
    assert Y_all.shape == (7, 4, 2)
    assert Y_all.untyped_storage().data_ptr() == target.untyped_storage().data_ptr()  # a view
    for b in range(7):
        for t in range(4):  # step t of window b has seen target[b .. b+t]
            assert Y_all[b, t].tolist() == [b + t + 1.0, b + t + 2.0]
    _, Y = supervised_windows(target[:, None], target, 4, 2)
    assert torch.equal(Y_all[:, -1], Y)  # the last step is the single-target pair: nothing later is reached
    with pytest.raises(ValueError, match="too short"):
        every_step_targets(torch.arange(5.0), 4, 2)
