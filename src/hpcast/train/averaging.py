"""Checkpoint averaging through an object store, for workers that cannot reach each other.

Every ``sync_every`` epochs each worker publishes its weights as one safetensors object under
``<url>/<run id>/round-<r>/rank-<k>.safetensors``, waits up to a timeout for the round's other objects,
and loads the average of those it could read, weighted by the samples each worker has seen. Rules:

- **atomic**: an object is written under a temporary name and moved to its final name, so a reader
  sees all of it or nothing (a rename on local disks; on S3 the final key appears whole);
- **never pickled**: weights travel as safetensors, with rank, round and sample count in its metadata;
- **forgiving**: a missing, late, corrupt or mismatched checkpoint is skipped with a warning, and the
  average uses the rest (this worker's own weights always count);
- **credentials** come only from the environment / the standard AWS chain (through fsspec and s3fs).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field

import torch
from safetensors.torch import load, save
from torch import nn

__all__ = ["RoundReport", "StoreAverager"]

log = logging.getLogger(__name__)


@dataclass
class RoundReport:
    round: int
    used: list[int]
    skipped: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0


class StoreAverager:
    """One worker's end of the exchange. ``url`` is any fsspec URL (``file:///...``, ``s3://bucket/prefix``)."""

    def __init__(self, url: str, run_id: str, rank: int, world_size: int, timeout: float = 120.0,
                 poll: float = 0.2) -> None:
        import fsspec

        self.fs, root = fsspec.core.url_to_fs(url)
        self.base = f"{root.rstrip('/')}/{run_id}"
        self.rank, self.world_size, self.timeout, self.poll = rank, world_size, timeout, poll

    def _key(self, round_index: int, rank: int) -> str:
        return f"{self.base}/round-{round_index:05d}/rank-{rank:04d}.safetensors"

    def publish(self, model: nn.Module, round_index: int, samples: int) -> None:
        state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
        blob = save(state, metadata={"rank": str(self.rank), "round": str(round_index), "samples": str(samples)})
        final = self._key(round_index, self.rank)
        partial = f"{final.rsplit('/', 1)[0]}/.rank-{self.rank:04d}-{uuid.uuid4().hex}.tmp"
        self.fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
        self.fs.pipe_file(partial, blob)
        self.fs.mv(partial, final)

    def _wait(self, round_index: int) -> set[int]:
        folder = self._key(round_index, 0).rsplit("/", 1)[0]
        deadline = time.monotonic() + self.timeout
        while True:
            self.fs.invalidate_cache()
            names = {path.rsplit("/", 1)[-1] for path in self.fs.ls(folder, detail=False)}
            present = {k for k in range(self.world_size) if f"rank-{k:04d}.safetensors" in names}
            if len(present) == self.world_size or time.monotonic() >= deadline:
                return present
            time.sleep(self.poll)

    def sync(self, model: nn.Module, round_index: int, samples: int) -> RoundReport:
        """Publish, wait, and load the weighted average of every readable checkpoint of this round."""
        started = time.monotonic()
        self.publish(model, round_index, samples)
        present = self._wait(round_index)
        own = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
        report = RoundReport(round_index, used=[])
        total = {name: torch.zeros_like(tensor, dtype=torch.float64) for name, tensor in own.items()}
        weight_sum = 0.0
        for rank in range(self.world_size):
            if rank not in present:
                report.skipped[rank] = f"no checkpoint within {self.timeout:g} s"
                continue
            try:
                if rank == self.rank:
                    tensors, weight = own, float(samples)
                else:
                    blob = self.fs.cat_file(self._key(round_index, rank))
                    tensors, weight = load(blob), _samples(blob)
                    if tensors.keys() != own.keys() or any(tensors[k].shape != own[k].shape for k in own):
                        raise ValueError("tensors do not match this model")
            except Exception as error:  # any unreadable checkpoint is skipped, as documented
                report.skipped[rank] = f"unreadable ({type(error).__name__}: {error})"
                continue
            for name in total:
                total[name] += tensors[name].double() * weight
            weight_sum += weight
            report.used.append(rank)
        for rank, reason in report.skipped.items():
            log.warning("round %d: skipped the checkpoint of worker %d: %s", round_index, rank, reason)
        if weight_sum > 0:
            device = next(model.parameters()).device
            model.load_state_dict({name: (value / weight_sum).to(own[name].dtype).to(device)
                                   for name, value in total.items()})
        report.seconds = time.monotonic() - started
        return report


def _samples(blob: bytes) -> float:
    """The sample count in a safetensors header's metadata (the header is JSON after an 8-byte length)."""
    import json

    length = int.from_bytes(blob[:8], "little")
    return float(json.loads(blob[8:8 + length])["__metadata__"]["samples"])
