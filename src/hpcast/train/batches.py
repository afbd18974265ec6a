"""Where the trainer's batches come from: tensors already in memory, or a Dataset read through a DataLoader.

`TensorBatches` gathers each batch from window views on the training device: no copies, no workers, the
fast path for anything that fits in memory. `LoaderBatches` reads samples from any map-style Dataset (the
memory-mapped spectrogram files) with DataLoader workers, pinned memory and read-ahead. Both follow the
order the trainer draws from its seeded generator (`Batches.epoch_order`: a permutation, unless a source
samples otherwise), so the same seed gives the same batches whatever the number of workers; the trainer
times how long it waits for each batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from hpcast.config import TrainConfig
from hpcast.train.distributed import Distributed

__all__ = ["Batches", "LoaderBatches", "TensorBatches", "as_batches"]

Batch = tuple[torch.Tensor, torch.Tensor, float]  # inputs, targets, loss scale (multi-worker shards)


class Batches:
    """The interface the trainer uses: a sample count, the device, each epoch's order, and batches in it."""

    device: torch.device
    window: int = 0  # T, the steps of a sample's input (0: not a sequence)
    target_ndim: int = 2  # 3: a target per step, ``(N, T, h)``

    def __len__(self) -> int:
        raise NotImplementedError

    def epoch_order(self, generator: torch.Generator) -> torch.Tensor:
        """The sample indices of one training epoch, drawn from the trainer's seeded ``generator`` (the same
        on every worker): every sample once, shuffled. A source that samples (e.g. windows weighted per
        series) overrides this; the order may then repeat or leave out samples."""
        return torch.randperm(len(self), generator=generator)

    def batches(self, order: torch.Tensor, batch_size: int, dist: Distributed) -> Iterator[Batch]:
        """``order`` in batches of ``batch_size``, each cut to this worker's slice (``dist.shard``)."""
        raise NotImplementedError

    def in_order(self, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Every sample once, in stored order (validation)."""
        for inputs, targets, _ in self.batches(torch.arange(len(self)), batch_size, Distributed.single()):
            yield inputs, targets


class TensorBatches(Batches):
    """``X (N, ...)`` and ``Y (N, ...)`` tensors (possibly strided views), gathered per batch."""

    def __init__(self, X: torch.Tensor, Y: torch.Tensor) -> None:
        if X.shape[0] != Y.shape[0]:
            raise ValueError(f"X ({tuple(X.shape)}) and Y ({tuple(Y.shape)}) must hold the same number of samples")
        self.X, self.Y = X, Y
        self.device = X.device
        self.window = int(X.shape[1]) if X.ndim == 3 else 0
        self.target_ndim = Y.ndim

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def batches(self, order: torch.Tensor, batch_size: int, dist: Distributed) -> Iterator[Batch]:
        for start in range(0, len(order), batch_size):
            index = order[start:start + batch_size]
            if index.shape[0] < dist.world_size:
                continue  # a last batch too small to give every worker a window (the same on all workers)
            index, scale = dist.shard(index)
            yield self.X[index], self.Y[index], scale

    def in_order(self, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for start in range(0, len(self), batch_size):
            yield self.X[start:start + batch_size], self.Y[start:start + batch_size]


class _OrderedBatches:
    """A batch sampler that serves whatever order the trainer set for the current epoch."""

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self.order: list[int] = []

    def __iter__(self) -> Iterator[list[int]]:
        for start in range(0, len(self.order), self.batch_size):
            yield self.order[start:start + self.batch_size]

    def __len__(self) -> int:
        return -(-len(self.order) // self.batch_size)


class LoaderBatches(Batches):
    """A map-style ``dataset`` of ``(input, target)`` samples read by a DataLoader with ``config``'s settings."""

    def __init__(self, dataset: Dataset, config: TrainConfig, device: torch.device | str = "cpu") -> None:
        self.dataset = dataset
        self.device = torch.device(device)
        self.config = config
        self._loaders: dict[int, tuple[DataLoader, _OrderedBatches]] = {}

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def _loader(self, batch_size: int) -> tuple[DataLoader, _OrderedBatches]:
        if batch_size not in self._loaders:  # one per batch size, so persistent workers really persist
            sampler = _OrderedBatches(batch_size)
            options: dict[str, Any] = {"num_workers": self.config.loader_workers,
                                       "pin_memory": self.config.pin_memory and self.device.type == "cuda"}
            if self.config.loader_workers > 0:
                options.update(prefetch_factor=self.config.prefetch,
                               persistent_workers=self.config.persistent_workers)
            self._loaders[batch_size] = (DataLoader(self.dataset, batch_sampler=sampler, **options), sampler)
        return self._loaders[batch_size]

    def batches(self, order: torch.Tensor, batch_size: int, dist: Distributed) -> Iterator[Batch]:
        if dist.world_size > 1:
            raise ValueError(f"samples read from disk train in one process, got world_size {dist.world_size} "
                             "(several workers need in-memory data)")
        loader, sampler = self._loader(batch_size)
        sampler.order = order.tolist()
        asynchronous = self.config.pin_memory and self.device.type == "cuda"  # pinned pages copy asynchronously
        for inputs, targets in loader:
            yield (inputs.to(self.device, non_blocking=asynchronous),
                   targets.to(self.device, non_blocking=asynchronous), 1.0)


def as_batches(data: Batches | tuple[torch.Tensor, torch.Tensor]) -> Batches:
    return data if isinstance(data, Batches) else TensorBatches(*data)
