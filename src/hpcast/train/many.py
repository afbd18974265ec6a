"""Training several networks: one after another, or K at a time in one fused run on a GPU.

Backtests refit a network per fold, seed ensembles train K members, a search trains many trials of one
shape: each is a `TrainingJob`, what `hpcast.train.trainer.train` takes. `train_many` trains a list of
them. Jobs that can fuse (`fusion_key`: LSTM networks of one shape on one CUDA device, configs that agree
on the levers a fused run shares, plain run contexts, ``fleet`` not "off") train together through
`hpcast.train.fleet.train_fleet`, up to `FLEET_SIZE` at a time; the others one after another. Each job's
result is its own either way (its own data, seed, learning rate, early stopping), and the results come
back in the jobs' order.

Why GPU only by default (``fleet="auto"``, `hpcast.train.fleet.fleet_for`): one batch-32, hidden-50 LSTM
leaves almost every multiprocessor of a GPU idle, and K of them in one Triton launch fill it. On a CPU the
fused path runs the K layers one after another through oneDNN and saves only per-step overhead (measured
1.05-2.2x at K = 8-16, hidden 32-64, one thread; fusing the LSTM arithmetic itself through ``torch.bmm``
was 5-16x *slower*); ``auto`` keeps CPUs on the sequential trainer, whose numbers are the reference bit
for bit, while a fleet matches them to rounding and draws dropout masks of its own. ``fleet="on"`` fuses
on any device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from hpcast.config import TrainConfig
from hpcast.train.batches import Batches
from hpcast.train.context import RunContext

__all__ = ["FLEET_SIZE", "TrainingJob", "fusion_key", "train_many"]

FLEET_SIZE = 64  # models per fused run: 64 x 2 programs (batch 32) nearly fill a 132-SM GPU


@dataclass
class TrainingJob:
    """One network to train: `hpcast.train.trainer.train`'s arguments."""

    net: nn.Module
    train: Batches
    val: Batches
    config: TrainConfig
    context: RunContext


def fusion_key(job: TrainingJob) -> tuple[Any, ...] | None:
    """What jobs must share to train in one fused run, or None when this one cannot fuse."""
    from hpcast.models.lstm import LSTMNet
    from hpcast.train.fleet import SHARED_SETTINGS, fleet_for

    config, context = job.config, job.context
    device = job.train.device
    wanted = fleet_for(config.fleet, device, config.kernels, 2)
    plain = (context.checkpoint_dir is None and context.profile_dir is None and context.dist.world_size == 1
             and not context.resume)
    if not (wanted and plain and type(job.net) is LSTMNet) or job.net.output.distribution:
        return None  # a distribution head trains alone: the fused run knows the point losses only
    shapes = tuple((name, tuple(p.shape), p.dtype) for name, p in job.net.named_parameters())
    return (shapes, str(device), job.train.target_ndim, job.train.window,
            *(getattr(config, name) for name in SHARED_SETTINGS))


def train_many(jobs: list[TrainingJob]) -> list[Any]:
    """Train every job (module docstring); returns their `TrainResult`s in the jobs' order."""
    from hpcast.train.fleet import train_fleet
    from hpcast.train.trainer import train

    results: list[Any] = [None] * len(jobs)
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, job in enumerate(jobs):
        key = fusion_key(job)
        if key is None:
            results[i] = train(job.net, job.train, job.val, job.config, job.context)
        else:
            groups.setdefault(key, []).append(i)
    for members in groups.values():
        for first in range(0, len(members), FLEET_SIZE):
            chunk = members[first:first + FLEET_SIZE]
            if len(chunk) == 1:
                job = jobs[chunk[0]]
                results[chunk[0]] = train(job.net, job.train, job.val, job.config, job.context)
                continue
            fused = train_fleet([jobs[i].net for i in chunk], [jobs[i].train for i in chunk],
                                [jobs[i].val for i in chunk], [jobs[i].config for i in chunk],
                                [jobs[i].context.progress for i in chunk])
            for i, result in zip(chunk, fused, strict=True):
                results[i] = result
    return results
