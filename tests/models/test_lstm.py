"""LSTMNet against an independent NumPy reference of the LSTM equations, its initialisation, and the input
layout beyond the past values: the known-future block reaches only the head, the series id an embedding."""

import numpy as np
import pytest
import torch

from hpcast.forecast.lstm import LSTMConfig
from hpcast.models.lstm import LSTMNet


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _numpy_lstm(x, W_ih, W_hh, b_ih, b_hh):
    """Reference: the LSTM equations step by step (gate order i, f, g, o), x (B, T, F)."""
    B, T, _ = x.shape
    H = W_hh.shape[1]
    h, c, out = np.zeros((B, H)), np.zeros((B, H)), []
    for t in range(T):
        gates = x[:, t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh  # (B, 4H)
        i, f, g, o = (gates[:, k * H:(k + 1) * H] for k in range(4))
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        out.append(h)
    return np.stack(out, axis=1)  # (B, T, H)


def test_forward_matches_the_numpy_reference_in_float64():
    torch.manual_seed(0)
    net = LSTMNet(LSTMConfig(layers=(7, 5), dropout=(0.3, 0.2)), input_size=3, horizon=4).double().eval()
    x = torch.randn(6, 9, 3, dtype=torch.float64)  # (B, T, F)
    expected = x.numpy()
    for lstm in net.lstms:
        p = {k: v.detach().numpy() for k, v in lstm.named_parameters()}
        expected = _numpy_lstm(expected, p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"], p["bias_hh_l0"])
    expected = expected[:, -1] @ net.head.weight.detach().numpy().T + net.head.bias.detach().numpy()
    np.testing.assert_allclose(net(x).detach().numpy(), expected, rtol=1e-10, atol=1e-12)


def test_keras_initialisation():
    torch.manual_seed(1)
    net = LSTMNet(LSTMConfig(layers=(16,), dropout=(0.0,)), input_size=4, horizon=2)
    lstm = net.lstms[0]
    H = 16
    bias = lstm.bias_ih_l0.detach()
    assert torch.equal(bias[H:2 * H], torch.ones(H)) and bias[:H].abs().sum() == 0 and bias[2 * H:].abs().sum() == 0
    assert lstm.bias_hh_l0.abs().sum() == 0
    recurrent = lstm.weight_hh_l0.detach()  # (4H, H): Keras' (H, 4H) kernel has orthonormal rows
    torch.testing.assert_close(recurrent.T @ recurrent, torch.eye(H), atol=1e-5, rtol=0)
    gate_norms = torch.linalg.matrix_norm(recurrent.reshape(4, H, H), ord=2)
    assert (gate_norms < 0.95).all()  # one draw over all gates, not an orthogonal block per gate
    for weight, fan in ((lstm.weight_ih_l0, 4 + 4 * H), (net.head.weight, H + 2)):
        limit = np.sqrt(6 / fan)  # Glorot bound
        assert limit * 0.8 < weight.abs().max() <= limit + 1e-7
    assert net.head.bias.abs().sum() == 0


def test_torch_initialisation_is_kept_when_asked():
    torch.manual_seed(1)
    net = LSTMNet(LSTMConfig(layers=(16,), dropout=(0.0,), init="torch"), input_size=4, horizon=2)
    assert net.lstms[0].bias_ih_l0[16:32].abs().max() < 0.25  # uniform(-1/4, 1/4), not 1


def test_dropout_is_active_in_training_only():
    torch.manual_seed(0)
    net = LSTMNet(LSTMConfig(layers=(8,), dropout=(0.5,)), input_size=1, horizon=1)
    x = torch.randn(4, 5, 1)
    net.train()
    assert not torch.equal(net(x), net(x))
    net.eval()
    assert torch.equal(net(x), net(x))


def test_shape_errors_say_expected_and_actual():
    net = LSTMNet(LSTMConfig(layers=(4,), dropout=(0.0,)), input_size=2, horizon=1)
    with pytest.raises(ValueError, match=r"x must have shape \(B, T, 2\), got \(3, 5, 1\)"):
        net(torch.zeros(3, 5, 1))


def test_every_step_output_is_the_head_at_each_step_and_causal():
    torch.manual_seed(0)
    net = LSTMNet(LSTMConfig(layers=(6, 5), dropout=(0.3, 0.3)), input_size=1, horizon=3).eval()
    x = torch.randn(4, 9, 1)
    steps = net(x, every_step=True)  # (B, T, h)
    assert steps.shape == (4, 9, 3)
    assert torch.allclose(steps[:, -1], net(x), atol=1e-6)  # the last step is the ordinary forecast
    for t in (0, 4):  # step t depends on x[:, :t+1] only: a prefix gives the same outputs
        assert torch.allclose(steps[:, t], net(x[:, :t + 1]), atol=1e-6)


def _past(net, x):
    """The recurrent layers' output at the last step for inputs that are past values only ``(B, T, P')``."""
    out = x.numpy()
    for lstm in net.lstms:
        p = {k: v.detach().numpy() for k, v in lstm.named_parameters()}
        out = _numpy_lstm(out, p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"], p["bias_hh_l0"])
    return out[:, -1]  # (B, H)


def test_the_known_future_block_reaches_only_the_head():
    """x = [P past | Q = h·K future]: the layers never read the future block, the head reads the last step's."""
    torch.manual_seed(0)
    P, h, K = 2, 3, 2
    net = LSTMNet(LSTMConfig(layers=(6, 5), dropout=(0.0, 0.0)), input_size=P, horizon=h, future_size=h * K)
    net = net.double().eval()
    assert net.width == P + h * K and net.head.in_features == 5 + h * K
    x = torch.randn(4, 7, P + h * K, dtype=torch.float64)  # (B, T, P + Q)
    out = net(x)
    earlier = x.clone()
    earlier[:, :-1, P:] = torch.randn(4, 6, h * K, dtype=torch.float64)  # the future block of every earlier step
    assert torch.equal(net(earlier), out)
    last = x.clone()
    last[:, -1, P:] += 1.0
    assert not torch.allclose(net(last), out)  # the last step's block is the forecast dates' calendar: it counts
    hidden = _past(net, x[..., :P])
    expected = np.concatenate([hidden, x[:, -1, P:].numpy()], axis=1) @ net.head.weight.detach().numpy().T
    np.testing.assert_allclose(out.detach().numpy(), expected + net.head.bias.detach().numpy(), rtol=1e-10, atol=1e-12)
    steps = net(earlier, every_step=True)  # (B, T, h): step t's head reads step t's block
    assert steps.shape == (4, 7, h) and torch.allclose(steps[:, -1], out, atol=1e-12)
    assert not torch.allclose(steps[:, :-1], net(x, every_step=True)[:, :-1])


def test_the_embedding_gives_each_series_its_own_output():
    """x = [P past | series id]: the id picks a learned vector that joins the past values at every step."""
    torch.manual_seed(0)
    net = LSTMNet(LSTMConfig(layers=(5,), dropout=(0.0,), embedding=3), input_size=1, horizon=2, n_series=4)
    net = net.double().eval()
    assert net.width == 2 and net.symbols.weight.shape == (4, 3)
    past = torch.randn(1, 6, 1, dtype=torch.float64).expand(4, -1, -1)  # one window, four series
    ids = torch.arange(4, dtype=torch.float64)[:, None, None].expand(-1, 6, 1)
    out = net(torch.cat([past, ids], dim=-1))  # (4, h)
    assert len({tuple(row.tolist()) for row in out}) == 4  # the same past values, four different forecasts
    vectors = net.symbols.weight.detach()[:, None, :].expand(-1, 6, -1)  # (4, T, E)
    hidden = _past(net, torch.cat([past, vectors], dim=-1))
    expected = hidden @ net.head.weight.detach().numpy().T + net.head.bias.detach().numpy()
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-10, atol=1e-12)
    plain = LSTMNet(LSTMConfig(layers=(5,), dropout=(0.0,)), input_size=1, horizon=2, n_series=4)
    assert plain.symbols is None and plain.width == 1  # embedding 0: no id column, whatever n_series says
    with pytest.raises(ValueError, match=r"x must have shape \(B, T, 2\), got \(4, 6, 1\)"):
        net(past)
