"""Multi-worker training on ``torch.distributed``, launched by torchrun: one training path for all.

The trainer (`hpcast.train.trainer.train`) always has a `Distributed` (its `RunContext` holds one) and asks
it which part of each global batch this worker trains on (`shard`), how to wrap the model (`wrap`: DDP for
``ddp``), what to do after each optimizer step (`after_step`: periodic parameter averaging for
``local-sgd``) and at the end of an epoch (`end_of_epoch`), and how to combine per-worker sums
(`all_reduce_sum`). One process is a group of one (`Distributed.single`), whose hooks do nothing, so the
trainer has no branch for it.

Strategies:
- ``single``: one process, no torchrun (`Distributed.single()`): the whole batch, no wrapper, no syncs.
- ``ddp``: DistributedDataParallel (gloo on CPU, NCCL on GPU). Every worker sees the same shuffled order
  of windows and trains on its slice of each global batch. Losses are scaled so that DDP's gradient
  average equals the single-process gradient of the whole batch, also for uneven slices. With the same
  seed and global batch, N workers follow the single-process loss curve.
- ``local-sgd``: workers step on their slices independently, and PyTorch's `PeriodicModelAverager`
  averages parameters every ``sync_every`` steps and once more at every epoch's end, so all workers
  validate the same model. On CPU it gets an explicit subgroup (`dist.new_subgroups`).
- ``store-avg``: workers that cannot reach each other (no process group at all) train on their slices
  and every ``sync_every`` epochs average their weights through an object store (`StoreAverager`), and
  once more after the last epoch when the cadence did not just do it, so the saved model is always the
  workers' average. Early stopping is off, and so is the restore of the best-validation epoch: between
  rounds a worker's model is its own, so only the final average is the group's model, and that is
  what is saved (the manifest's recipe says ``weights: final average of N workers``).

Only rank 0 logs and writes files. Worker mode is detected from torchrun's environment (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["STRATEGIES", "Distributed", "in_worker", "torchrun_command"]

Strategy = Literal["single", "ddp", "local-sgd", "store-avg"]
STRATEGIES = ("ddp", "local-sgd", "store-avg")  # the multi-worker ones torchrun can launch
DEFAULT_SYNC_EVERY = {"ddp": 1, "local-sgd": 8, "store-avg": 5}  # steps for local-sgd, epochs for store-avg


def _attempt_store() -> dist.Store:
    """The rendezvous store, namespaced by torchrun's restart count.

    After a worker dies, torchrun restarts the group against the same store. Without a fresh namespace
    the new workers read the dead round's addresses and time out connecting to them.
    """
    from datetime import timedelta

    agent_hosts_store = os.environ.get("TORCHELASTIC_USE_AGENT_STORE", "False") == "True"
    store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]),
                          int(os.environ["WORLD_SIZE"]),
                          is_master=int(os.environ["RANK"]) == 0 and not agent_hosts_store,
                          timeout=timedelta(minutes=5))
    return dist.PrefixStore(f"hpcast/attempt-{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}", store)


def in_worker() -> bool:
    """True inside a torchrun worker (the launcher sets these variables)."""
    return all(name in os.environ for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))


@dataclass
class Distributed:
    """This worker's place in the group and the strategy's hooks; see the module docstring."""

    rank: int
    world_size: int
    strategy: Strategy = "ddp"
    sync_every: int = 8
    rounds: list[Any] = field(default_factory=list)  # store-avg: one `RoundReport` per sync
    _averager: Any = field(default=None, repr=False)
    _averaging_group: Any = field(default=None, repr=False)

    @classmethod
    def from_env(cls, strategy: Strategy = "ddp", sync_every: int | None = None, sync_url: str | None = None,
                 sync_timeout: float = 120.0) -> Distributed:
        """Join the group torchrun prepared (gloo on CPU, NCCL with a GPU); store-avg joins no group."""
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy ({strategy!r}) must be one of {', '.join(STRATEGIES)}")
        sync_every = sync_every or DEFAULT_SYNC_EVERY[strategy]
        if sync_every < 1:
            raise ValueError(f"sync_every ({sync_every}) must be >= 1")
        if strategy == "store-avg":
            if not sync_url:
                raise ValueError("strategy 'store-avg' needs --sync-url (file:///shared/dir or s3://bucket/prefix)")
            from hpcast.train.averaging import StoreAverager

            rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
            run_id = os.environ.get("TORCHELASTIC_RUN_ID", "run")
            return cls(rank, world_size, strategy, sync_every,
                       _averager=StoreAverager(sync_url, run_id, rank, world_size, sync_timeout))
        if not dist.is_initialized():
            rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo", store=_attempt_store(),
                                    rank=rank, world_size=world_size)
        context = cls(dist.get_rank(), dist.get_world_size(), strategy, sync_every)
        if strategy == "local-sgd":
            from torch.distributed.algorithms.model_averaging.averagers import PeriodicModelAverager

            # On CPU the default subgroup logic wants CUDA, so make one subgroup of all workers explicitly.
            context._averaging_group, _ = dist.new_subgroups(group_size=context.world_size)
            context._averager = PeriodicModelAverager(period=sync_every, warmup_steps=0,
                                                      process_group=context._averaging_group)
        return context

    @classmethod
    def single(cls) -> Distributed:
        """One process on its own: rank 0 of 1, every hook a no-op.

        Example:
            >>> Distributed.single().shard(torch.arange(3))
            (tensor([0, 1, 2]), 1.0)
        """
        return cls(0, 1, "single")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, index: torch.Tensor) -> tuple[torch.Tensor, float]:
        """This worker's slice of a global batch, and the factor that makes DDP's average exact.

        Slices are contiguous and as even as possible. DDP averages gradients over workers; scaling each
        worker's mean loss by ``N · local / global`` turns that average into the mean over the whole batch.
        One process trains on the whole batch, unscaled.
        """
        if self.strategy == "single":
            return index, 1.0
        bounds = torch.linspace(0, index.shape[0], self.world_size + 1).round().long()
        local = index[bounds[self.rank]:bounds[self.rank + 1]]
        scale = self.world_size * local.shape[0] / index.shape[0] if self.strategy == "ddp" else 1.0
        return local, scale

    def wrap(self, model: nn.Module) -> nn.Module:
        if self.strategy != "ddp":
            return model
        from torch.nn.parallel import DistributedDataParallel

        device = next(model.parameters()).device
        return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    @property
    def early_stopping(self) -> bool:
        """Whether the trainer may stop on patience and restore the best-validation epoch (not store-avg)."""
        return self.strategy != "store-avg"

    def reseed_after_resume(self, seed: int, first_epoch: int) -> None:
        """Give each worker its own dropout stream again after a resume: the checkpoint holds rank 0's RNG
        state. One process keeps the state the checkpoint restored, which continues the interrupted run."""
        if self.strategy != "single":
            torch.manual_seed(seed + self.rank + 7919 * first_epoch)

    def after_step(self, model: nn.Module) -> float:
        """local-sgd: the periodic averager's turn. Returns the seconds spent (0 when there was nothing to do)."""
        if self.strategy != "local-sgd":
            return 0.0
        started = time.perf_counter()
        self._averager.average_parameters(model.parameters())
        return time.perf_counter() - started

    def end_of_epoch(self, model: nn.Module, epoch: int, samples: int, last: bool = False) -> float:
        """local-sgd: average once more, so every worker validates (and checkpoints) the same model;
        store-avg: every ``sync_every`` epochs and after the ``last`` one, a round through the store (round
        ``ceil(epoch / sync_every)``). Returns the seconds spent."""
        started = time.perf_counter()
        if self.strategy == "local-sgd":
            with torch.no_grad():
                for parameter in model.parameters():
                    dist.all_reduce(parameter.data, group=self._averaging_group)
                    parameter.data /= self.world_size
        elif self.strategy == "store-avg" and (epoch % self.sync_every == 0 or last):
            self.rounds.append(self._averager.sync(model, -(-epoch // self.sync_every), samples))
        else:
            return 0.0
        return time.perf_counter() - started

    def all_reduce_sum(self, value: torch.Tensor) -> torch.Tensor:
        """Sum over workers (one process, and store-avg workers, which share nothing: their own value)."""
        if self.strategy in ("single", "store-avg"):
            return value
        total = value.clone()
        dist.all_reduce(total)
        return total

    def close(self) -> None:
        if self.strategy != "single" and dist.is_initialized():  # one process never joined a group
            dist.destroy_process_group()


def torchrun_command(workers: int, argv: list[str], max_restarts: int = 0) -> list[str]:
    """The standalone torchrun command that runs ``hpcast <argv>`` in ``workers`` processes on this machine."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={workers}",
            f"--max-restarts={max_restarts}", "-m", "hpcast", *argv]
