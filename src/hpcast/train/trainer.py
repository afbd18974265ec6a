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

Legend: B batch, T window, F features, h horizon, N windows.
"""

from __future__ import annotations

import copy
import functools
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hpcast.config import TrainConfig
from hpcast.kernels.dispatch import mse_loss
from hpcast.train.batches import Batches, as_batches
from hpcast.train.checkpoint import CHECKPOINT_FILE, load_checkpoint, save_checkpoint
from hpcast.train.distributed import Distributed

__all__ = ["EpochRecord", "TrainResult", "bf16_unavailable", "loss_function", "resolve_recipe", "train"]


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
    recipe: dict[str, Any] = field(default_factory=dict)  # what the levers resolved to (see `resolve_recipe`)

    @property
    def seconds_per_epoch(self) -> float:
        return sum(r.seconds for r in self.history) / max(len(self.history), 1)

    def summary(self, history_key: str = "history") -> dict[str, Any]:
        """JSON-ready outcome with every epoch's record under ``history_key`` (manifests and metrics files)."""
        return {"best_epoch": self.best_epoch, "best_val_loss": self.best_val_loss, "epochs_run": len(self.history),
                "stopped_early": self.stopped_early, "seconds_per_epoch": self.seconds_per_epoch,
                "recipe": self.recipe, history_key: [vars(r) for r in self.history]}


class _DispatchedMSE(nn.Module):
    def __init__(self, kernels: str) -> None:
        super().__init__()
        self.kernels = kernels

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return mse_loss(pred, target, self.kernels)


def loss_function(name: str, kernels: str = "torch") -> nn.Module:
    """The training loss; MSE runs through the Triton kernel where ``kernels`` resolves to it."""
    losses = {"mse": nn.MSELoss, "mae": nn.L1Loss, "huber": nn.HuberLoss}
    if name not in losses:
        raise ValueError(f"loss ({name!r}) must be one of {sorted(losses)}")
    return _DispatchedMSE(kernels) if name == "mse" and kernels != "torch" else losses[name]()


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


def _profiler(folder: str | Path, rank: int) -> Any:
    """A started torch.profiler recording steps 3-8 (after warm-up) into ``folder`` as a Chrome trace."""
    from torch.profiler import ProfilerActivity, profile, schedule, tensorboard_trace_handler

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
    profiler = profile(activities=activities, schedule=schedule(wait=1, warmup=2, active=6, repeat=1),
                       on_trace_ready=tensorboard_trace_handler(str(folder), worker_name=f"rank{rank}"))
    profiler.start()
    return profiler


def _evaluate(model: nn.Module, data: Batches, loss_fn: nn.Module, batch_size: int) -> torch.Tensor:
    """Mean loss of the last-step output over every sample, in float32 (no autocast)."""
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=data.device)
    with torch.no_grad():
        for xb, yb in data.in_order(batch_size):  # (B, T, F), (B, h)
            total += loss_fn(model(xb), yb).double() * xb.shape[0]
    return total / len(data)


def train(
    model: nn.Module,
    train_xy: tuple[torch.Tensor, torch.Tensor] | Batches,
    val_xy: tuple[torch.Tensor, torch.Tensor] | Batches,
    config: TrainConfig,
    *,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    progress: Any = None,
    dist: Distributed | None = None,
    profile_dir: str | Path | None = None,
) -> TrainResult:
    """Train ``model`` with Adam and early stopping; restore the best-validation weights at the end (under
    store-avg, keep the final average instead: see `hpcast.train.distributed`).

    Args:
        model: maps ``X (B, T, F)`` to ``(B, h)``.
        train_xy: ``X (N, T, F)``, ``Y (N, h)``; may be strided views (gathered per batch). Or any
            `Batches` source, e.g. a `LoaderBatches` over files on disk. ``Y (N, T, h)`` (see
            `hpcast.features.windows.every_step_targets`) trains every step after the warm-up; the model
            must then accept ``every_step=True``.
        val_xy: the later, time-ordered validation windows (tensors or a `Batches` source).
        config: epochs, batch size, lr, loss, patience, clipping, seed, and the recipe's levers.
        checkpoint_dir: write ``last.safetensors`` there after every epoch (atomically).
        resume: continue from ``checkpoint_dir`` if it holds a checkpoint.
        progress: an object with ``start(total, done)``, ``advance(record, best_val_loss)`` and ``finish()``
            (`hpcast.train.progress.EpochProgress`), or None for silence.
        dist: this worker's `Distributed` context under torchrun (None: one process). Every worker
            shuffles alike and trains on its slice of each global batch; only rank 0 writes checkpoints.
        profile_dir: record a torch.profiler trace of a few training steps there (one file per worker,
            for Perfetto or chrome://tracing).

    Example:
        >>> result = train(net, (X_tr, Y_tr), (X_va, Y_va), TrainConfig(epochs=3))  # doctest: +SKIP
    """
    train_data, val_data = as_batches(train_xy), as_batches(val_xy)
    if len(train_data) < 1 or len(val_data) < 1:
        raise ValueError(f"need at least one training and one validation window, got {len(train_data)} "
                         f"and {len(val_data)}; use a longer series or a smaller window/horizon")
    loss_fn = loss_function(config.loss, config.kernels)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, fused=True)  # one kernel for all parameters
    every_step = train_data.target_ndim == 3
    result = TrainResult(recipe=resolve_recipe(config, train_data.device, every_step, train_data.window))
    warm, autocast = result.recipe["warmup_steps"], result.recipe["precision"] == "bf16"
    steps_per_epoch = -(-len(train_data) // config.batch_size)
    cycle = config.schedule == "one-cycle"
    shuffle = torch.Generator().manual_seed(config.seed)  # the same order on every worker
    rank, main = (dist.rank, dist.is_main) if dist is not None else (0, True)
    torch.manual_seed(config.seed + rank)  # dropout masks, different on each worker
    net = dist.wrap(model) if dist is not None else model
    best_state = copy.deepcopy(model.state_dict())
    bad_epochs, first_epoch = 0, 1
    if resume and checkpoint_dir is not None and (Path(checkpoint_dir) / CHECKPOINT_FILE).is_file():
        state = load_checkpoint(Path(checkpoint_dir), model, optimizer, shuffle)
        best_state = state.best_state
        result.history = [EpochRecord(**record) for record in state.meta["history"]]
        result.best_epoch, result.best_val_loss = state.meta["best_epoch"], state.meta["best_val_loss"]
        bad_epochs, first_epoch = state.meta["bad_epochs"], state.meta["epoch"] + 1
        if bad_epochs >= config.patience:
            first_epoch = config.epochs + 1  # the interrupted run had already stopped early
        if dist is not None:
            torch.manual_seed(config.seed + rank + 7919 * first_epoch)  # the saved RNG state is rank 0's

    n = len(train_data)
    samples_seen = 0
    progress = progress if main else None
    if progress is not None:
        progress.start(config.epochs, done=first_epoch - 1)
    profiler = _profiler(profile_dir, rank) if profile_dir is not None else None
    for epoch in range(first_epoch, config.epochs + 1):
        started = time.perf_counter()
        data_seconds = compute_seconds = step_sync = 0.0
        model.train()
        running = torch.zeros((), dtype=torch.float64, device=train_data.device)  # summed on the device
        order = torch.randperm(n, generator=shuffle)
        seen = 0  # windows this worker trained on in this epoch
        batches = train_data.batches(order, config.batch_size, dist)
        step = (epoch - 1) * steps_per_epoch
        while True:
            tick = time.perf_counter()
            batch = next(batches, None)  # gathers from the views, or waits on the DataLoader
            if batch is None:
                break
            xb, yb, scale = batch  # (B, T, F), (B, h)
            tock = time.perf_counter()
            with torch.autocast(xb.device.type, dtype=torch.bfloat16, enabled=autocast):
                pred = net(xb, every_step=True)[:, warm:] if every_step else net(xb)
            target = yb[:, warm:] if every_step else yb
            loss = loss_fn(pred.to(target.dtype), target)  # autocast leaves pred in bf16
            if cycle:
                for group in optimizer.param_groups:
                    group["lr"], beta1 = one_cycle(step, config.epochs * steps_per_epoch, config.lr)
                    group["betas"] = (beta1, group["betas"][1])
                step += 1
            optimizer.zero_grad(set_to_none=True)
            (loss * scale if scale != 1.0 else loss).backward()
            if config.clip_norm > 0:
                nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
            optimizer.step()
            done = time.perf_counter()
            if dist is not None:
                step_sync += dist.after_step(model)
            data_seconds, compute_seconds = data_seconds + tock - tick, compute_seconds + done - tock
            running += loss.detach().double() * xb.shape[0]
            seen += xb.shape[0]
            if profiler is not None:
                profiler.step()
        sync_seconds = 0.0
        if dist is not None:
            samples_seen += seen
            sync_seconds = dist.end_of_epoch(model, epoch, samples_seen, last=epoch == config.epochs)
            running, seen = dist.all_reduce_sum(torch.stack([running, running.new_tensor(float(seen))]))
        val_loss = float(_evaluate(model, val_data, loss_fn, max(config.batch_size, 256)))
        record = EpochRecord(epoch, float(running / max(float(seen), 1.0)), val_loss, time.perf_counter() - started,
                             sync_seconds + step_sync, data_seconds, compute_seconds, int(seen),
                             optimizer.param_groups[0]["lr"])
        result.history.append(record)
        if val_loss < result.best_val_loss:
            result.best_val_loss, result.best_epoch, bad_epochs = val_loss, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            bad_epochs += 1
        if checkpoint_dir is not None and main:
            meta = {"epoch": epoch, "best_epoch": result.best_epoch, "best_val_loss": result.best_val_loss,
                    "bad_epochs": bad_epochs, "history": [vars(r) for r in result.history]}
            save_checkpoint(Path(checkpoint_dir), model, optimizer, shuffle, best_state, meta)
        if progress is not None:
            progress.advance(record, result.best_val_loss)
        if bad_epochs >= config.patience and (dist is None or dist.early_stopping):
            result.stopped_early = True
            break
    if progress is not None:
        progress.finish()
    if profiler is not None:
        profiler.stop()
    if dist is None or dist.early_stopping:
        model.load_state_dict(best_state)
    elif result.history:  # store-avg: the final round's average is the model, whichever epoch validated best
        result.best_epoch, result.best_val_loss = result.history[-1].epoch, result.history[-1].val_loss
        result.recipe["weights"] = f"final average of {dist.world_size} workers (store-avg)"
    model.eval()
    return result
