import json

import numpy as np
import pytest

from hpcast.features import Scaler, fit_scaler


def test_minmax_hand_computed():
    scaler = fit_scaler("minmax", np.array([[2.0, 10.0], [4.0, 30.0], [6.0, 20.0]]))
    assert scaler.offset == (2.0, 10.0) and scaler.scale == (4.0, 20.0)
    assert scaler.transform(np.array([[3.0, 15.0]])).tolist() == [[0.25, 0.25]]


def test_standard_hand_computed():
    scaler = fit_scaler("standard", np.array([1.0, 2.0, 3.0, 4.0]))
    assert scaler.offset == (2.5,)
    assert scaler.scale[0] == pytest.approx(np.sqrt(1.25))


def test_scale_hand_computed_keeps_zero_at_zero():
    scaler = fit_scaler("scale", np.array([1.0, -1.0, 3.0, 1.0]))  # mean 1, root mean square sqrt(3)
    assert scaler.offset == (0.0,)
    assert scaler.scale[0] == pytest.approx(np.sqrt(3.0))
    assert scaler.inverse(np.zeros(1)).tolist() == [0.0]


@pytest.mark.parametrize("kind", ["minmax", "standard", "scale"])
def test_inverse_round_trips_and_json_is_exact(kind):
    rng = np.random.default_rng(0)
    train, other = rng.normal(5, 3, (50, 3)), rng.normal(5, 3, (20, 3))
    scaler = fit_scaler(kind, train)
    np.testing.assert_allclose(scaler.inverse(scaler.transform(other)), other, rtol=1e-12)
    restored = Scaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    assert restored == scaler


def test_constant_column_maps_to_zero_not_nan():
    scaler = fit_scaler("minmax", np.array([[7.0], [7.0], [7.0]]))
    assert scaler.transform(np.array([[7.0], [8.0]])).tolist() == [[0.0], [1.0]]


def test_errors_name_the_rule():
    with pytest.raises(ValueError, match=r"train rows \(1\) must be >= 2"):
        fit_scaler("minmax", np.array([1.0]))
    with pytest.raises(ValueError, match="must be finite"):
        fit_scaler("standard", np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match=r"kind \('robust'\) must be 'minmax', 'standard' or 'scale'"):
        fit_scaler("robust", np.array([1.0, 2.0]))
