import dataclasses

import pytest
import torch

from hpcast.config import TrainConfig
from hpcast.forecast.lstm import LSTMConfig as ModelConfig
from hpcast.models.lstm import LSTMNet
from hpcast.train.batches import TensorBatches
from hpcast.train.context import RunContext
from hpcast.train.distributed import Distributed
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

    class KilledError(Exception):
        pass

    class KillAfterThreeEpochs:  # the process dies after epoch 3 (its checkpoint is already written)
        def start(self, total, done):
            pass

        def advance(self, record, best):
            if record.epoch == 3:
                raise KilledError

    with pytest.raises(KilledError):
        train(_net(), train_xy, val_xy, config, RunContext(checkpoint_dir=tmp_path, progress=KillAfterThreeEpochs()))
    resumed = _net(seed=123)  # fresh process: different initial weights, all restored from the checkpoint
    result = train(resumed, train_xy, val_xy, config, RunContext(checkpoint_dir=str(tmp_path), resume=True))

    assert [r.val_loss for r in result.history] == [r.val_loss for r in expected.history]
    for name, tensor in straight.state_dict().items():
        assert torch.equal(tensor, resumed.state_dict()[name]), name


def test_one_process_is_the_same_run_whichever_way_its_context_is_given():
    """No context, the default `RunContext`, ``dist=None`` and `Distributed.single()`: one run, bit for bit."""
    train_xy, val_xy = _problem()
    config = TrainConfig(epochs=3, batch_size=16, seed=2)
    contexts = [None, RunContext(), RunContext(dist=None), RunContext(dist=Distributed.single())]
    nets = [_net() for _ in contexts]
    results = [train(net, train_xy, val_xy, config, context) for net, context in zip(nets, contexts, strict=True)]
    for net, result in zip(nets[1:], results[1:], strict=True):
        assert [r.val_loss for r in result.history] == [r.val_loss for r in results[0].history]
        assert all(torch.equal(tensor, net.state_dict()[name]) for name, tensor in nets[0].state_dict().items())
    assert all(r.samples == 72 for r in results[0].history)  # the whole batch: no shard, no sync
    assert RunContext(dist=None).dist.strategy == "single"


def test_single_process_distributed_hooks_do_nothing():
    one, model = Distributed.single(), torch.nn.Linear(2, 1)
    index, value = torch.tensor([4, 1, 3]), torch.tensor([2.5, 7.0])
    assert (one.rank, one.world_size, one.is_main, one.strategy, one.early_stopping) == (0, 1, True, "single", True)
    assert one.shard(index)[0] is index and one.shard(index)[1] == 1.0
    assert one.wrap(model) is model and one.all_reduce_sum(value) is value
    assert one.after_step(model) == 0.0 and one.end_of_epoch(model, 1, 10, last=True) == 0.0 and one.rounds == []
    state = torch.get_rng_state()
    one.reseed_after_resume(seed=1, first_epoch=3)  # keeps the RNG state the checkpoint restored
    assert torch.equal(torch.get_rng_state(), state)
    one.close()


def test_the_trainer_takes_each_epoch_order_from_the_batch_source():
    train_xy, val_xy = _problem()
    fixed = torch.arange(71, -1, -3)  # 24 windows, backwards: an order a sampling source might draw
    seen = []

    class FixedOrder(TensorBatches):
        def epoch_order(self, generator):
            return fixed

        def batches(self, order, batch_size, dist):
            seen.append(order)
            return super().batches(order, batch_size, dist)

    result = train(_net(), FixedOrder(*train_xy), val_xy, TrainConfig(epochs=2, batch_size=16))
    assert len(seen) == 2 and all(torch.equal(order, fixed) for order in seen)
    assert [r.samples for r in result.history] == [24, 24]
    shuffle, reference = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(TensorBatches(*train_xy).epoch_order(shuffle), torch.randperm(72, generator=reference))
    assert torch.equal(shuffle.get_state(), reference.get_state())  # the default draws what the trainer drew


def test_early_stopping_restores_the_best_epoch():
    train_xy, val_xy = _problem()
    net = _net()
    result = train(net, train_xy, val_xy, TrainConfig(epochs=30, batch_size=16, lr=0.05, patience=2))
    assert result.stopped_early
    assert len(result.history) == result.best_epoch + 2
    best = min(r.val_loss for r in result.history)
    assert result.best_val_loss == best
    from hpcast.train.rules import loss_function
    from hpcast.train.trainer import _evaluate
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


# -- the recipe's levers -----------------------------------------------------------------------------------
LEVERS_OFF = {"precision": "fp32", "schedule": "constant"}


def test_with_every_lever_off_the_trainer_is_the_plain_loop_bit_for_bit():
    """Same math as the textbook loop (seeded shuffle, MSE, clipping, fused Adam): identical weights."""
    train_xy, val_xy = _problem()
    config = TrainConfig(epochs=3, batch_size=16, seed=2, **LEVERS_OFF)
    ours = _net()
    result = train(ours, train_xy, val_xy, config)
    assert result.recipe == {"targets": "last", "warmup_steps": 0, "precision": "fp32", "schedule": "constant"}

    plain = _net()
    optimizer = torch.optim.Adam(plain.parameters(), lr=config.lr, fused=True)
    shuffle = torch.Generator().manual_seed(2)
    torch.manual_seed(2)
    X, Y = train_xy
    for _ in range(3):
        plain.train()
        order = torch.randperm(len(X), generator=shuffle)
        for start in range(0, len(X), 16):
            index = order[start:start + 16]
            loss = torch.nn.functional.mse_loss(plain(X[index]), Y[index])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(plain.parameters(), 1.0)
            optimizer.step()
    assert result.best_epoch == 3  # this problem keeps improving: the restored weights are the last ones
    for name, tensor in plain.state_dict().items():
        assert torch.equal(tensor, ours.state_dict()[name]), name


def test_one_cycle_follows_torch_one_cycle_lr():
    from hpcast.train.rules import one_cycle

    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([param], lr=0.01)
    reference = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.01, total_steps=57)
    for step in range(57):
        lr, beta1 = one_cycle(step, 57, 0.01)
        assert lr == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-9, abs=1e-15), step
        assert beta1 == pytest.approx(optimizer.param_groups[0]["betas"][0], rel=1e-9), step
        optimizer.step()
        if step < 56:
            reference.step()


def test_one_cycle_sets_the_learning_rate_of_each_epoch():
    train_xy, val_xy = _problem()  # 72 windows, batch 16: 5 steps per epoch
    result = train(_net(), train_xy, val_xy, TrainConfig(epochs=4, batch_size=16, lr=0.01, precision="fp32"))
    from hpcast.train.rules import one_cycle

    assert [r.lr for r in result.history] == pytest.approx([one_cycle(5 * e - 1, 20, 0.01)[0] for e in (1, 2, 3, 4)])
    assert result.history[-1].lr < 1e-6  # annealed


def test_every_step_training_ignores_the_warm_up_steps_targets():
    g = torch.Generator().manual_seed(5)
    wave = torch.sin(0.3 * torch.arange(120.0)) + 0.05 * torch.randn(120, generator=g)
    X = wave.unfold(0, 10, 1)[:100, :, None]  # (100, 10, 1)
    ahead = wave[1:].unfold(0, 2, 1)  # (119, 2): row j holds wave[j+1 .. j+2]
    Y_all = ahead.unfold(0, 10, 1).transpose(1, 2)[:100].clone()  # (100, 10, 2): step t of window b
    val = (X[80:], Y_all[80:, -1])
    config = TrainConfig(epochs=2, batch_size=16, warmup=0.3, seed=1, **LEVERS_OFF)  # 3 warm-up steps

    def weights(targets):
        net = _net()
        result = train(net, (X[:70], targets[:70]), val, config)
        assert result.recipe["targets"] == "all" and result.recipe["warmup_steps"] == 3
        return net.state_dict()

    base = weights(Y_all)
    noisy_warmup, noisy_later = Y_all.clone(), Y_all.clone()
    noisy_warmup[:, :3] += 5.0
    noisy_later[:, 3:] += 5.0
    assert all(torch.equal(v, weights(noisy_warmup)[k]) for k, v in base.items())  # not in the loss
    assert not torch.equal(base["head.weight"], weights(noisy_later)["head.weight"])


def test_bf16_autocast_trains_close_to_fp32_and_validates_in_fp32():
    from hpcast.train.rules import loss_function
    from hpcast.train.trainer import _evaluate, bf16_unavailable

    cpu = torch.device("cpu")
    if (why := bf16_unavailable(cpu)) is not None:
        pytest.skip(f"this CPU ({torch.backends.cpu.get_cpu_capability()}) cannot train an LSTM in bf16: {why}")
    train_xy, val_xy = _problem()
    config = TrainConfig(epochs=8, batch_size=16, lr=0.01, seed=0, schedule="constant")
    fp32_net, bf16_net = _net(), _net()
    fp32 = train(fp32_net, train_xy, val_xy, dataclasses.replace(config, precision="fp32"))
    bf16 = train(bf16_net, train_xy, val_xy, dataclasses.replace(config, precision="bf16"))
    assert bf16.recipe["precision"] == "bf16" and fp32.recipe["precision"] == "fp32"
    assert not torch.equal(fp32_net.head.weight, bf16_net.head.weight)  # autocast really ran in bf16
    assert bf16.best_val_loss == pytest.approx(fp32.best_val_loss, rel=0.5)  # and learned as well
    assert bf16_net.head.weight.dtype == torch.float32  # weights stay fp32
    manual = torch.nn.functional.mse_loss(bf16_net(val_xy[0]), val_xy[1]).item()  # plain fp32 forward
    assert float(_evaluate(bf16_net, TensorBatches(*val_xy), loss_function("mse"), 256)) == pytest.approx(manual)


def test_auto_precision_is_fp32_on_a_cpu_and_the_probe_keeps_the_seed():
    from hpcast.train.trainer import _bf16_probe, bf16_unavailable

    train_xy, val_xy = _problem()
    auto = train(_net(), train_xy, val_xy, TrainConfig(epochs=1, batch_size=16, schedule="constant"))
    assert auto.recipe["precision"] == "fp32"  # on any CPU: the same numbers on AVX2 and AVX-512 machines
    _bf16_probe.cache_clear()
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    why = bf16_unavailable(torch.device("cpu"))  # builds (random) probe weights
    assert torch.equal(torch.rand(3), expected)
    assert why is None or why.strip()  # a reason in words when it cannot run


@pytest.mark.parametrize("isa", [None, "AVX2"])
def test_bf16_on_a_cpu_that_cannot_do_it_fails_in_one_line(isa, tmp_path):
    """oneDNN limited to AVX2 (as on an AVX2-only machine) builds no bf16 LSTM; whatever the probe finds in
    that process, the command either trains in bf16 or stops with one line that says what to use."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, **({"ONEDNN_MAX_CPU_ISA": isa, "ATEN_CPU_CAPABILITY": isa.lower()} if isa else {})}
    probe = subprocess.run([sys.executable, "-c", "import torch; from hpcast.train.trainer import bf16_unavailable; "
                            "print(bf16_unavailable(torch.device('cpu')) or '')"], capture_output=True, text=True,
                           env=env, timeout=120)
    assert probe.returncode == 0, probe.stderr[-2000:]
    done = subprocess.run([sys.executable, "-m", "hpcast", "train", "--dataset", "air_passengers", "--epochs", "1",
                           "--layers", "4", "--dropout", "0", "--precision", "bf16", "--quiet",
                           "--out", str(tmp_path / "run")], capture_output=True, text=True, env=env, timeout=300)
    if probe.stdout.strip():  # cannot: exit 1, one line naming what, why and what to use instead
        assert done.returncode == 1, done.stdout + done.stderr
        assert done.stderr.strip().count("\n") == 0, done.stderr
        assert done.stderr.startswith("Error: precision 'bf16' cannot train an LSTM on this CPU (capability ")
        assert probe.stdout.strip() in done.stderr and "use --precision fp32" in done.stderr
    else:
        assert done.returncode == 0, done.stderr[-2000:]
        assert json.loads((tmp_path / "run" / "manifest.json").read_text())["recipe"]["precision"] == "bf16"
