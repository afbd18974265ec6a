"""The rules every training loop follows, defined once: the loss table, the learning-rate schedule, validation,
early stopping, and the record a run keeps. `hpcast.train.trainer` trains one model by them and
`hpcast.train.fleet` K models at once, so a fused fleet computes what K single runs do.

Legend: B batch, T window, F features, h horizon, K models.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hpcast.config import TrainConfig
from hpcast.kernels.dispatch import mse_loss
from hpcast.train.batches import Batches

__all__ = ["ADAM_BETAS", "ADAM_EPS", "LOSSES", "EarlyStopping", "EpochRecord", "LossFn", "TrainResult",
           "loss_function", "one_cycle", "require_windows", "schedule_at", "training_loss", "validation_batch",
           "validation_loss"]

LOSSES = {"mse": F.mse_loss, "mae": F.l1_loss, "huber": F.huber_loss}  # by name; ``reduction=`` picks the reduction
ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam's defaults; one-cycle moves beta1
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (pred, target) -> loss


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    train_loss: float
    val_loss: float
    seconds: float  # wall time of the epoch: data + compute + sync + validation
    sync_seconds: float = 0.0  # explicit averaging/synchronisation (multi-worker strategies)
    data_seconds: float = 0.0  # gathering batches from the window views
    compute_seconds: float = 0.0  # forward, backward (with DDP's all-reduce inside), clipping, optimizer
    samples: int = 0  # training windows processed by all workers together
    lr: float = 0.0  # learning rate at the end of the epoch


@dataclass
class TrainResult:
    history: list[EpochRecord] = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float = float("inf")
    stopped_early: bool = False
    val_crps: float | None = None  # the kept weights' CRPS on the validation windows (every head has one)
    recipe: dict[str, Any] = field(default_factory=dict)  # what the levers resolved to (see `resolve_recipe`)

    @property
    def seconds_per_epoch(self) -> float:
        return sum(r.seconds for r in self.history) / max(len(self.history), 1)

    def summary(self) -> dict[str, Any]:
        """JSON-ready outcome with every epoch's record under ``epochs``, as ``training`` in a run's
        ``metrics.json`` and in its model's manifest (older manifests name the records ``history``; loading
        never reads them)."""
        return {"best_epoch": self.best_epoch, "best_val_loss": self.best_val_loss, "epochs_run": len(self.history),
                "stopped_early": self.stopped_early, "val_crps": self.val_crps,
                "seconds_per_epoch": self.seconds_per_epoch,
                "recipe": self.recipe, "epochs": [vars(r) for r in self.history]}


def loss_function(name: str, kernels: str = "torch", reduction: str = "mean") -> LossFn:
    """The training loss ``name`` of `LOSSES` as ``loss(pred, target)``: the mean over all elements, or with
    ``reduction="none"`` one per element (a fleet's per-model means); a mean MSE runs through the Triton
    kernel where ``kernels`` resolves to it.

    Example:
        >>> float(loss_function("mae")(torch.zeros(2), torch.tensor([1.0, 3.0])))
        2.0
    """
    if name not in LOSSES:
        raise ValueError(f"loss ({name!r}) must be one of {sorted(LOSSES)}")
    if name == "mse" and kernels != "torch" and reduction == "mean":
        return functools.partial(mse_loss, kernels=kernels)
    return functools.partial(LOSSES[name], reduction=reduction)


def training_loss(model: nn.Module, config: TrainConfig) -> LossFn:
    """The loss that trains ``model``: its distribution head's (``model.output``, `hpcast.models.outputs`: a
    negative log-likelihood or the pinball loss, the mean over elements), else ``config.loss`` from `LOSSES`."""
    head = getattr(model, "output", None)
    if head is not None and head.distribution:
        return lambda pred, target: head.loss(pred, target).mean()
    return loss_function(config.loss, config.kernels)


def one_cycle(step: int, total: int, peak: float) -> tuple[float, float]:
    """Learning rate and Adam's beta1 at ``step`` (0-based) of ``total`` under the one-cycle policy.

    The rate climbs from ``peak``/25 to ``peak`` over the first 30% of the steps, then falls to
    ``peak``/2.5e5; beta1 moves the other way between 0.95 and 0.85; both along half cosines (the defaults
    of Smith's policy as `torch.optim.lr_scheduler.OneCycleLR` has them). A pure function of the step, so
    a resumed or extended run needs no saved schedule state.
    """
    rise = 0.3 * total - 1
    if step <= rise:
        start, end, b_start, b_end, t = peak / 25, peak, 0.95, 0.85, step / max(rise, 1e-12)
    else:
        start, end, b_start, b_end = peak, peak / 25 / 1e4, 0.85, 0.95
        t = min((step - rise) / max(total - 1 - rise, 1e-12), 1.0)
    cosine = (1 + math.cos(math.pi * t)) / 2  # 1 -> 0
    return end + (start - end) * cosine, b_end + (b_start - b_end) * cosine


def schedule_at(config: TrainConfig, step: int, steps_per_epoch: int) -> tuple[float, float]:
    """Learning rate and Adam's beta1 at ``step`` (0-based over the run) under ``config.schedule``."""
    if config.schedule == "one-cycle":
        return one_cycle(step, config.epochs * steps_per_epoch, config.lr)
    return config.lr, ADAM_BETAS[0]


def validation_batch(config: TrainConfig) -> int:
    """Windows per validation batch: the training batch, at least 256."""
    return max(config.batch_size, 256)


def validation_loss(model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor, Any]],
                    loss_fn: Callable[..., torch.Tensor], windows: Any) -> torch.Tensor:
    """Mean validation loss: ``model``'s last-step output in float32 (no autocast), each batch's mean loss
    times its rows, summed in float64 over every batch and divided by the number of ``windows``.

    ``batches`` yields ``(X (B, T, F), Y (B, h), rows)`` and ``loss_fn(pred, Y, rows)`` is the batch's mean
    loss; rows and windows are ints for one model, ``(K,)`` tensors for a fleet (``X (K, B, T, F)``).
    """
    model.eval()
    with torch.no_grad():
        total = sum(loss_fn(model(xb), yb, rows).double() * rows for xb, yb, rows in batches)
    return total / windows


def require_windows(train_data: Batches, val_data: Batches, model: str = "") -> None:
    """Raise unless there are training and validation windows (``model`` names whose in a fleet's message)."""
    if len(train_data) < 1 or len(val_data) < 1:
        raise ValueError(f"{model + ' needs' if model else 'need'} at least one training and one validation "
                         f"window, got {len(train_data)} and {len(val_data)}; use a longer series or a smaller "
                         "window/horizon")


@dataclass
class EarlyStopping:
    """Patience over a run's validation losses. The best loss and its epoch live in the run's `TrainResult`
    (progress shows them, checkpoints save them); this adds the epochs since the best and the patience."""

    result: TrainResult
    patience: int
    bad_epochs: int = 0  # epochs since the best

    def update(self, record: EpochRecord) -> bool:
        """Weigh ``record``'s validation loss; True when it is the best so far (keep these weights)."""
        if record.val_loss < self.result.best_val_loss:
            self.result.best_val_loss, self.result.best_epoch, self.bad_epochs = record.val_loss, record.epoch, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def ran_out(self) -> bool:
        """Whether patience ran out: as many epochs without a better loss as ``patience``."""
        return self.bad_epochs >= self.patience
