"""The training loop: tensors in, a trained module and its history out. It knows neither prices nor files
(except its own checkpoint folder).

Fast by construction: a dataset that fits stays in tensors (window views, gathered per batch), the loss is
accumulated on the device and read once per epoch (no per-step host syncs), and there is no DataLoader.
Datasets on disk come through `hpcast.train.batches.LoaderBatches` (DataLoader workers, pinned memory).

The recipe (`TrainConfig`): targets ``(N, T, h)``, one per step of each window, train the model's
``every_step`` output after a warm-up; bf16 autocast on GPUs that have it; a one-cycle learning rate.
Validation is always the plain last-step output in float32, so its loss means the same under any recipe.
Deterministic on CPU: the same seed gives bit-identical weights; resuming from a checkpoint continues
exactly where the interrupted run was (weights, Adam moments, both RNG streams, early-stopping state).

The run's infrastructure (progress, checkpoints, resume, workers, profiling) arrives as one `RunContext`.
`train` reads in phases: `_prepare` (recipe, seeds, wrapper), `_resume`, then per epoch `_train_epoch`
(`_step` per batch) and `_end_of_epoch` (sync, validation, best weights, checkpoint, early stopping).
`hpcast.train.fleet` trains K models as this trains one, by the same rules (`hpcast.train.rules`: the loss
table, the schedule, validation, early stopping).

Legend: B batch, T window, F features, h horizon, N windows.
"""

from __future__ import annotations

import copy
import functools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hpcast.config import TrainConfig
from hpcast.train.batches import Batches, as_batches
from hpcast.train.checkpoint import CHECKPOINT_FILE, load_checkpoint, save_checkpoint
from hpcast.train.context import RunContext, report_epoch
from hpcast.train.distributed import Distributed
from hpcast.train.rules import (
    ADAM_BETAS,
    ADAM_EPS,
    EarlyStopping,
    EpochRecord,
    LossFn,
    TrainResult,
    require_windows,
    schedule_at,
    training_loss,
    validation_batch,
    validation_loss,
)

__all__ = ["bf16_unavailable", "resolve_recipe", "train"]


@functools.cache
def _bf16_probe(device: str) -> str | None:
    try:
        with torch.random.fork_rng(devices=[torch.device(device)] if device.startswith("cuda") else []):
            lstm = nn.LSTM(1, 4, num_layers=2, batch_first=True).to(device)  # draws weights: keep the seed
            with torch.autocast(torch.device(device).type, dtype=torch.bfloat16):
                out = lstm(torch.ones(2, 3, 1, device=device))[0]  # (B, T, H)
            out.float().sum().backward()
    except RuntimeError as error:
        return str(error).strip().split(". ")[0].splitlines()[0] or type(error).__name__
    return None


def bf16_unavailable(device: torch.device) -> str | None:
    """Why an LSTM cannot train under bf16 autocast on ``device``, or None when it can.

    Probed once per device with a two-layer LSTM's forward and backward (milliseconds): CPU flags do not
    tell, since oneDNN builds its bf16 LSTM primitive for some instruction sets (AVX-512 BF16, AMX) and not
    for others (AVX2: "could not create a primitive descriptor for the LSTM forward propagation
    primitive"). The probe leaves torch's random state as it was.
    """
    return _bf16_probe(str(device))


def resolve_recipe(config: TrainConfig, device: torch.device, every_step: bool, window: int) -> dict[str, Any]:
    """The levers as they will run: ``targets``, ``warmup_steps``, ``precision``, ``schedule``.

    Raises:
        ValueError: ``precision="bf16"`` on a device that cannot train an LSTM in bf16 (`bf16_unavailable`).
    """
    precision = config.precision
    if precision == "auto":  # float32 on CPUs: AVX2-only CPUs cannot run bf16, and one CPU kind must match another
        native = device.type == "cuda" and torch.cuda.is_bf16_supported(including_emulation=False)
        precision = "bf16" if native and bf16_unavailable(device) is None else "fp32"
    elif precision == "bf16" and (why := bf16_unavailable(device)) is not None:
        where = (f"this CPU (capability {torch.backends.cpu.get_cpu_capability()})" if device.type == "cpu"
                 else f"device {device}")
        raise ValueError(f"precision 'bf16' cannot train an LSTM on {where}: {why}; use --precision fp32, "
                         "or auto (bf16 only where it runs natively)")
    return {"targets": "all" if every_step else "last",
            "warmup_steps": min(int(config.warmup * window), window - 1) if every_step else 0,
            "precision": precision, "schedule": config.schedule}


def _profiler(folder: str | Path, rank: int) -> Any:
    """A started torch.profiler recording steps 3-8 (after warm-up) into ``folder`` as a Chrome trace."""
    from torch.profiler import ProfilerActivity, profile, schedule, tensorboard_trace_handler

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
    profiler = profile(activities=activities, schedule=schedule(wait=1, warmup=2, active=6, repeat=1),
                       on_trace_ready=tensorboard_trace_handler(str(folder), worker_name=f"rank{rank}"))
    profiler.start()
    return profiler


def _evaluate(model: nn.Module, data: Batches, loss_fn: LossFn, batch_size: int) -> torch.Tensor:
    """One model's `validation_loss` over every window of ``data``."""
    batches = ((xb, yb, xb.shape[0]) for xb, yb in data.in_order(batch_size))  # (B, T, F), (B, h), B
    return validation_loss(model, batches, lambda pred, yb, _: loss_fn(pred, yb), len(data))


@dataclass
class _Loop:
    """The run's fixed parts, resolved once, so each phase below takes one argument instead of fifteen."""

    model: nn.Module
    net: nn.Module  # the model, or its DDP wrapper: forward passes go through it
    optimizer: torch.optim.Optimizer
    loss_fn: LossFn
    shuffle: torch.Generator  # draws each epoch's order, the same on every worker
    config: TrainConfig
    dist: Distributed
    train_data: Batches
    val_data: Batches
    every_step: bool  # targets (N, T, h): train every step after the warm-up
    warm: int  # steps of each window left out of the loss (every-step targets)
    autocast: bool  # bf16 forward
    steps_per_epoch: int
    progress: Any  # None on workers other than rank 0: only rank 0 reports
    checkpoint_dir: Path | None  # None on workers other than rank 0: only rank 0 writes


@dataclass
class _State:
    """What carries from one epoch to the next; a checkpoint saves it, a resume restores it."""

    best_state: dict[str, torch.Tensor]
    stopping: EarlyStopping
    first_epoch: int = 1
    samples_seen: int = 0  # windows this worker trained on so far (store-avg weights its average by them)


@dataclass
class _EpochSums:
    """One worker's pass over an epoch's batches: the loss summed on the device, windows, and where time went."""

    running: torch.Tensor  # () float64: loss times batch size, summed without a host sync
    seen: int = 0  # windows this worker trained on
    data_seconds: float = 0.0
    compute_seconds: float = 0.0
    step_sync: float = 0.0  # local-sgd's averaging after steps


def train(
    model: nn.Module,
    train_xy: tuple[torch.Tensor, torch.Tensor] | Batches,
    val_xy: tuple[torch.Tensor, torch.Tensor] | Batches,
    config: TrainConfig,
    context: RunContext | None = None,
) -> TrainResult:
    """Train ``model`` with Adam and early stopping; restore the best-validation weights at the end (under
    store-avg, keep the final average instead: see `hpcast.train.distributed`).

    Args:
        model: maps ``X (B, T, F)`` to ``(B, h)``.
        train_xy: ``X (N, T, F)``, ``Y (N, h)``; may be strided views (gathered per batch). Or any
            `Batches` source, e.g. a `LoaderBatches` over files on disk. ``Y (N, T, h)`` (see
            `hpcast.forecast.panel_windows.PanelWindows.targets`) trains every step after the warm-up; the model
            must then accept ``every_step=True``.
        val_xy: the later, time-ordered validation windows (tensors or a `Batches` source).
        config: epochs, batch size, lr, loss, patience, clipping, seed, and the recipe's levers.
        context: progress, checkpoints, resume, this worker's `Distributed` and profiling (`RunContext`);
            None: a quiet single-process run. Under torchrun every worker shuffles alike and trains on its
            slice of each global batch; only rank 0 reports and writes checkpoints.

    Example:
        >>> result = train(net, (X_tr, Y_tr), (X_va, Y_va), TrainConfig(epochs=3))  # doctest: +SKIP
        >>> result = train(net, (X_tr, Y_tr), (X_va, Y_va), TrainConfig(epochs=3),
        ...                RunContext(checkpoint_dir=Path("ckpt"), resume=True))  # doctest: +SKIP
    """
    context = context if context is not None else RunContext()
    train_data, val_data = as_batches(train_xy), as_batches(val_xy)
    require_windows(train_data, val_data)
    loop, result = _prepare(model, train_data, val_data, config, context)
    state = _State(best_state=copy.deepcopy(model.state_dict()),  # after wrap: DDP broadcast rank 0's weights
                   stopping=EarlyStopping(result, config.patience))
    folder = context.checkpoint_dir
    if context.resume and folder is not None and (folder / CHECKPOINT_FILE).is_file():
        _resume(loop, state, result, folder)
    if loop.progress is not None:
        loop.progress.start(config.epochs, done=state.first_epoch - 1)
    profiler = _profiler(context.profile_dir, loop.dist.rank) if context.profile_dir is not None else None
    for epoch in range(state.first_epoch, config.epochs + 1):
        started = time.perf_counter()
        sums = _train_epoch(loop, epoch, profiler)
        if _end_of_epoch(loop, state, result, sums, epoch, started):
            break
    if loop.progress is not None:
        loop.progress.finish()
    if profiler is not None:
        profiler.stop()
    _keep_final_weights(loop, state, result)
    return result


def _prepare(model: nn.Module, train_data: Batches, val_data: Batches, config: TrainConfig,
             context: RunContext) -> tuple[_Loop, TrainResult]:
    """Resolve the recipe, seed both RNG streams and wrap the model, in the order that keeps runs bit-identical."""
    dist = context.dist
    loss_fn = training_loss(model, config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=ADAM_BETAS, eps=ADAM_EPS,
                                 fused=True)  # one kernel for all parameters
    every_step = train_data.target_ndim == 3
    result = TrainResult(recipe=resolve_recipe(config, train_data.device, every_step, train_data.window))
    shuffle = torch.Generator().manual_seed(config.seed)  # the same order on every worker
    torch.manual_seed(config.seed + dist.rank)  # dropout masks, different on each worker
    loop = _Loop(model=model, net=dist.wrap(model), optimizer=optimizer, loss_fn=loss_fn, shuffle=shuffle,
                 config=config, dist=dist, train_data=train_data, val_data=val_data, every_step=every_step,
                 warm=result.recipe["warmup_steps"], autocast=result.recipe["precision"] == "bf16",
                 steps_per_epoch=-(-len(train_data) // config.batch_size),
                 progress=context.progress if dist.is_main else None,
                 checkpoint_dir=context.checkpoint_dir if dist.is_main else None)
    return loop, result


def _resume(loop: _Loop, state: _State, result: TrainResult, folder: Path) -> None:
    """Continue an interrupted run exactly: weights, Adam moments, both RNG streams, early-stopping state."""
    saved = load_checkpoint(folder, loop.model, loop.optimizer, loop.shuffle)
    state.best_state = saved.best_state
    result.history = [EpochRecord(**record) for record in saved.meta["history"]]
    result.best_epoch, result.best_val_loss = saved.meta["best_epoch"], saved.meta["best_val_loss"]
    state.stopping.bad_epochs, state.first_epoch = saved.meta["bad_epochs"], saved.meta["epoch"] + 1
    if state.stopping.ran_out:
        state.first_epoch = loop.config.epochs + 1  # the interrupted run had already stopped early
    loop.dist.reseed_after_resume(loop.config.seed, state.first_epoch)


def _train_epoch(loop: _Loop, epoch: int, profiler: Any) -> _EpochSums:
    """One pass over the epoch's batches, timing data and compute apart; the loss stays on the device."""
    loop.model.train()
    sums = _EpochSums(running=torch.zeros((), dtype=torch.float64, device=loop.train_data.device))
    order = loop.train_data.epoch_order(loop.shuffle)  # (N,) sample indices
    batches = loop.train_data.batches(order, loop.config.batch_size, loop.dist)
    step = (epoch - 1) * loop.steps_per_epoch
    while True:
        tick = time.perf_counter()
        batch = next(batches, None)  # gathers from the views, or waits on the DataLoader
        if batch is None:
            break
        xb, yb, scale = batch  # (B, T, F), (B, h) or (B, T, h)
        tock = time.perf_counter()
        loss = _step(loop, xb, yb, scale, step)
        step += 1
        done = time.perf_counter()
        sums.step_sync += loop.dist.after_step(loop.model)
        sums.data_seconds, sums.compute_seconds = sums.data_seconds + tock - tick, sums.compute_seconds + done - tock
        sums.running += loss.detach().double() * xb.shape[0]
        sums.seen += xb.shape[0]
        if profiler is not None:
            profiler.step()
    return sums


def _step(loop: _Loop, xb: torch.Tensor, yb: torch.Tensor, scale: float, step: int) -> torch.Tensor:
    """One optimizer step on a batch (``step`` places it on the one-cycle schedule); returns its loss."""
    config, warm = loop.config, loop.warm
    with torch.autocast(xb.device.type, dtype=torch.bfloat16, enabled=loop.autocast):
        pred = loop.net(xb, every_step=True)[:, warm:] if loop.every_step else loop.net(xb)  # (B, T-warm, h) | (B, h)
    target = yb[:, warm:] if loop.every_step else yb
    loss = loop.loss_fn(pred.to(target.dtype), target)  # autocast leaves pred in bf16
    lr, beta1 = schedule_at(config, step, loop.steps_per_epoch)
    for group in loop.optimizer.param_groups:
        group["lr"], group["betas"] = lr, (beta1, group["betas"][1])
    loop.optimizer.zero_grad(set_to_none=True)
    (loss * scale if scale != 1.0 else loss).backward()
    if config.clip_norm > 0:
        nn.utils.clip_grad_norm_(loop.model.parameters(), config.clip_norm)
    loop.optimizer.step()
    return loss


def _end_of_epoch(loop: _Loop, state: _State, result: TrainResult, sums: _EpochSums, epoch: int,
                  started: float) -> bool:
    """Sync the workers, validate, record, keep the best weights, checkpoint; True when patience ran out."""
    dist, config = loop.dist, loop.config
    state.samples_seen += sums.seen
    sync_seconds = dist.end_of_epoch(loop.model, epoch, state.samples_seen, last=epoch == config.epochs)
    running, seen = dist.all_reduce_sum(torch.stack([sums.running, sums.running.new_tensor(float(sums.seen))]))
    val_loss = float(_evaluate(loop.model, loop.val_data, loop.loss_fn, validation_batch(config)))
    record = EpochRecord(epoch, float(running / max(float(seen), 1.0)), val_loss, time.perf_counter() - started,
                         sync_seconds + sums.step_sync, sums.data_seconds, sums.compute_seconds, int(seen),
                         loop.optimizer.param_groups[0]["lr"])
    result.history.append(record)
    if state.stopping.update(record):
        state.best_state = copy.deepcopy(loop.model.state_dict())
    if loop.checkpoint_dir is not None:
        meta = {"epoch": epoch, "best_epoch": result.best_epoch, "best_val_loss": result.best_val_loss,
                "bad_epochs": state.stopping.bad_epochs, "history": [vars(r) for r in result.history]}
        save_checkpoint(loop.checkpoint_dir, loop.model, loop.optimizer, loop.shuffle, state.best_state, meta)
    if report_epoch(loop.progress, record, result):
        return True
    if state.stopping.ran_out and dist.early_stopping:
        result.stopped_early = True
        return True
    return False


def _keep_final_weights(loop: _Loop, state: _State, result: TrainResult) -> None:
    """Leave the group's model in place: the best-validation weights, or under store-avg the final average."""
    if loop.dist.early_stopping:
        loop.model.load_state_dict(state.best_state)
    elif result.history:  # store-avg: the final round's average is the model, whichever epoch validated best
        result.best_epoch, result.best_val_loss = result.history[-1].epoch, result.history[-1].val_loss
        result.recipe["weights"] = f"final average of {loop.dist.world_size} workers (store-avg)"
    loop.model.eval()
