r"""K LSTM nets of one shape as one module: every parameter gains a leading axis K, one forward runs all K.

Hyper-parameter searches, seed ensembles and per-series models train many small LSTMs of the same shape;
each alone leaves a GPU mostly idle (a 64-unit layer is a few hundred threads). `FleetLSTMNet` stacks
them, so each layer is one `hpcast.kernels.fleet.lstm_fleet` call for all K models and the head one
batched matrix product. Member k computes exactly what its own `LSTMNet` computes (same equations, same
input layout: `hpcast.models.recurrent`); the models share nothing but the launches.

Parameters, per LSTM layer l: ``w_ih (K, 4H, I)``, ``w_hh (K, 4H, H)``, ``b_ih``, ``b_hh (K, 4H)``; the head
``head_weight (K, h, H + Q)``, ``head_bias (K, h)``; the symbol embedding ``symbols (K, S, E)``.

Legend: K models, B batch, T time steps, P past features, Q known-future features, S series, E embedding
size, I input size of a layer, H hidden size of a layer (of the last one in the head), h horizon.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hpcast.kernels.dispatch import check_kernels
from hpcast.models.lstm import LSTMNet

__all__ = ["FleetLSTMNet"]

_GATES = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")  # nn.LSTM's names, in lstm_fleet's order


class _FleetLayer(nn.Module):
    """One LSTM layer of each of K models: ``w_ih (K, 4H, I)``, ``w_hh (K, 4H, H)``, ``b_ih``, ``b_hh (K, 4H)``."""

    def __init__(self, k: int, input_size: int, hidden_size: int, **like: Any) -> None:
        super().__init__()
        H = hidden_size
        self.w_ih = nn.Parameter(torch.zeros(k, 4 * H, input_size, **like))
        self.w_hh = nn.Parameter(torch.zeros(k, 4 * H, H, **like))
        self.b_ih = nn.Parameter(torch.zeros(k, 4 * H, **like))
        self.b_hh = nn.Parameter(torch.zeros(k, 4 * H, **like))

    def stacked(self) -> tuple[nn.Parameter, ...]:
        return self.w_ih, self.w_hh, self.b_ih, self.b_hh


def _shape(model: LSTMNet) -> dict[str, Any]:
    return {"config": model.config, "input_size": model.input_size, "horizon": model.horizon,
            "future_size": model.future_size, "n_series": model.n_series, "embedding_size": model.embedding_size,
            "dtype": model.head.weight.dtype, "device": model.head.weight.device}


def _check_one_shape(models: Sequence[nn.Module]) -> None:
    """Raise a ValueError naming the first member that differs from ``models[0]`` in type or shape."""
    if not models:
        raise ValueError("models (0) must hold at least one LSTMNet")
    for i, model in enumerate(models):
        if not isinstance(model, LSTMNet):
            raise ValueError(f"models[{i}] is a {type(model).__name__}: a fleet stacks LSTMNets")
    reference = _shape(models[0])
    for i, model in enumerate(models[1:], start=1):
        for name, value in _shape(model).items():
            if value != reference[name]:
                raise ValueError(f"models[{i}] has {name} {value!r} but models[0] has {reference[name]!r}: a fleet "
                                 "stacks models of one shape (config, sizes, dtype and device)")


class FleetLSTMNet(nn.Module):
    """K `LSTMNet`\\ s of one shape, stacked: ``(K, B, T, width) -> (K, B, h)`` (module docstring).

    Build it with `from_models`, which copies each member's weights in (so member k starts exactly where
    its own model does); `unstack_into` copies them back. The constructor alone gives zero weights.

    Args:
        k: K, the number of models.
        config: the members' `hpcast.forecast.lstm.LSTMConfig` (layers, dropout, embedding).
        input_size, horizon, future_size, n_series: as in `LSTMNet`.
        kernels: ``torch``, ``auto`` or ``triton``, handed to `hpcast.kernels.fleet.lstm_fleet`.

    Example:
        >>> from hpcast.forecast.lstm import LSTMConfig
        >>> nets = [LSTMNet(LSTMConfig(layers=(8,), dropout=(0.0,)), input_size=1, horizon=3) for _ in range(4)]
        >>> fleet = FleetLSTMNet.from_models(nets, kernels="torch")
        >>> fleet(torch.zeros(4, 2, 5, 1)).shape
        torch.Size([4, 2, 3])
    """

    def __init__(self, k: int, config: Any, input_size: int, horizon: int, kernels: str = "auto", *,
                 future_size: int = 0, n_series: int = 0, dtype: torch.dtype | None = None,
                 device: torch.device | str | None = None) -> None:
        super().__init__()
        check_kernels(kernels)
        if k < 1:
            raise ValueError(f"k ({k}) must be >= 1")
        like: dict[str, Any] = {"dtype": dtype, "device": device}
        self.k, self.config, self.kernels = k, config, kernels
        self.input_size, self.horizon, self.future_size = input_size, horizon, future_size
        embedding = getattr(config, "embedding", 0) if n_series > 0 else 0
        self.n_series, self.embedding_size = (n_series, embedding) if embedding > 0 else (0, 0)
        sizes = (input_size + self.embedding_size, *config.layers)
        self.layers = nn.ModuleList(_FleetLayer(k, sizes[i], sizes[i + 1], **like) for i in range(len(sizes) - 1))
        self.dropout = tuple(config.dropout)
        self.head_weight = nn.Parameter(torch.zeros(k, horizon, config.layers[-1] + future_size, **like))
        self.head_bias = nn.Parameter(torch.zeros(k, horizon, **like))
        self.symbols = (nn.Parameter(torch.zeros(k, self.n_series, self.embedding_size, **like))
                        if self.n_series else None)

    @classmethod
    def from_models(cls, models: Sequence[LSTMNet], kernels: str = "auto") -> FleetLSTMNet:
        """The fleet of ``models`` (LSTMNets of one shape; a ValueError names the first that differs)."""
        _check_one_shape(models)
        first = models[0]
        weight = first.head.weight
        fleet = cls(len(models), first.config, first.input_size, first.horizon, kernels,
                    future_size=first.future_size, n_series=first.n_series, dtype=weight.dtype, device=weight.device)
        with torch.no_grad():
            for name, stacked in fleet.named_members():
                stacked.copy_(torch.stack([model.get_parameter(name) for model in models]))
        return fleet

    def unstack_into(self, models: Sequence[LSTMNet]) -> None:
        """Copy member k's weights into ``models[k]`` (LSTMNets of this fleet's shape)."""
        _check_one_shape(models)
        if len(models) != self.k:
            raise ValueError(f"models ({len(models)}) must hold one LSTMNet per fleet member ({self.k})")
        mine = {name: getattr(self, name) for name in ("config", "input_size", "horizon", "future_size", "n_series")}
        for name, value in mine.items():
            if getattr(models[0], name) != value:
                raise ValueError(f"models have {name} {getattr(models[0], name)!r} but this fleet {value!r}")
        with torch.no_grad():
            for name, stacked in self.named_members():
                for k, model in enumerate(models):
                    model.get_parameter(name).copy_(stacked[k])

    def named_members(self) -> list[tuple[str, nn.Parameter]]:
        """Each stacked parameter with its counterpart's name in an `LSTMNet` (``lstms.0.weight_ih_l0``, ...)."""
        pairs = [(f"lstms.{i}.{gate}", tensor) for i, layer in enumerate(self.layers)
                 for gate, tensor in zip(_GATES, layer.stacked(), strict=True)]
        pairs += [("head.weight", self.head_weight), ("head.bias", self.head_bias)]
        return pairs + ([("symbols.weight", self.symbols)] if self.symbols is not None else [])

    @property
    def width(self) -> int:
        """Columns of an input row: ``P + Q`` (+ 1 for the series id)."""
        return self.input_size + self.future_size + (1 if self.symbols is not None else 0)

    def forward(self, x: torch.Tensor, every_step: bool = False) -> torch.Tensor:
        """``(K, B, T, width) -> (K, B, h)`` from the last step; ``every_step``: ``(K, B, T, h)``, the head at
        each step. Dropout draws one mask over all K models, so each model's is its own."""
        if x.ndim != 4 or x.shape[0] != self.k or x.shape[-1] != self.width:
            raise ValueError(f"x must have shape ({self.k}, B, T, {self.width}), got {tuple(x.shape)}")
        from hpcast.kernels.fleet import lstm_fleet  # imports Triton where installed

        K, B, T, _ = x.shape
        P, Q = self.input_size, self.future_size
        past = x[..., :P]  # (K, B, T, P)
        if self.symbols is not None:
            ids = x[:, :, 0, P + Q].long()  # (K, B): one series per window
            models = torch.arange(K, device=x.device)[:, None]  # (K, 1)
            vector = self.symbols[models, ids][:, :, None, :].expand(-1, -1, T, -1)  # (K, B, T, E)
            past = torch.cat([past, vector.to(past.dtype)], dim=-1)  # (K, B, T, P + E)
        for layer, rate in zip(self.layers, self.dropout, strict=True):
            past, _ = lstm_fleet(past, *layer.stacked(), kernels=self.kernels)  # (K, B, T, H_l)
            past = F.dropout(past, rate, self.training)
        hidden = past if every_step else past[:, :, -1:, :]  # (K, B, T or 1, H)
        if Q:
            future = x[..., P:P + Q] if every_step else x[:, :, -1:, P:P + Q]  # (K, B, T or 1, Q)
            hidden = torch.cat([hidden, future.to(hidden.dtype)], dim=-1)  # (K, B, T or 1, H + Q)
        steps = hidden.shape[2]
        flat = hidden.reshape(K, B * steps, hidden.shape[-1])  # (K, B·T', H + Q)
        out = torch.baddbmm(self.head_bias[:, None, :], flat, self.head_weight.transpose(1, 2))  # (K, B·T', h)
        out = out.reshape(K, B, steps, self.horizon)  # (K, B, T or 1, h)
        return out if every_step else out[:, :, 0, :]
