"""The spectrogram CNN: shapes, both heads, and that it learns a frequency-dependent target."""

from __future__ import annotations

import pytest
import torch

from hpcast.models.spectro_cnn import SpectroCNN


@pytest.mark.parametrize("lstm_hidden", [0, 8])
def test_shapes_and_gradients(lstm_hidden: int) -> None:
    net = SpectroCNN(33, 25, lstm_hidden=lstm_hidden)
    x = torch.randn(4, 33, 25, requires_grad=True)
    out = net(x)
    assert out.shape == (4, 1)
    out.sum().backward()
    assert x.grad is not None and all(p.grad is not None for p in net.parameters())


def test_it_learns_which_band_carries_energy() -> None:
    torch.manual_seed(0)
    x = torch.randn(256, 17, 9) * 0.1
    label = torch.randint(0, 2, (256,)).float()
    x[label == 1, 12:15] += 2.0  # class 1: energy in high bins
    net = SpectroCNN(17, 9, channels=(4, 8), dropout=0.0)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(60):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(net(x)[:, 0], label * 2 - 1)
        loss.backward()
        optimizer.step()
    assert ((net(x)[:, 0] > 0).float() == label).float().mean() > 0.95
    with pytest.raises(ValueError, match="too small"):
        SpectroCNN(3, 5)
