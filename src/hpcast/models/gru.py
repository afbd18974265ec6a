r"""Stacked GRU with per-layer hidden sizes and dropout, and a linear head for direct multi-step output.

Each layer runs a gated recurrent unit over time (PyTorch's gate order r, z, n):

    r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)      z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))
    h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

then dropout; the head and the input layout are `hpcast.models.recurrent`'s. Three gates to the LSTM's
four: about 3/4 of its parameters and time per layer. Keras-default initialisation: Glorot-uniform input
weights, an orthogonal recurrent matrix over all gates, zero biases.

Legend: B batch, T time steps (window), F input columns, H hidden size of a layer, h horizon.
"""

from __future__ import annotations

import torch
from torch import nn

from hpcast.models.recurrent import RecurrentNet

__all__ = ["GRUNet"]


class GRUNet(RecurrentNet):
    """GRU stack + linear head: ``(B, T, F) -> (B, h)``; arguments as `hpcast.models.lstm.LSTMNet`'s
    (``kernels`` is accepted for the same signature: the GRU always runs on ``nn.GRU``).

    Example:
        >>> from hpcast.forecast.gru import GRUConfig
        >>> net = GRUNet(GRUConfig(layers=(8,), dropout=(0.0,)), input_size=1, horizon=3)
        >>> net(torch.zeros(2, 5, 1)).shape
        torch.Size([2, 3])
    """

    @property
    def recurrent(self) -> nn.ModuleList:
        return self.grus

    def _build_layers(self, sizes: tuple[int, ...]) -> None:
        self.grus = nn.ModuleList(nn.GRU(sizes[k], sizes[k + 1], batch_first=True) for k in range(len(sizes) - 1))

    def _init_layers(self) -> None:
        with torch.no_grad():
            for gru in self.grus:
                nn.init.xavier_uniform_(gru.weight_ih_l0)  # (3H, F)
                nn.init.orthogonal_(gru.weight_hh_l0)  # (3H, H): one draw for all gates
                gru.bias_ih_l0.zero_()
                gru.bias_hh_l0.zero_()
