"""Train K LSTM nets of one shape together, each exactly as `hpcast.train.trainer.train` would train it alone.

One step of the fleet is one forward, one backward and one Adam update for all K models
(`hpcast.models.fleet.FleetLSTMNet`, `hpcast.kernels.fleet.adam_fleet_`), so a GPU runs K small models in
the launches one of them needs. Everything else stays per model: its own windows (any number: a model
whose epoch has run out of batches sits the step out), its shuffle from its own seed, its one-cycle
schedule over its own steps, its lr, gradient clipping, validation loss, early stopping, best weights and
history. Batches of different sizes are padded to one with masked rows; each model's loss is the mean over
its real rows, as the trainer's is. The loss table, schedule, validation and early stopping are the trainer's
own (`hpcast.train.trainer`); this module adds only what K models need: per-model reductions and fused Adam.

Where it is used (`fleet_for`): ``auto`` trains a fleet on CUDA only, where one launch for K models
replaces K. On a CPU the fleet's layers are K oneDNN calls one after another (fusing them into torch.bmm
measured 5-16x slower), so all it saves is per-step overhead (1.05-2.2x faster than K `train` calls at
K = 8-16, H = 32-64, one thread); ``auto`` leaves CPUs on the sequential trainer, whose numbers are the
reference ones bit for bit (a fleet matches them to rounding, and draws its dropout masks differently).

Legend: K models, B batch, T window, F features, h horizon.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from hpcast.config import Fleet, TrainConfig
from hpcast.models.fleet import FleetLSTMNet
from hpcast.models.lstm import LSTMNet
from hpcast.train.batches import Batches, as_batches
from hpcast.train.context import report_epoch
from hpcast.train.distributed import Distributed
from hpcast.train.rules import (
    ADAM_BETAS,
    ADAM_EPS,
    EarlyStopping,
    EpochRecord,
    LossFn,
    TrainResult,
    loss_function,
    require_windows,
    schedule_at,
    validation_batch,
    validation_loss,
)
from hpcast.train.trainer import resolve_recipe

__all__ = ["SHARED_SETTINGS", "FleetMode", "fleet_for", "train_fleet"]

FleetMode = Fleet  # TrainConfig.fleet
# What one fleet step needs the same for every model; the rest (epochs, lr, patience, clip_norm, seed,
# schedule) may differ. Settings the trainer itself does not read (targets, stride, val_fraction, ...) are
# not compared: the data says what they did (every model's targets must have the same shape).
SHARED_SETTINGS = ("batch_size", "loss", "warmup", "precision", "kernels")

Pair = tuple[torch.Tensor, torch.Tensor]


def fleet_for(mode: FleetMode, device: torch.device | str, kernels: str, k: int) -> bool:
    """Whether to train ``k`` models of one shape as a fleet: ``on``, ``off``, or ``auto``: two or more models
    on CUDA with kernels that may be Triton's (module docstring).

    Example:
        >>> fleet_for("auto", "cpu", "auto", 8)
        False
    """
    if mode not in ("auto", "on", "off"):
        raise ValueError(f"fleet ({mode!r}) must be 'auto', 'on' or 'off'")
    if mode != "auto":
        return mode == "on"
    return k > 1 and torch.device(device).type == "cuda" and kernels != "torch"


def _check(models: Sequence[LSTMNet], trains: Sequence[Batches], vals: Sequence[Batches],
           configs: Sequence[TrainConfig]) -> None:
    K = len(models)
    if not (len(trains) == len(vals) == len(configs) == K):
        raise ValueError(f"models ({K}), trains ({len(trains)}), vals ({len(vals)}) and configs ({len(configs)}) "
                         "must have one entry per model")
    for name in SHARED_SETTINGS:
        for i, config in enumerate(configs):
            if getattr(config, name) != getattr(configs[0], name):
                raise ValueError(f"configs[{i}].{name} ({getattr(config, name)!r}) must equal configs[0].{name} "
                                 f"({getattr(configs[0], name)!r}): a fleet shares {', '.join(SHARED_SETTINGS)}")
    for i, (train, val) in enumerate(zip(trains, vals, strict=True)):
        require_windows(train, val, f"model {i}")
        if (train.window, train.target_ndim) != (trains[0].window, trains[0].target_ndim):
            raise ValueError(f"trains[{i}] has windows of {train.window} steps and {train.target_ndim}-d targets, "
                             f"trains[0] {trains[0].window} and {trains[0].target_ndim}-d: a fleet stacks them")
        if (val.window, val.target_ndim) != (trains[0].window, 2):
            raise ValueError(f"vals[{i}] has windows of {val.window} steps and {val.target_ndim}-d targets; "
                             f"validation needs trains[0]'s {trains[0].window} steps and last-step targets (N, h)")


def _stack(batches: dict[int, Pair], k: int) -> tuple[torch.Tensor, torch.Tensor, list[float]]:
    """Model m's batch at ``[m]``, padded with zero rows to the longest; absent models all padding.

    Returns inputs ``(K, B, T, F)``, targets ``(K, B, ...)`` and each model's count of real rows.
    """
    rows = max(x.shape[0] for x, _ in batches.values())
    x0, y0 = next(iter(batches.values()))
    xs = x0.new_zeros((k, rows, *x0.shape[1:]))  # (K, B, T, F)
    ys = y0.new_zeros((k, rows, *y0.shape[1:]))  # (K, B, h) or (K, B, T, h)
    counts = [0.0] * k
    for m, (x, y) in batches.items():
        xs[m, :x.shape[0]], ys[m, :y.shape[0]], counts[m] = x, y, float(x.shape[0])
    return xs, ys, counts


def _per_model(device: torch.device, *columns: list[float]) -> torch.Tensor:
    """``(C, K)`` float64 on ``device``: per-model numbers from the host in one copy that does not wait for the
    GPU (a plain ``torch.tensor(..., device=)`` synchronises, several times a step)."""
    host = torch.tensor(columns, dtype=torch.float64)  # (C, K)
    if device.type == "cuda":
        host = host.pin_memory()
    return host.to(device, non_blocking=True)


def _lockstep(sources: dict[int, Iterator[Any]]) -> Iterator[dict[int, Pair]]:
    """Each step, the next batch of every source that has one, until none has."""
    while batches := {m: batch[:2] for m, source in sources.items() if (batch := next(source, None)) is not None}:
        yield batches


def _masked_loss(per_element: LossFn, pred: torch.Tensor, target: torch.Tensor,
                 count: torch.Tensor) -> torch.Tensor:
    """``(K,)``: each model's loss, the mean over its first ``count`` (real) rows; 0 for a model without any."""
    per_row = per_element(pred.to(target.dtype), target).flatten(2).mean(-1)  # (K, B)
    real = torch.arange(per_row.shape[1], device=per_row.device)[None, :] < count[:, None]  # (K, B)
    return (per_row * real).sum(1) / count.clamp(min=1).to(per_row.dtype)


def _clip_(grads: list[torch.Tensor], clip: torch.Tensor) -> None:
    """`torch.nn.utils.clip_grad_norm_` per model: each model's norm over all its parameters; clip 0: none."""
    norms = torch.stack([g.flatten(1).norm(dim=1) for g in grads]).norm(dim=0)  # (K,)
    coef = torch.where(clip > 0, (clip / (norms + 1e-6)).clamp(max=1.0), 1.0)  # (K,)
    for g in grads:
        g.mul_(coef.view(-1, *(1,) * (g.ndim - 1)).to(g.dtype))


class _Fleet:
    """The run: the stacked net, Adam's state, and every model's schedule, early stopping and result."""

    def __init__(self, models: Sequence[LSTMNet], trains: Sequence[Batches], vals: Sequence[Batches],
                 configs: Sequence[TrainConfig]) -> None:
        self.configs, self.trains, self.vals, self.K = configs, trains, vals, len(models)
        self.shared = configs[0]
        self.per_element = loss_function(self.shared.loss, reduction="none")  # the trainer's loss, per element
        self.net = FleetLSTMNet.from_models(models, kernels=self.shared.kernels)
        self.params = list(self.net.parameters())
        device = self.params[0].device
        self.exp_avgs = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sqs = [torch.zeros_like(p) for p in self.params]
        self.adam_steps = torch.zeros(self.K, dtype=torch.int64, device=device)  # updates so far, per model
        self.best = [p.detach().clone() for p in self.params]
        self.clip = torch.tensor([c.clip_norm for c in configs], dtype=torch.float64, device=device)  # (K,)
        self.every_step = trains[0].target_ndim == 3
        self.results = [TrainResult(recipe=resolve_recipe(c, device, self.every_step, trains[0].window))
                        for c in configs]
        self.warm = self.results[0].recipe["warmup_steps"]
        self.autocast = self.results[0].recipe["precision"] == "bf16"
        self.shuffles = [torch.Generator().manual_seed(c.seed) for c in configs]  # the trainer's, per model
        self.steps_per_epoch = [-(-len(t) // self.shared.batch_size) for t in trains]
        self.stopping = [EarlyStopping(r, c.patience) for r, c in zip(self.results, configs, strict=True)]
        self.done = [False] * self.K
        self.last_lr = [c.lr for c in configs]

    def running(self, epoch: int) -> list[int]:
        """The models that train in ``epoch``: not stopped early, and within their own number of epochs."""
        return [m for m in range(self.K) if not self.done[m] and epoch <= self.configs[m].epochs]

    def train_epoch(self, epoch: int, running: list[int]) -> tuple[torch.Tensor, torch.Tensor, float, float]:
        """One pass over every running model's batches; returns loss sums, windows (K,) and data/compute seconds."""
        self.net.train()
        single, size = Distributed.single(), self.shared.batch_size
        sources = {m: self.trains[m].batches(self.trains[m].epoch_order(self.shuffles[m]), size, single)
                   for m in running}
        sums = torch.zeros(self.K, dtype=torch.float64, device=self.adam_steps.device)
        seen = torch.zeros_like(sums)
        data_seconds = compute_seconds = 0.0
        tick = time.perf_counter()
        for i, batches in enumerate(_lockstep(sources)):
            xb, yb, counts = _stack(batches, self.K)  # (K, B, T, F), (K, B, h) or (K, B, T, h)
            tock = time.perf_counter()
            loss, count = self._step(xb, yb, counts, epoch, i)  # (K,), (K,)
            sums += loss.detach().double() * count
            seen += count
            data_seconds, compute_seconds = data_seconds + tock - tick, compute_seconds + time.perf_counter() - tock
            tick = time.perf_counter()
        return sums, seen, data_seconds, compute_seconds

    def _step(self, xb: torch.Tensor, yb: torch.Tensor, counts: list[float], epoch: int,
              i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One Adam update of the models with rows in this batch (batch ``i`` of ``epoch``); returns each
        model's loss and count of rows, ``(K,)`` each."""
        from hpcast.kernels.fleet import adam_fleet_  # imports Triton where installed

        lr, beta1 = [c.lr for c in self.configs], [ADAM_BETAS[0]] * self.K
        for m in (m for m in range(self.K) if counts[m]):
            step = (epoch - 1) * self.steps_per_epoch[m] + i
            lr[m], beta1[m] = schedule_at(self.configs[m], step, self.steps_per_epoch[m])
            self.last_lr[m] = lr[m]
        count, lr_now, beta1_now = _per_model(xb.device, counts, lr, beta1)  # (K,) each
        with torch.autocast(xb.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            pred = self.net(xb, every_step=True)[:, :, self.warm:] if self.every_step else self.net(xb)
        target = yb[:, :, self.warm:] if self.every_step else yb  # (K, B, T - warm, h) or (K, B, h)
        loss = _masked_loss(self.per_element, pred, target, count)  # (K,)
        for p in self.params:
            p.grad = None
        loss.sum().backward()  # the models share no parameter: each gets its own loss's gradient
        grads = [p.grad for p in self.params]
        _clip_(grads, self.clip)
        active = count > 0  # a model whose epoch has no batch left sits the step out
        self.adam_steps += active
        with torch.no_grad():
            adam_fleet_(self.params, grads, self.exp_avgs, self.exp_avg_sqs, lr=lr_now, beta1=beta1_now,
                        beta2=ADAM_BETAS[1], eps=ADAM_EPS, steps=self.adam_steps, active=active,
                        kernels=self.shared.kernels)
        return loss, count

    def validate(self) -> torch.Tensor:
        """``(K,)`` float64: each model's `validation_loss` over its own windows, as the trainer's alone."""
        size = validation_batch(self.shared)
        sources = _lockstep({m: iter(val.in_order(size)) for m, val in enumerate(self.vals)})
        stacked = (_stack(batches, self.K) for batches in sources)  # (K, B, T, F), (K, B, h), rows
        batches = ((xb, yb, _per_model(xb.device, counts)[0]) for xb, yb, counts in stacked)  # rows (K,)
        windows = _per_model(self.adam_steps.device, [float(len(v)) for v in self.vals])[0]  # (K,)
        return validation_loss(self.net, batches, functools.partial(_masked_loss, self.per_element), windows)

    def end_epoch(self, running: list[int], records: dict[int, EpochRecord]) -> None:
        """Record, keep each improved model's weights, and stop the models whose patience ran out."""
        improved = []
        for m in running:
            self.results[m].history.append(records[m])
            if self.stopping[m].update(records[m]):
                improved.append(m)
            if self.stopping[m].ran_out:
                self.results[m].stopped_early, self.done[m] = True, True
        if improved:
            index = torch.tensor(improved).to(self.adam_steps.device)
            with torch.no_grad():
                for best, p in zip(self.best, self.params, strict=True):
                    best[index] = p[index]

    def finish(self, models: Sequence[LSTMNet]) -> None:
        """Every model's best-validation weights, back in its own `LSTMNet`."""
        with torch.no_grad():
            for best, p in zip(self.best, self.params, strict=True):
                p.copy_(best)
        self.net.unstack_into(models)
        for model in models:
            model.eval()


def train_fleet(models: Sequence[LSTMNet], trains: Sequence[Pair | Batches], vals: Sequence[Pair | Batches],
                configs: Sequence[TrainConfig], progress: Sequence[Any] | None = None) -> list[TrainResult]:
    """Train ``models[k]`` on ``trains[k]``, validated on ``vals[k]``, under ``configs[k]``, all K at once; each
    ends with its best-validation weights and gets the `TrainResult` ``train`` would give it alone.

    One process, no checkpoints, workers or profiling (use `hpcast.train.trainer.train` for those). The
    configs must agree on `SHARED_SETTINGS` (batch_size, loss, warmup, precision, kernels) and the data on
    the window length and the targets' shape (``Y (N, h)`` or ``(N, T, h)`` for all); epochs, lr, patience,
    clip_norm, seed and schedule are each model's own. Dropout draws one mask per step over all K models
    (seeded from ``configs[0].seed``), so dropout runs are not those of the sequential trainer; without
    dropout the results match it to rounding. The record times (seconds, data, compute) are the fleet's.

    Args:
        models: LSTMNets of one shape (`hpcast.models.fleet.FleetLSTMNet.from_models` says which differs).
        trains, vals: each model's ``(X, Y)`` windows or `Batches` source, as ``train`` takes them.
        configs: each model's `TrainConfig`.
        progress: one `EpochProgress`-like object (or None) per model, told of that model's epochs as
            ``train`` tells its ``RunContext.progress``; its ``advance`` may raise `StopTraining` to end
            that model's run (the others go on).

    Example:
        >>> results = train_fleet(nets, [(X1, Y1), (X2, Y2)], [(V1, W1), (V2, W2)],
        ...                       [TrainConfig(seed=0), TrainConfig(seed=1, lr=3e-3)])  # doctest: +SKIP
    """
    trains, vals = [as_batches(t) for t in trains], [as_batches(v) for v in vals]
    _check(models, trains, vals, configs)
    reporters = list(progress) if progress is not None else [None] * len(models)
    if len(reporters) != len(models):
        raise ValueError(f"progress ({len(reporters)}) must hold one reporter (or None) per model ({len(models)})")
    fleet = _Fleet(models, trains, vals, configs)
    torch.manual_seed(configs[0].seed)  # dropout masks
    for reporter, config in zip(reporters, configs, strict=True):
        if reporter is not None:
            reporter.start(config.epochs, done=0)
    for epoch in range(1, max(c.epochs for c in configs) + 1):
        if not (running := fleet.running(epoch)):
            break
        started = time.perf_counter()
        sums, seen, data_seconds, compute_seconds = fleet.train_epoch(epoch, running)
        val = fleet.validate().tolist()  # the epoch's one host sync
        train_loss, seen_list = (sums / seen.clamp(min=1)).tolist(), seen.tolist()
        seconds = time.perf_counter() - started
        records = {m: EpochRecord(epoch, train_loss[m], val[m], seconds, 0.0, data_seconds, compute_seconds,
                                  int(seen_list[m]), fleet.last_lr[m]) for m in running}
        fleet.end_epoch(running, records)
        for m in running:
            if report_epoch(reporters[m], records[m], fleet.results[m]):  # this model's run ends (a pruned trial)
                fleet.done[m] = True
    for reporter in reporters:
        if reporter is not None:
            reporter.finish()
    fleet.finish(models)
    return fleet.results
