"""FleetLSTMNet against its members: member k of the fleet computes what LSTMNet k computes alone (values and
gradients, float64), over every part of the input layout (known-future block, series id, every-step head)."""

import pytest
import torch

from hpcast.forecast.lstm import LSTMConfig
from hpcast.models.fleet import FleetLSTMNet
from hpcast.models.lstm import LSTMNet

K, B, T, P, h = 3, 5, 7, 2, 4


def _members(future_size=0, n_series=0, embedding=0, dropout=(0.0, 0.0)):
    config = LSTMConfig(layers=(6, 5), dropout=dropout, embedding=embedding)
    nets = []
    for seed in range(K):
        torch.manual_seed(10 + seed)
        nets.append(LSTMNet(config, P, h, kernels="torch", future_size=future_size, n_series=n_series).double())
    return nets


def _inputs(width, n_series=0, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(K, B, T, width, generator=g, dtype=torch.float64)  # (K, B, T, width)
    if n_series:
        ids = torch.randint(0, n_series, (K, B, 1), generator=g).double()  # (K, B, 1)
        x[..., -1] = ids.expand(-1, -1, T)
    return x


@pytest.mark.parametrize("every_step", [False, True])
@pytest.mark.parametrize("future_size, n_series, embedding", [(0, 0, 0), (2 * h, 0, 0), (0, 4, 3), (2 * h, 4, 3)])
def test_each_member_computes_what_its_own_net_computes(future_size, n_series, embedding, every_step):
    nets = _members(future_size, n_series, embedding)
    fleet = FleetLSTMNet.from_models(nets, kernels="torch")
    x = _inputs(nets[0].width, n_series)
    out = fleet(x, every_step=every_step)  # (K, B, h) or (K, B, T, h)
    expected = torch.stack([net(x[k], every_step=every_step) for k, net in enumerate(nets)])
    assert out.shape == ((K, B, T, h) if every_step else (K, B, h))
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)

    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    (out * weights).sum().backward()
    (expected * weights).sum().backward()
    names = dict(fleet.named_members())
    for name, stacked in names.items():
        member_grads = torch.stack([net.get_parameter(name).grad for net in nets])
        torch.testing.assert_close(stacked.grad, member_grads, rtol=0, atol=1e-12, msg=name)
    assert len(names) == len(list(nets[0].parameters()))  # every parameter of a member is in the fleet


def test_triton_kernels_compute_what_the_members_compute():
    """The one-launch Triton layers (the interpreter on a CPU) behind the same module, values and gradients."""
    pytest.importorskip("triton")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    nets = [net.to(device) for net in _members(future_size=h, n_series=4, embedding=3)]
    fleet = FleetLSTMNet.from_models(nets, kernels="triton")
    x = _inputs(nets[0].width, 4).to(device)
    out = fleet(x, every_step=True)  # (K, B, T, h)
    expected = torch.stack([net(x[k], every_step=True) for k, net in enumerate(nets)])
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-12)
    out.square().sum().backward()
    expected.square().sum().backward()
    for name, stacked in fleet.named_members():
        member_grads = torch.stack([net.get_parameter(name).grad for net in nets])
        torch.testing.assert_close(stacked.grad, member_grads, rtol=1e-10, atol=1e-12, msg=name)


def test_from_models_and_unstack_into_carry_every_weight_both_ways():
    nets = _members(future_size=h, n_series=4, embedding=2)
    fleet = FleetLSTMNet.from_models(nets, kernels="torch")
    for name, stacked in fleet.named_members():
        for k, net in enumerate(nets):
            assert torch.equal(stacked[k], net.get_parameter(name)), name
    with torch.no_grad():
        for p in fleet.parameters():
            p.add_(torch.arange(K, dtype=p.dtype).view(-1, *(1,) * (p.ndim - 1)) + 1)
    others = _members(future_size=h, n_series=4, embedding=2)
    fleet.unstack_into(others)
    for name, stacked in fleet.named_members():
        for k, net in enumerate(others):
            assert torch.equal(net.get_parameter(name), stacked[k]), name


def test_dropout_masks_are_each_models_own():
    nets = _members(dropout=(0.5, 0.5))
    for net in nets[1:]:
        net.load_state_dict(nets[0].state_dict())  # K identical models on identical inputs
    fleet = FleetLSTMNet.from_models(nets, kernels="torch")
    x = _inputs(P)[:1].expand(K, -1, -1, -1)  # (K, B, T, P): the same windows for every model
    fleet.eval()
    evaluated = fleet(x)
    assert torch.equal(evaluated[0], evaluated[1]) and torch.equal(evaluated[0], evaluated[2])
    fleet.train()
    torch.manual_seed(0)
    trained = fleet(x)
    assert not torch.equal(trained[0], trained[1]) and not torch.equal(trained[1], trained[2])


def test_models_of_different_shapes_are_refused_by_name():
    nets = _members()
    other = LSTMNet(LSTMConfig(layers=(6, 4), dropout=(0.0, 0.0)), P, h).double()
    with pytest.raises(ValueError, match=r"models\[1\] has config .*layers=\(6, 4\).* but models\[0\] has "
                                         r".*layers=\(6, 5\).*: a fleet stacks models of one shape"):
        FleetLSTMNet.from_models([nets[0], other])
    with pytest.raises(ValueError, match=r"models\[2\] has horizon 2 but models\[0\] has 4"):
        FleetLSTMNet.from_models([*nets[:2], LSTMNet(nets[0].config, P, 2).double()])
    with pytest.raises(ValueError, match=r"models\[1\] has dtype torch.float32 but models\[0\] has torch.float64"):
        FleetLSTMNet.from_models([nets[0], nets[1].float()])
    with pytest.raises(ValueError, match=r"models\[0\] is a Linear: a fleet stacks LSTMNets"):
        FleetLSTMNet.from_models([torch.nn.Linear(2, 2)])
    fleet = FleetLSTMNet.from_models(_members(), kernels="torch")
    with pytest.raises(ValueError, match=r"x must have shape \(3, B, T, 2\), got \(2, 5, 7, 2\)"):
        fleet(torch.zeros(2, B, T, P, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"models \(2\) must hold one LSTMNet per fleet member \(3\)"):
        fleet.unstack_into(_members()[:2])
    with pytest.raises(ValueError, match=r"models have horizon 2 but this fleet 4"):
        fleet.unstack_into([LSTMNet(nets[0].config, P, 2).double() for _ in range(K)])
