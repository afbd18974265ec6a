import dataclasses

import pytest
import torch

from hpcast.config import ModelConfig, TrainConfig
from hpcast.models.lstm import LSTMNet
from hpcast.train.trainer import train


def _problem(n=96, T=10, h=2):
    """A learnable task: continue a noisy sine."""
    g = torch.Generator().manual_seed(5)
    t = torch.arange(n + T + h, dtype=torch.float32)
    wave = torch.sin(0.3 * t) + 0.05 * torch.randn(t.shape, generator=g)
    X = wave.unfold(0, T, 1)[:n, :, None]  # (N, T, 1)
    Y = wave[T:].unfold(0, h, 1)[:n]  # (N, h)
    return (X[:72], Y[:72]), (X[80:], Y[80:])


def _net(seed=0):
    torch.manual_seed(seed)
    return LSTMNet(ModelConfig(layers=(12,), dropout=(0.1,)), input_size=1, horizon=2)


def test_training_learns_a_sine():
    train_xy, val_xy = _problem()
    result = train(_net(), train_xy, val_xy, TrainConfig(epochs=40, batch_size=16, lr=0.01, patience=40))
    assert result.history[-1].train_loss < 0.2 * result.history[0].train_loss
    assert result.best_val_loss < 0.05


def test_same_seed_gives_bit_identical_weights():
    train_xy, val_xy = _problem()
    config = TrainConfig(epochs=4, batch_size=16, seed=3)
    a, b = _net(), _net()
    train(a, train_xy, val_xy, config)
    train(b, train_xy, val_xy, config)
    for name, tensor in a.state_dict().items():
        assert torch.equal(tensor, b.state_dict()[name])
    c = _net()
    train(c, train_xy, val_xy, dataclasses.replace(config, seed=4))
    assert not torch.equal(c.head.weight, a.head.weight)


def test_resume_continues_exactly_where_the_interrupted_run_was(tmp_path):
    train_xy, val_xy = _problem()
    config = TrainConfig(epochs=6, batch_size=16, seed=1, patience=10)
    straight = _net()
    expected = train(straight, train_xy, val_xy, config)

    interrupted = _net()
    train(interrupted, train_xy, val_xy, dataclasses.replace(config, epochs=3), checkpoint_dir=tmp_path)
    resumed = _net(seed=123)  # fresh process: different initial weights, all restored from the checkpoint
    result = train(resumed, train_xy, val_xy, config, checkpoint_dir=tmp_path, resume=True)

    assert [r.val_loss for r in result.history] == [r.val_loss for r in expected.history]
    for name, tensor in straight.state_dict().items():
        assert torch.equal(tensor, resumed.state_dict()[name]), name


def test_early_stopping_restores_the_best_epoch():
    train_xy, val_xy = _problem()
    net = _net()
    result = train(net, train_xy, val_xy, TrainConfig(epochs=30, batch_size=16, lr=0.05, patience=2))
    assert result.stopped_early
    assert len(result.history) == result.best_epoch + 2
    best = min(r.val_loss for r in result.history)
    assert result.best_val_loss == best
    from hpcast.train.batches import TensorBatches
    from hpcast.train.trainer import _evaluate, loss_function
    restored = float(_evaluate(net, TensorBatches(*val_xy), loss_function("mse"), 256))
    assert restored == pytest.approx(best, rel=1e-6)


def test_needs_validation_windows():
    train_xy, _ = _problem()
    empty = (train_xy[0][:0], train_xy[1][:0])
    with pytest.raises(ValueError, match="need at least one training and one validation window"):
        train(_net(), train_xy, empty, TrainConfig(epochs=1))


@pytest.mark.parametrize("loss", ["mae", "huber"])
def test_alternative_losses_train(loss):
    train_xy, val_xy = _problem()
    result = train(_net(), train_xy, val_xy, TrainConfig(epochs=2, loss=loss))
    assert len(result.history) == 2
