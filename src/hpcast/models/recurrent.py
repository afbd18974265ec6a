r"""What the recurrent networks share: the input layout, a symbol embedding, the head over the horizon.

An input row ``x[b, t]`` holds, in this order:

- ``P`` past-observed values at step t (the target first, then covariates), the recurrent layers' input;
- ``Q = h·K`` known-future features of the ``h`` steps after t (K calendar features each): only the head
  sees them, so step t's forecast may use the calendar of the dates it forecasts, and nothing else later;
- one series id (a float holding an integer) when the net embeds symbols (``n_series > 0`` and
  ``config.embedding > 0``): its learned vector joins the past values at every step.

The head maps ``[hidden_t, future_t]`` to ``h·p`` outputs, ``p`` numbers per step as the configured output
head (`hpcast.models.outputs`: a point, or a distribution's parameters) reads them. With ``Q = 0``, no
embedding and a point head this is the plain stacked network with a linear head, numerically as before.

Legend: B batch, T time steps (window), P past features, K known-future features per step, Q = h·K,
E embedding size, H hidden size of the last layer, h horizon, p the head's outputs per step.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from hpcast.models.outputs import make_output

__all__ = ["RecurrentNet"]


class RecurrentNet(nn.Module):
    """Base of `LSTMNet` and `GRUNet`: ``(B, T, P + Q [+ 1]) -> (B, h·p)`` (module docstring).

    A subclass builds its layers in ``_build_layers(sizes)`` (sizes ``(P + E, H_1, ..., H_L)``) and may
    initialise them in ``_init_layers()``; `recurrent` names them.
    """

    def __init__(self, config: Any, input_size: int, horizon: int, kernels: str = "torch", *,
                 future_size: int = 0, n_series: int = 0) -> None:
        super().__init__()
        self.kernels = kernels  # which LSTM implementation `_build_layers` may pick (lstm only)
        if input_size < 1 or horizon < 1 or future_size < 0 or n_series < 0:
            raise ValueError(f"input_size ({input_size}) and horizon ({horizon}) must be >= 1, future_size "
                             f"({future_size}) and n_series ({n_series}) >= 0")
        self.config, self.input_size, self.horizon = config, input_size, horizon
        self.future_size = future_size
        embedding = getattr(config, "embedding", 0) if n_series > 0 else 0
        self.n_series, self.embedding_size = (n_series, embedding) if embedding > 0 else (0, 0)
        self._build_layers((input_size + self.embedding_size, *config.layers))
        self.dropouts = nn.ModuleList(nn.Dropout(rate) for rate in config.dropout)
        # the head (`hpcast.models.outputs`) sizes the last layer: p outputs per step
        self.output = make_output(getattr(config, "distribution", "point"), getattr(config, "quantiles", ()))
        self.head = nn.Linear(config.layers[-1] + future_size, horizon * self.output.width)
        if config.init == "keras":
            self._init_layers()
            with torch.no_grad():
                nn.init.xavier_uniform_(self.head.weight)  # Keras' Dense default
                self.head.bias.zero_()
        self.symbols = nn.Embedding(self.n_series, self.embedding_size) if self.n_series else None

    @property
    def width(self) -> int:
        """Columns of an input row: ``P + Q`` (+ 1 for the series id)."""
        return self.input_size + self.future_size + (1 if self.symbols is not None else 0)

    @property
    def recurrent(self) -> nn.ModuleList:
        raise NotImplementedError

    def _build_layers(self, sizes: tuple[int, ...]) -> None:
        raise NotImplementedError

    def _init_layers(self) -> None:
        """Keras-default initialisation of the layers (the head's is shared)."""

    def forward(self, x: torch.Tensor, every_step: bool = False) -> torch.Tensor:
        """``(B, T, width) -> (B, h·p)`` from the last step; ``every_step``: ``(B, T, h·p)``, the head at each
        step (multi-target training; step t has seen ``x[:, :t+1]`` only). ``p`` is the head's width (1 for
        a point head); `output` reads the raw numbers."""
        if x.ndim != 3 or x.shape[-1] != self.width:
            raise ValueError(f"x must have shape (B, T, {self.width}), got {tuple(x.shape)}")
        P, Q = self.input_size, self.future_size
        past = x[..., :P]  # (B, T, P)
        if self.symbols is not None:
            ids = x[:, 0, P + Q].long()  # (B,): one series per window
            vector = self.symbols(ids)[:, None, :].expand(-1, x.shape[1], -1)  # (B, T, E)
            past = torch.cat([past, vector.to(past.dtype)], dim=-1)  # (B, T, P + E)
        for layer, dropout in zip(self.recurrent, self.dropouts, strict=True):
            past, _ = layer(past)  # (B, T, H_l)
            past = dropout(past)
        hidden = past if every_step else past[:, -1:, :]  # (B, T or 1, H)
        if Q:
            future = x[..., P:P + Q] if every_step else x[:, -1:, P:P + Q]  # (B, T or 1, Q)
            hidden = torch.cat([hidden, future.to(hidden.dtype)], dim=-1)  # (B, T or 1, H + Q)
        out = self.head(hidden)  # (B, T or 1, h·p)
        return out if every_step else out[:, 0, :]
