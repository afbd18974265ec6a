"""GRUNet against an explicit float64 step loop of the GRU equations and against a stacked ``nn.GRU``."""

import numpy as np
import pytest
import torch
from torch import nn

from hpcast.forecast.gru import GRUConfig
from hpcast.models.gru import GRUNet


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _numpy_gru(x, W_ih, W_hh, b_ih, b_hh):
    """Reference: the GRU equations step by step (gate order r, z, n), x (B, T, F)."""
    B, T, _ = x.shape
    H = W_hh.shape[1]
    h, out = np.zeros((B, H)), []
    for t in range(T):
        gi = x[:, t] @ W_ih.T + b_ih  # (B, 3H)
        gh = h @ W_hh.T + b_hh  # (B, 3H)
        r = _sigmoid(gi[:, :H] + gh[:, :H])
        z = _sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
        n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
        h = (1 - z) * n + z * h
        out.append(h)
    return np.stack(out, axis=1)  # (B, T, H)


def _with_random_biases(net):
    """Keras init zeroes the biases; random ones make the reference check every term."""
    with torch.no_grad():
        for gru in net.grus:
            gru.bias_ih_l0.normal_()
            gru.bias_hh_l0.normal_()
    return net


def test_forward_matches_the_gru_equations_in_float64():
    torch.manual_seed(0)
    net = GRUNet(GRUConfig(layers=(7, 5), dropout=(0.3, 0.2)), input_size=3, horizon=4).double().eval()
    _with_random_biases(net)
    x = torch.randn(6, 9, 3, dtype=torch.float64)  # (B, T, F)
    expected = x.numpy()
    for gru in net.grus:
        p = {k: v.detach().numpy() for k, v in gru.named_parameters()}
        expected = _numpy_gru(expected, p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"], p["bias_hh_l0"])
    expected = expected[:, -1] @ net.head.weight.detach().numpy().T + net.head.bias.detach().numpy()
    np.testing.assert_allclose(net(x).detach().numpy(), expected, rtol=1e-10, atol=1e-12)


def test_forward_matches_a_stacked_torch_gru_with_the_same_weights():
    torch.manual_seed(1)
    net = GRUNet(GRUConfig(layers=(5, 5), dropout=(0.0, 0.0)), input_size=2, horizon=3).double().eval()
    _with_random_biases(net)
    stacked = nn.GRU(2, 5, num_layers=2, batch_first=True).double()
    with torch.no_grad():
        for layer, gru in enumerate(net.grus):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(stacked, f"{name}_l{layer}").copy_(getattr(gru, f"{name}_l0"))
    x = torch.randn(4, 11, 2, dtype=torch.float64)
    hidden, _ = stacked(x)  # (B, T, H)
    torch.testing.assert_close(net(x), net.head(hidden[:, -1]), rtol=1e-12, atol=1e-12)


def test_keras_initialisation():
    torch.manual_seed(1)
    net = GRUNet(GRUConfig(layers=(16,), dropout=(0.0,)), input_size=4, horizon=2)
    gru, H = net.grus[0], 16
    assert gru.bias_ih_l0.abs().sum() == 0 and gru.bias_hh_l0.abs().sum() == 0 and net.head.bias.abs().sum() == 0
    recurrent = gru.weight_hh_l0.detach()  # (3H, H): orthonormal columns, one draw for all gates
    torch.testing.assert_close(recurrent.T @ recurrent, torch.eye(H), atol=1e-5, rtol=0)
    limit = np.sqrt(6 / (4 + 3 * H))  # Glorot bound of the (3H, F) input matrix
    assert limit * 0.8 < gru.weight_ih_l0.abs().max() <= limit + 1e-7


def test_every_step_output_is_the_head_at_each_step_and_causal():
    torch.manual_seed(0)
    net = GRUNet(GRUConfig(layers=(6, 5), dropout=(0.3, 0.3)), input_size=1, horizon=3).eval()
    x = torch.randn(4, 9, 1)
    steps = net(x, every_step=True)  # (B, T, h)
    assert steps.shape == (4, 9, 3)
    assert torch.allclose(steps[:, -1], net(x), atol=1e-6)
    for t in (0, 4):  # step t depends on x[:, :t+1] only
        assert torch.allclose(steps[:, t], net(x[:, :t + 1]), atol=1e-6)


def test_input_width_errors_say_expected_and_actual():
    net = GRUNet(GRUConfig(layers=(4,), dropout=(0.0,)), input_size=2, horizon=1)
    with pytest.raises(ValueError, match=r"x must have shape \(B, T, 2\), got \(3, 5, 1\)"):
        net(torch.zeros(3, 5, 1))
    wide = GRUNet(GRUConfig(layers=(4,), dropout=(0.0,), embedding=2), input_size=2, horizon=3, future_size=6,
                  n_series=3)
    with pytest.raises(ValueError, match=r"x must have shape \(B, T, 9\), got \(3, 5\)"):  # P + Q + the series id
        wide(torch.zeros(3, 5))
    with pytest.raises(ValueError, match=r"input_size \(0\) and horizon \(1\) must be >= 1"):
        GRUNet(GRUConfig(), input_size=0, horizon=1)
