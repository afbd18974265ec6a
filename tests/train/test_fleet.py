"""train_fleet against the sequential trainer: each model of a fleet trains exactly as `train` trains it alone
(float64, no dropout), through different data sizes, seeds, learning rates, schedules, clipping, epochs and
early stopping, for last-step and every-step targets."""

import copy
import dataclasses

import pytest
import torch

from hpcast.config import TrainConfig
from hpcast.forecast.lstm import LSTMConfig
from hpcast.models.lstm import LSTMNet
from hpcast.train.context import RunContext, StopTraining
from hpcast.train.fleet import fleet_for, train_fleet
from hpcast.train.trainer import train

T, h = 8, 2


def _windows(seed, n_train, n_val=21, every_step=False):
    """A noisy sine of its own phase, as ``n_train`` training and ``n_val`` later validation windows."""
    g = torch.Generator().manual_seed(seed)
    n = n_train + n_val
    t = torch.arange(n + T + h, dtype=torch.float64)
    wave = torch.sin(0.3 * t + seed) + 0.1 * torch.randn(t.shape, generator=g, dtype=torch.float64)
    X = wave.unfold(0, T, 1)[:n, :, None]  # (N, T, 1)
    Y = wave[T:].unfold(0, h, 1)[:n]  # (N, h): the h values after each window
    if every_step:  # training targets after every step of a window; validation keeps the last step
        ahead = wave[1:].unfold(0, h, 1)  # (len - h, h): the h values after each step
        return (X[:n_train], ahead.unfold(0, T, 1)[:n_train].transpose(1, 2)), (X[n_train:], Y[n_train:])  # (N, T, h)
    return (X[:n_train], Y[:n_train]), (X[n_train:], Y[n_train:])


def _nets(k, layers=(6, 5)):
    nets = []
    for seed in range(k):
        torch.manual_seed(100 + seed)
        nets.append(LSTMNet(LSTMConfig(layers=layers, dropout=(0.0,) * len(layers)), 1, h, kernels="torch").double())
    return nets


class _Recorder:
    """Progress that keeps what it is told."""

    def __init__(self):
        self.total, self.records, self.finished = None, [], False

    def start(self, total, done=0):
        self.total = total

    def advance(self, record, best):
        self.records.append((record, best))

    def finish(self):
        self.finished = True


def _assert_same_runs(fleet_nets, fleet_results, alone_nets, alone_results):
    for k, (fleet, alone) in enumerate(zip(fleet_results, alone_results, strict=True)):
        assert len(fleet.history) == len(alone.history), k
        for mine, theirs in zip(fleet.history, alone.history, strict=True):
            assert mine.epoch == theirs.epoch and mine.samples == theirs.samples, k
            assert mine.lr == pytest.approx(theirs.lr, rel=1e-12), k
            assert mine.train_loss == pytest.approx(theirs.train_loss, rel=1e-10), (k, mine.epoch)
            assert mine.val_loss == pytest.approx(theirs.val_loss, rel=1e-10), (k, mine.epoch)
        assert (fleet.best_epoch, fleet.stopped_early) == (alone.best_epoch, alone.stopped_early), k
        assert fleet.best_val_loss == pytest.approx(alone.best_val_loss, rel=1e-10)
        assert fleet.recipe == alone.recipe
        for name, tensor in alone_nets[k].state_dict().items():
            torch.testing.assert_close(fleet_nets[k].state_dict()[name], tensor, rtol=1e-9, atol=1e-11, msg=name)


@pytest.mark.parametrize("targets, loss", [("last", "mse"), ("all", "mse"), ("all", "mae")])
def test_each_model_trains_as_the_sequential_trainer_trains_it_alone(targets, loss):
    every_step = targets == "all"
    data = [_windows(seed, n, every_step=every_step) for seed, n in ((0, 40), (1, 57), (2, 33))]  # 3, 4, 3 steps
    base = TrainConfig(epochs=7, batch_size=16, patience=7, targets=targets, warmup=0.25, precision="fp32",
                       kernels="torch", loss=loss)
    configs = [dataclasses.replace(base, seed=3, lr=0.02),
               dataclasses.replace(base, seed=4, lr=0.1, patience=1, clip_norm=0.0),  # stops early
               dataclasses.replace(base, seed=5, lr=0.01, epochs=5, clip_norm=0.05, schedule="constant")]
    nets = _nets(3)
    alone_nets = [copy.deepcopy(net) for net in nets]
    progress = [_Recorder(), None, _Recorder()]
    results = train_fleet(nets, [d[0] for d in data], [d[1] for d in data], configs, progress)
    alone = [train(net, d[0], d[1], c) for net, d, c in zip(alone_nets, data, configs, strict=True)]

    _assert_same_runs(nets, results, alone_nets, alone)
    for reporter, result, config in zip(progress[::2], results[::2], configs[::2], strict=True):
        assert reporter.total == config.epochs and reporter.finished
        assert [record for record, _ in reporter.records] == result.history
        assert reporter.records[-1][1] == min(r.val_loss for r in result.history)
    assert [len(r.history) for r in results][0::2] == [7, 5] and results[1].stopped_early
    assert len(results[1].history) < 7 and results[1].best_epoch < len(results[1].history)  # weights restored
    assert results[0].history[0].samples == 40 and results[1].history[0].samples == 57


def test_a_model_whose_progress_stops_it_ends_alone_as_the_trainer_ends_it():
    class StopAtEpochTwo(_Recorder):
        def advance(self, record, best):
            super().advance(record, best)
            if record.epoch == 2:
                raise StopTraining("pruned")

    data = [_windows(seed, 24) for seed in range(2)]
    configs = [TrainConfig(epochs=4, batch_size=8, seed=seed, kernels="torch", precision="fp32") for seed in (1, 2)]
    nets = _nets(2)
    alone_nets = [copy.deepcopy(net) for net in nets]
    results = train_fleet(nets, [d[0] for d in data], [d[1] for d in data], configs, [StopAtEpochTwo(), None])
    alone = [train(alone_nets[0], *data[0], configs[0], RunContext(progress=StopAtEpochTwo())),
             train(alone_nets[1], *data[1], configs[1])]
    _assert_same_runs(nets, results, alone_nets, alone)
    assert [len(r.history) for r in results] == [2, 4] and results[0].stopped_early


def test_batch_sources_that_sample_train_as_alone(price_series, tiny_config):
    """Panel windows drawn per series with replacement (`Batches.epoch_order` overridden), every-step targets."""
    from hpcast.data.panel import Panel
    from hpcast.forecast.panel_windows import prepare_panel

    config = tiny_config.resolved("B")
    trains, vals = [], []
    for length in (200, 140):
        windows = prepare_panel(Panel.from_series(price_series[:length], "B"), config)
        windows = dataclasses.replace(windows, buffer=windows.buffer.double())
        trains.append(windows.batches(windows.starts("train", 2), every_step=True, weights="equal"))
        vals.append(windows.batches(windows.starts("val"), every_step=False))
    configs = [TrainConfig(epochs=3, batch_size=16, seed=seed, kernels="torch", precision="fp32") for seed in (8, 9)]
    nets = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        nets.append(LSTMNet(LSTMConfig(layers=(5,), dropout=(0.0,)), trains[0].windows.buffer.shape[1],
                            config.horizon, kernels="torch").double())
    alone_nets = [copy.deepcopy(net) for net in nets]
    results = train_fleet(nets, trains, vals, configs)
    alone = [train(net, t, v, c) for net, t, v, c in zip(alone_nets, trains, vals, configs, strict=True)]
    _assert_same_runs(nets, results, alone_nets, alone)
    assert results[0].history[0].samples != results[1].history[0].samples


def test_triton_kernels_train_the_same_models_as_torch():
    """The fleet's Triton LSTM and Adam (under the interpreter on a CPU) against the torch trainer."""
    pytest.importorskip("triton")
    data = [_windows(seed, n) for seed, n in ((0, 10), (1, 7))]
    configs = [TrainConfig(epochs=2, batch_size=4, seed=seed, lr=0.02, precision="fp32", targets="last",
                           kernels="triton", patience=5) for seed in (1, 2)]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    nets = [net.to(device) for net in _nets(2, layers=(4,))]
    on_device = [tuple(tuple(t.to(device) for t in pair) for pair in d) for d in data]
    alone_nets = [copy.deepcopy(net) for net in nets]
    results = train_fleet(nets, [d[0] for d in on_device], [d[1] for d in on_device], configs)
    alone = [train(net, d[0], d[1], dataclasses.replace(c, kernels="torch"))
             for net, d, c in zip(alone_nets, on_device, configs, strict=True)]
    _assert_same_runs(nets, results, alone_nets, alone)


def test_mismatched_models_configs_and_data_are_refused_by_name():
    data = [_windows(seed, 20) for seed in range(2)]
    trains, vals = [d[0] for d in data], [d[1] for d in data]
    config = TrainConfig(epochs=1, batch_size=8, kernels="torch")
    with pytest.raises(ValueError, match=r"configs\[1\].batch_size \(16\) must equal configs\[0\].batch_size \(8\): "
                                         r"a fleet shares batch_size, loss, warmup, precision, kernels"):
        train_fleet(_nets(2), trains, vals, [config, dataclasses.replace(config, batch_size=16)])
    with pytest.raises(ValueError, match=r"configs\[1\].loss \('mae'\) must equal configs\[0\].loss \('mse'\)"):
        train_fleet(_nets(2), trains, vals, [config, dataclasses.replace(config, loss="mae")])
    with pytest.raises(ValueError, match=r"models \(2\), trains \(1\), vals \(2\) and configs \(2\) must have one "
                                         r"entry per model"):
        train_fleet(_nets(2), trains[:1], vals, [config, config])
    short = _windows(5, 20)[0][0][:, 1:], _windows(5, 20)[0][1]
    with pytest.raises(ValueError, match=r"trains\[1\] has windows of 7 steps and 2-d targets, trains\[0\] 8 and 2-d"):
        train_fleet(_nets(2), [trains[0], short], vals, [config, config])
    with pytest.raises(ValueError, match=r"vals\[0\] has windows of 8 steps and 3-d targets; validation needs "
                                         r"trains\[0\]'s 8 steps and last-step targets \(N, h\)"):
        train_fleet(_nets(2), trains, [(vals[0][0], vals[0][1][:, None].expand(-1, T, -1)), vals[1]], [config] * 2)
    with pytest.raises(ValueError, match=r"model 1 needs at least one training and one validation window, got 0"):
        train_fleet(_nets(2), [trains[0], (trains[1][0][:0], trains[1][1][:0])], vals, [config, config])
    with pytest.raises(ValueError, match=r"progress \(1\) must hold one reporter \(or None\) per model \(2\)"):
        train_fleet(_nets(2), trains, vals, [config, config], [None])
    with pytest.raises(ValueError, match=r"models\[1\] has config .*layers=\(3,\).* but models\[0\] has"):
        train_fleet([_nets(1)[0], _nets(1, layers=(3,))[0]], trains, vals, [config, config])


def test_fleet_for_trains_a_fleet_only_where_it_pays_unless_told():
    assert fleet_for("auto", "cuda", "auto", 4) and fleet_for("auto", torch.device("cuda:0"), "triton", 2)
    assert not fleet_for("auto", "cpu", "auto", 4)  # K oneDNN calls beat one fused CPU step
    assert not fleet_for("auto", "cuda", "torch", 4)  # the torch path runs the K LSTMs one after another
    assert not fleet_for("auto", "cuda", "auto", 1)
    assert fleet_for("on", "cpu", "torch", 1) and not fleet_for("off", "cuda", "auto", 8)
    with pytest.raises(ValueError, match=r"fleet \('yes'\) must be 'auto', 'on' or 'off'"):
        fleet_for("yes", "cpu", "auto", 2)  # type: ignore[arg-type]
