"""The run infrastructure of one training run, as one object the loop reads.

Where progress goes, where checkpoints live, whether to resume, this worker's place in the group and where
a profiler trace goes are not part of the recipe (`TrainConfig`) and not data: callers (the CLI, jobs, the
estimators) build them once and hand them on as one `RunContext`, so `hpcast.train.trainer.train` takes
the model, the data, the config and this, and has no branch for "one process" (that is `Distributed.single`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpcast.train.distributed import Distributed

if TYPE_CHECKING:
    from hpcast.train.rules import EpochRecord, TrainResult

__all__ = ["RunContext", "StopTraining", "report_epoch"]


class StopTraining(Exception):  # noqa: N818 -- a signal, like StopIteration, not an error
    """Raised by a progress hook's ``advance`` to end the run after this epoch (a search pruning a trial that
    trains beside others): the trainer keeps the best weights so far and marks the result stopped early."""


def report_epoch(progress: Any, record: EpochRecord, result: TrainResult) -> bool:
    """Tell ``progress`` (None: nobody) of an epoch; True when it ends the run by raising `StopTraining`, which
    then counts as stopping early (the run keeps its best weights so far)."""
    if progress is None:
        return False
    try:
        progress.advance(record, result.best_val_loss)
    except StopTraining:
        result.stopped_early = True
        return True
    return False


@dataclass(frozen=True)
class RunContext:
    """Everything around the loop that is not the recipe; the default is a quiet, single-process run.

    Attributes:
        progress: an object with ``start(total, done)``, ``advance(record, best_val_loss)`` and ``finish()``
            (`hpcast.train.progress.EpochProgress`), or None for silence. Only rank 0 reports. ``advance``
            may raise `StopTraining` to end the run after that epoch.
        checkpoint_dir: write ``last.safetensors`` there after every epoch (atomically; rank 0 only).
        resume: continue from ``checkpoint_dir`` if it holds a checkpoint.
        dist: this worker's `Distributed` under torchrun; `Distributed.single()` for one process (None is
            taken to mean that too).
        profile_dir: record a torch.profiler trace of a few training steps there (one file per worker).

    Example:
        >>> context = RunContext(checkpoint_dir=Path("runs/r/checkpoint"), resume=True)
        >>> context.dist.strategy, context.dist.world_size
        ('single', 1)
    """

    progress: Any = None
    checkpoint_dir: Path | None = None
    resume: bool = False
    dist: Distributed = field(default_factory=Distributed.single)
    profile_dir: Path | None = None

    def __post_init__(self) -> None:
        # frozen: normalise through object.__setattr__ (callers may pass str paths, or dist=None for one process)
        if self.dist is None:
            object.__setattr__(self, "dist", Distributed.single())
        for name in ("checkpoint_dir", "profile_dir"):
            if (value := getattr(self, name)) is not None:
                object.__setattr__(self, name, Path(value))
