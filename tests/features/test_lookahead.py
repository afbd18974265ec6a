"""No lookahead: data after the training cutoff cannot change anything the model learns from."""

import dataclasses

import numpy as np
import torch

from hpcast.train.forecaster import LSTMForecaster, prepare


def _perturb_after(series, position):
    changed = series.copy()
    rng = np.random.default_rng(99)
    changed.iloc[position + 1:] *= rng.uniform(0.5, 2.0, len(changed) - position - 1)
    return changed


def test_perturbing_after_the_cutoff_leaves_training_features_and_scaler_unchanged(price_series, tiny_config):
    for target in ("log_return", "level"):
        config = dataclasses.replace(tiny_config, target=target).resolved("B")
        before = prepare(price_series, config)
        after = prepare(_perturb_after(price_series, before.cutoff_position), config)
        assert after.scaler == before.scaler
        for a, b in zip(after.train_xy, before.train_xy, strict=True):
            assert torch.equal(a, b)
        assert not torch.equal(after.val_xy[1], before.val_xy[1])  # the perturbation was real


def test_perturbing_after_the_cutoff_leaves_trained_weights_unchanged(price_series, tiny):
    config = tiny(epochs=1)  # one epoch: early stopping cannot pick a different epoch
    cutoff = prepare(price_series, config.resolved("B")).cutoff_position
    first = LSTMForecaster(config).fit(price_series, "B")
    second = LSTMForecaster(config).fit(_perturb_after(price_series, cutoff), "B")
    for name, tensor in first.net.state_dict().items():
        assert torch.equal(tensor, second.net.state_dict()[name]), name
